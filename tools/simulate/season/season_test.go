package season_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/season"
)

const shippedPolicy = "../../../deploy/config/kesu.yaml"

func loadPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load(shippedPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func generate(t testing.TB, cfg season.Config) *season.Season {
	t.Helper()
	if cfg.Policy == nil {
		cfg.Policy = loadPolicy(t)
	}
	s, err := season.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// digest summarises everything a run would send.
func digest(t testing.TB, s *season.Season) string {
	t.Helper()
	h := sha256.New()
	for _, c := range s.Contacts {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.FileRequest())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d|%s|%d|%d|%s|%s|%s|%v|", c.Seq, c.At.UTC().Format(time.RFC3339Nano), c.Dispute, c.Number,
			c.Via, c.Source, c.Category, c.Signals)
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestSameSeedSameSeason(t *testing.T) {
	p := loadPolicy(t)
	a := generate(t, season.Config{Policy: p, Seed: 7, Complaints: 800})
	b := generate(t, season.Config{Policy: p, Seed: 7, Complaints: 800})
	c := generate(t, season.Config{Policy: p, Seed: 8, Complaints: 800})
	if da, db := digest(t, a), digest(t, b); da != db {
		t.Fatalf("same seed, different seasons: %s vs %s", da, db)
	}
	if digest(t, a) == digest(t, c) {
		t.Fatal("seeds 7 and 8 gave the same season")
	}
	if a.Disputes != 800 {
		t.Errorf("disputes = %d, want 800", a.Disputes)
	}
}

func TestShapePeaksInBattleAndOnMarch15(t *testing.T) {
	p := loadPolicy(t)
	s := generate(t, season.Config{Policy: p, Seed: 1, Complaints: 4000})
	loc, _ := time.LoadLocation("Asia/Shanghai")
	perDay := map[string]int{}
	perPhase := map[policy.Phase]int{}
	for _, c := range s.Contacts {
		if c.ShopID != "demo-flagship" {
			continue
		}
		perDay[c.At.In(loc).Format("01-02")]++
		perPhase[c.Phase]++
		if !s.Start.After(c.At) && !c.At.Before(s.End) {
			t.Fatalf("contact %d at %s outside the season [%s, %s)", c.Seq, c.At, s.Start, s.End)
		}
	}
	peak, peakN := "", 0
	for d, n := range perDay {
		if n > peakN || (n == peakN && d < peak) {
			peak, peakN = d, n
		}
	}
	if peak != "03-15" {
		t.Errorf("busiest day %s (%d contacts), want 03-15; per day %v", peak, peakN, perDay)
	}
	// Per day: the flagship's phases are 14, 10 and 21 days long.
	prep, battle, after := float64(perPhase[policy.PhasePreparation])/14, float64(perPhase[policy.PhaseBattle])/10, float64(perPhase[policy.PhaseAftermath])/21
	if battle <= prep || battle <= after {
		t.Errorf("per day: preparation %.1f, battle %.1f, aftermath %.1f; battle must be highest", prep, battle, after)
	}
	if perDay["04-10"] >= perDay["03-21"] {
		t.Errorf("aftermath does not decay: 03-21 %d, 04-10 %d", perDay["03-21"], perDay["04-10"])
	}
	var total int
	for _, ph := range s.Phases {
		total += ph.Contacts
	}
	if total != len(s.Contacts) {
		t.Errorf("phase counts sum to %d, want %d", total, len(s.Contacts))
	}
}

// The classifier must file each text where the simulator meant it: the
// category (on the first contact and on the whole dispute's texts), the
// threats, and the public-figure flags; in both scripts.
func TestTextsClassifyAsIntended(t *testing.T) {
	p := loadPolicy(t)
	s := generate(t, season.Config{Policy: p, Seed: 3, Complaints: 2500})
	m := p.Matcher()
	scripts := map[season.Script]int{}
	cats := map[string]int{}
	texts := map[int][]string{}
	intended := map[int]string{}
	for _, c := range s.Contacts {
		texts[c.Dispute] = append(texts[c.Dispute], c.Text)
		if c.Number != 1 {
			continue
		}
		intended[c.Dispute] = c.Category
		scripts[c.Customer.Script]++
		cats[c.Category]++
		r := m.Match(c.Text)
		got, ok := r.Category()
		if !ok {
			got = p.DefaultCategory
		}
		if got != c.Category {
			t.Errorf("%s text %q: category %s, want %s (%+v)", c.Customer.Script, c.Text, got, c.Category, r.Categories)
		}
		var public []string
		for _, id := range r.SignalIDs() {
			if sig, _ := p.Signal(id); sig.Public {
				public = append(public, id)
			}
		}
		if !slices.Equal(public, c.Signals) {
			t.Errorf("text %q: public signals %v, want %v", c.Text, public, c.Signals)
		}
		flags := r.FlagIDs()
		cp := c.Complainant
		for flag, want := range map[string]bool{"media": cp.GetMedia(), "official": cp.GetOfficial(), "celebrity": cp.GetCelebrity()} {
			if slices.Contains(flags, flag) != want {
				t.Errorf("text %q: flag %s matched %v, want %v", c.Text, flag, !want, want)
			}
		}
	}
	for d, ts := range texts {
		r := m.Match(strings.Join(ts, "\n"))
		got, ok := r.Category()
		if !ok {
			got = p.DefaultCategory
		}
		if got != intended[d] {
			t.Errorf("dispute %d texts %q: category %s, want %s", d, ts, got, intended[d])
		}
	}
	if scripts[season.Simplified] == 0 || scripts[season.Traditional] == 0 {
		t.Errorf("scripts %v: want both", scripts)
	}
	for _, cat := range season.Categories() {
		if cats[cat] == 0 {
			t.Errorf("no complaint of category %s in %d", cat, s.Disputes)
		}
	}
}

func TestRepeatContactsShareCustomerAndOrder(t *testing.T) {
	s := generate(t, season.Config{Seed: 5, Complaints: 2000})
	first := map[int]season.Contact{}
	last := map[int]season.Contact{}
	var repeats, crossChannel, inbound, public, vip int
	seen := map[string]bool{}
	for _, c := range s.Contacts {
		if seen[c.RequestID] {
			t.Fatalf("request id %s used twice", c.RequestID)
		}
		seen[c.RequestID] = true
		if c.Via == season.ViaInbound {
			inbound++
			if c.Source == "" || c.ExternalID == "" {
				t.Errorf("inbound contact %d without source or external id", c.Seq)
			}
		}
		if c.Public() {
			public++
		}
		if c.Complainant.GetVip() {
			vip++
		}
		if c.Number == 1 {
			first[c.Dispute] = c
			last[c.Dispute] = c
			continue
		}
		repeats++
		f, ok := first[c.Dispute]
		if !ok {
			t.Fatalf("repeat contact %d of dispute %d comes before its first contact", c.Seq, c.Dispute)
		}
		if c.Customer.Ref != f.Customer.Ref || c.OrderID != f.OrderID || c.ShopID != f.ShopID {
			t.Errorf("dispute %d: repeat (%s, %s, %s) differs from first (%s, %s, %s)", c.Dispute,
				c.ShopID, c.Customer.Ref, c.OrderID, f.ShopID, f.Customer.Ref, f.OrderID)
		}
		if l := last[c.Dispute]; c.Number != l.Number+1 || c.At.Before(l.At) {
			t.Errorf("dispute %d: contact %d at %s after contact %d at %s", c.Dispute, c.Number, c.At, l.Number, l.At)
		}
		if c.Channel != f.Channel {
			crossChannel++
		}
		last[c.Dispute] = c
	}
	if len(first) != s.Disputes {
		t.Errorf("%d disputes have a first contact, want %d", len(first), s.Disputes)
	}
	// A customer's other orders are other disputes.
	orders := map[string]string{}
	var multi int
	for d, c := range first {
		k := c.ShopID + "|" + c.Customer.Ref + "|" + c.OrderID
		if o, dup := orders[k]; dup {
			t.Errorf("disputes %s and %d share shop, customer and order", o, d)
		}
		orders[k] = fmt.Sprint(d)
	}
	refs := map[string]int{}
	for _, c := range first {
		refs[c.Customer.Ref]++
	}
	for _, n := range refs {
		if n > 1 {
			multi++
		}
	}
	t.Logf("%d contacts, %d disputes, %d repeats (%d on another channel), %d inbound, %d public, %d VIP, %d customers with several orders",
		len(s.Contacts), s.Disputes, repeats, crossChannel, inbound, public, vip, multi)
	if repeats == 0 || crossChannel == 0 || inbound == 0 || public == 0 || vip == 0 || multi == 0 {
		t.Error("the season lacks repeats, cross-channel repeats, inbound contacts, public signals, VIPs or multi-order customers")
	}
	var media, official, celebrity int
	for _, c := range first {
		media += b2i(c.Complainant.GetMedia())
		official += b2i(c.Complainant.GetOfficial())
		celebrity += b2i(c.Complainant.GetCelebrity())
	}
	if media+official+celebrity == 0 || media+official+celebrity > s.Disputes/50 {
		t.Errorf("public figures: %d media, %d official, %d celebrity in %d; want a few", media, official, celebrity, s.Disputes)
	}
}

func TestRequestsCarryTheContact(t *testing.T) {
	s := generate(t, season.Config{Seed: 9, Complaints: 200})
	for _, c := range s.Contacts {
		r := c.FileRequest()
		if r.GetCustomer().GetCustomerRef() != c.Customer.Ref || r.GetOrderId() != c.OrderID || r.GetDescription() != c.Text ||
			!r.GetOccurredAt().AsTime().Equal(c.At) || r.GetChannel() == complaintv1.Channel_CHANNEL_UNSPECIFIED {
			t.Fatalf("FileRequest of %d does not carry the contact: %v", c.Seq, r)
		}
		if c.Via == season.ViaInbound {
			m := c.InboundMessage()
			if m.GetSource() != c.Source || !strings.HasSuffix(c.InboundSubject(), "."+c.Source) || m.GetExternalId() != c.ExternalID {
				t.Fatalf("inbound message of %d: %v", c.Seq, m)
			}
		}
	}
}

func TestBadConfig(t *testing.T) {
	p := loadPolicy(t)
	for name, cfg := range map[string]season.Config{
		"no policy":    {},
		"unknown shop": {Policy: p, Shops: []season.ShopShare{{"nope", 1}}},
		"no season":    {Policy: p, Year: 1999},
		"negative":     {Policy: p, Complaints: -3},
	} {
		if _, err := season.Generate(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
