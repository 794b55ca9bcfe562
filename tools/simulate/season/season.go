// Package season generates a 315 season of complaints, deterministically: the
// same policy, configuration and seed give the same contacts, byte for byte.
// It does no I/O; the driver (tools/simulate/drive) files what it generates.
//
// The shape follows the domain (docs/simulate.md): volume rises through
// preparation, peaks in battle and on March 15 itself, and decays in the
// aftermath; channels and categories are mixed as a large merchant sees them;
// texts are simplified or traditional Chinese that the policy's classifier
// files under the intended category; some customers come back about the same
// order on another channel (one dispute), some threaten 12315 or exposure, a
// few are journalists, officials or influencers.
package season

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Via is the path a contact takes into Kesu.
type Via int

// Paths into Kesu.
const (
	// ViaGRPC is intake's FileComplaint RPC (an agent or a connector calling it).
	ViaGRPC Via = iota
	// ViaInbound is a message on inbound.complaints.<source> (docs/inbound.md).
	ViaInbound
)

func (v Via) String() string {
	if v == ViaInbound {
		return "inbound"
	}
	return "grpc"
}

// Config says what season to generate. Zero values take the defaults.
type Config struct {
	// Policy supplies shops, seasons, phases, channels and categories; required.
	Policy *policy.Policy
	// Year of the season; default 2026.
	Year int
	// Complaints is the number of disputes (complaints, if intake folds every
	// repeat contact); default 3000. Contacts are more: repeats come on top.
	Complaints int
	// Seed makes the season; the same seed gives the same season.
	Seed uint64
	// Shops and their share of the complaints; default 90% demo-flagship
	// and 10% demo-outlet (on the outlet's own short season), or the policy's
	// shops in equal shares when those two are not configured.
	Shops []ShopShare
	// RepeatShare is the share of disputes with further contacts; default 0.15.
	RepeatShare float64
	// InboundShare is the share of contacts, among channels another system
	// reports, that arrive on INBOUND instead of gRPC; default 0.35.
	InboundShare float64
	// TraditionalShare is the share of customers writing traditional Chinese;
	// default 0.25.
	TraditionalShare float64
	// VIPShare is the share of VIP customers; default 0.06.
	VIPShare float64
	// RunID prefixes every idempotency key, so two runs with the same seed
	// against one stack file twice; default "s<seed>" (a rerun files nothing new).
	RunID string
}

// ShopShare is a shop and its share of the complaints.
type ShopShare struct {
	ShopID string
	Share  float64
}

// Phase is one phase of the generated season.
type Phase struct {
	Phase      policy.Phase
	Start, End time.Time // [Start, End), in the first shop's time zone
	// Contacts is how many contacts fall in [Start, End), whatever their
	// shop's own calendar says (Contact.Phase): this is the season's clock.
	Contacts int
}

// Season is a generated season.
type Season struct {
	Year int
	// Start and End bound every contact: [Start, End).
	Start, End time.Time
	Phases     []Phase
	// Contacts, in the order they happen (At, then Seq).
	Contacts []Contact
	// Disputes is the number of distinct (shop, customer, order) disputes.
	Disputes int
}

// Customer is who complains.
type Customer struct {
	Ref, Name, Phone, Email string
	Script                  Script
	Type                    complaintv1.CustomerType
	VIP                     bool
}

// Contact is one time a customer reaches the merchant.
type Contact struct {
	// Seq numbers contacts in the order they were generated (stable ids).
	Seq int
	At  time.Time
	// Phase is the shop's phase at At.
	Phase  policy.Phase
	ShopID string
	// Dispute numbers the (shop, customer, order) dispute; contacts with the
	// same Dispute must end up on one complaint.
	Dispute int
	// Number is 1 for the first contact of a dispute, 2, 3… for repeats.
	Number int
	Via    Via
	// Source is the publishing system of an inbound contact (subject token).
	Source string
	// ExternalID is the contact's id in its source system (unique per source).
	ExternalID string
	// RequestID is the FileComplaint idempotency key.
	RequestID string
	Channel   complaintv1.Channel
	Customer  Customer
	OrderID   string
	Items     []*complaintv1.Item
	// Amounts in fen.
	OrderAmountFen, ClaimedAmountFen int64
	Text                             string
	// Category is the category the text is written for.
	Category string
	// Signals are the risk signals the text is written to raise.
	Signals          []string
	Complainant      *complaintv1.Complainant
	DeclaredType     complaintv1.CustomerType
	ExpectedRemedies []complaintv1.RemedyKind
	ChannelDetails   *complaintv1.ChannelDetails
}

// Public reports whether the contact threatens to go public or comes from a
// media, official or celebrity complainant.
func (c Contact) Public() bool {
	cp := c.Complainant
	return len(c.Signals) > 0 || cp.GetMedia() || cp.GetOfficial() || cp.GetCelebrity()
}

// PhaseIndex is the index in Phases of the phase instant t falls in (the
// first or last phase for an instant before or after the season).
func (s *Season) PhaseIndex(t time.Time) int {
	for i, ph := range s.Phases {
		if t.Before(ph.End) {
			return i
		}
	}
	return len(s.Phases) - 1
}

// Generate builds the season.
func Generate(cfg Config) (*Season, error) {
	if cfg.Policy == nil {
		return nil, errors.New("season: Config.Policy is required")
	}
	cfg = withDefaults(cfg)
	if cfg.Complaints < 1 {
		return nil, fmt.Errorf("season: Complaints %d: must be at least 1", cfg.Complaints)
	}
	g := &generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x315315315))}
	return g.run()
}

func withDefaults(c Config) Config {
	if c.Year == 0 {
		c.Year = 2026
	}
	if c.Complaints == 0 {
		c.Complaints = 3000
	}
	if len(c.Shops) == 0 {
		_, a := c.Policy.Shop("demo-flagship")
		_, b := c.Policy.Shop("demo-outlet")
		if a && b {
			c.Shops = []ShopShare{{"demo-flagship", 0.9}, {"demo-outlet", 0.1}}
		} else {
			for _, s := range c.Policy.Shops {
				c.Shops = append(c.Shops, ShopShare{s.ID, 1})
			}
		}
	}
	if c.RepeatShare == 0 {
		c.RepeatShare = 0.15
	}
	if c.InboundShare == 0 {
		c.InboundShare = 0.35
	}
	if c.TraditionalShare == 0 {
		c.TraditionalShare = 0.25
	}
	if c.VIPShare == 0 {
		c.VIPShare = 0.06
	}
	if c.RunID == "" {
		c.RunID = "s" + strconv.FormatUint(c.Seed, 10)
	}
	return c
}

type generator struct {
	cfg Config
	rng *rand.Rand
	seq int
}

// shopSeason is one shop's season resolved to instants.
type shopSeason struct {
	shop   policy.Shop
	season policy.Season
	days   []policy.Date
	weight []float64
}

func (g *generator) run() (*Season, error) {
	p := g.cfg.Policy
	var shops []shopSeason
	for _, ss := range g.cfg.Shops {
		sh, ok := p.Shop(ss.ShopID)
		if !ok {
			return nil, fmt.Errorf("season: shop %q is not in the policy", ss.ShopID)
		}
		s, ok, err := p.SeasonFor(ss.ShopID, g.cfg.Year)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("season: shop %q has no season in %d", ss.ShopID, g.cfg.Year)
		}
		sc := shopSeason{shop: sh, season: s}
		for d := s.Start; !d.After(s.End); d = d.AddDays(1) {
			sc.days = append(sc.days, d)
			sc.weight = append(sc.weight, dayWeight(s, d))
		}
		shops = append(shops, sc)
	}
	shares := make([]float64, len(shops))
	for i, ss := range g.cfg.Shops {
		shares[i] = ss.Share
	}
	perShop := apportion(g.cfg.Complaints, shares)

	out := &Season{Year: g.cfg.Year}
	dispute := 0
	var custs []Customer
	for si, sc := range shops {
		perDay := apportion(perShop[si], sc.weight)
		for di, n := range perDay {
			for range n {
				// One customer in twenty comes back with another order:
				// a second dispute, which must NOT fold into the first.
				var cust Customer
				if len(custs) > 0 && g.rng.Float64() < 0.05 {
					cust = custs[g.rng.IntN(len(custs))]
				} else {
					cust = g.customer(len(custs))
					custs = append(custs, cust)
				}
				at := g.instant(sc, sc.days[di])
				out.Contacts = append(out.Contacts, g.dispute(sc, dispute, cust, at)...)
				dispute++
			}
		}
	}
	out.Disputes = dispute

	// The season's bounds and phases are those of the first shop; contacts
	// of the others fall inside them (a shop's own season is shorter).
	first := shops[0]
	loc := first.shop.Location
	out.Start, out.End = first.season.Interval(loc)
	for _, sc := range shops[1:] {
		s, e := sc.season.Interval(sc.shop.Location)
		out.Start, out.End = minTime(out.Start, s), maxTime(out.End, e)
	}
	for _, r := range first.season.Phases {
		s, e := r.Interval(loc)
		out.Phases = append(out.Phases, Phase{Phase: r.Phase, Start: s, End: e})
	}
	for i := range out.Contacts {
		c := &out.Contacts[i]
		ph, err := p.PhaseAt(c.ShopID, c.At)
		if err != nil {
			return nil, err
		}
		c.Phase = ph
		out.Phases[out.PhaseIndex(c.At)].Contacts++
	}
	slices.SortStableFunc(out.Contacts, func(a, b Contact) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq))
	})
	return out, nil
}

// dayWeight is the relative volume of a day: rising through preparation,
// high in battle with March 15 the peak, decaying through the aftermath.
func dayWeight(s policy.Season, d policy.Date) float64 {
	ph := s.PhaseOn(d)
	var r policy.PhaseRange
	for _, x := range s.Phases {
		if x.Phase == ph {
			r = x
		}
	}
	pos := 0.0
	if n := daysBetween(r.Start, r.End); n > 0 {
		pos = float64(daysBetween(r.Start, d)) / float64(n)
	}
	w := 1.0
	switch ph {
	case policy.PhasePreparation:
		w = 1 + 0.8*pos
	case policy.PhaseBattle:
		w = 3.2
		// The gala on the evening of the 15th sends people to complain that
		// day and the next: a sharp peak, a high shoulder after it.
		switch dist := daysBetween(policy.Date{Year: d.Year, Month: time.March, Day: 15}, d); {
		case dist == 0:
			w = 7
		case dist == 1:
			w = 4.6
		case dist == -1:
			w = 4.2
		}
	case policy.PhaseAftermath:
		w = 2.4 * math.Exp(-3*pos)
		w = max(w, 0.5)
	}
	// Weekends are a little quieter for a merchant's channels.
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		w *= 0.85
	}
	return w
}

func daysBetween(a, b policy.Date) int {
	return int(b.In(time.UTC).Sub(a.In(time.UTC)).Hours() / 24)
}

// hourWeights is when in the day people complain (shop time): a morning
// wave, a lunch dip, an evening peak after work.
var hourWeights = [24]float64{
	0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.5, 2.2, 2.6, 2.5,
	1.8, 1.9, 2.2, 2.1, 2.0, 1.9, 1.8, 2.2, 2.8, 3.0, 2.4, 1.2,
}

func (g *generator) instant(sc shopSeason, d policy.Date) time.Time {
	h := pick(g.rng, hourWeights[:])
	sec := g.rng.IntN(3600)
	return d.In(sc.shop.Location).Add(time.Duration(h)*time.Hour + time.Duration(sec)*time.Second)
}

// apportion splits n in proportion to weights (largest remainder), exactly.
func apportion(n int, weights []float64) []int {
	out := make([]int, len(weights))
	total := 0.0
	for _, w := range weights {
		total += w
	}
	if total <= 0 || n <= 0 {
		return out
	}
	type rem struct {
		i int
		r float64
	}
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(n) * w / total
		out[i] = int(exact)
		given += out[i]
		rems[i] = rem{i, exact - float64(out[i])}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for k := 0; given < n; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	return out
}

// pick draws an index with probability proportional to its weight.
func pick(rng *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := rng.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

type weighted[T any] struct {
	v T
	w float64
}

func pickW[T any](rng *rand.Rand, xs []weighted[T]) T {
	ws := make([]float64, len(xs))
	for i, x := range xs {
		ws[i] = x.w
	}
	return xs[pick(rng, ws)].v
}

// channelMix is where a large merchant's complaints come from.
var channelMix = []weighted[complaintv1.Channel]{
	{complaintv1.Channel_CHANNEL_ONLINE_CHAT, 40},
	{complaintv1.Channel_CHANNEL_HOTLINE_400, 15},
	{complaintv1.Channel_CHANNEL_EMAIL, 5},
	{complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION, 8},
	{complaintv1.Channel_CHANNEL_ODR_12315, 6},
	{complaintv1.Channel_CHANNEL_CONSUMER_ASSOCIATION, 3},
	{complaintv1.Channel_CHANNEL_WEIBO, 6},
	{complaintv1.Channel_CHANNEL_HEIMAO, 5},
	{complaintv1.Channel_CHANNEL_IN_STORE, 10},
	{complaintv1.Channel_CHANNEL_OTHER, 2},
}

// categoryMix: after-sales problems are about 60% (seed 004).
var categoryMix = []weighted[string]{
	{"quality", 20}, {"logistics_wrong_item", 18}, {"after_sales_refusal", 14},
	{"price_size_error", 10}, {"promotion_rules", 9}, {"expired_goods", 6},
	{"false_advertising", 6}, {"counterfeit", 5}, {"service_attitude", 8},
	{"privacy", 2}, {"other", 2},
}

// Categories lists the categories the simulator writes, in a fixed order.
func Categories() []string {
	out := make([]string, len(categoryMix))
	for i, c := range categoryMix {
		out[i] = c.v
	}
	return out
}

func (g *generator) customer(i int) Customer {
	r := g.rng
	c := Customer{
		Ref:   fmt.Sprintf("%s-buyer-%06d", g.cfg.RunID, i),
		Phone: fmt.Sprintf("1%d%d%08d", 3+r.IntN(6), r.IntN(10), r.IntN(100000000)),
		Type: pickW(r, []weighted[complaintv1.CustomerType]{
			{complaintv1.CustomerType_CUSTOMER_TYPE_QUIET, 60},
			{complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE, 25},
			{complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL, 15},
		}),
		VIP:    r.Float64() < g.cfg.VIPShare,
		Script: Simplified,
	}
	if r.Float64() < g.cfg.TraditionalShare {
		c.Script = Traditional
	}
	c.Name = surnames[r.IntN(len(surnames))].in(c.Script) + honorifics[r.IntN(len(honorifics))].in(c.Script)
	c.Email = fmt.Sprintf("buyer%06d@example.com", i)
	return c
}

// inboundSources names the system that reports a channel, when one does.
func inboundSource(ch complaintv1.Channel, rng *rand.Rand) string {
	switch ch {
	case complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION:
		return []string{"tmall", "jd"}[rng.IntN(2)]
	case complaintv1.Channel_CHANNEL_HOTLINE_400:
		return "hotline400"
	case complaintv1.Channel_CHANNEL_ODR_12315:
		return "odr12315"
	case complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_HEIMAO:
		return "weibo-listening"
	}
	return ""
}

// dispute generates one dispute: its first contact and any repeats.
func (g *generator) dispute(sc shopSeason, id int, cust Customer, at time.Time) []Contact {
	r := g.rng
	phase := sc.season.PhaseOn(policy.DateOf(at, sc.shop.Location))
	cat := pickW(r, categoryMix)
	ct := categoryTexts[cat]
	product := ct.products[r.IntN(len(ct.products))]
	qty := 1 + r.IntN(2)
	price := int64(ct.minPrice+r.IntN(ct.maxPrice-ct.minPrice+1)) * 100
	order := fmt.Sprintf("%s%s%08d", []string{"TB", "JD", "PDD", "DD"}[r.IntN(4)],
		at.Format("20060102"), r.IntN(100000000))
	days := 2 + r.IntN(12)
	amountYuan := price / 100
	if cat == "price_size_error" || cat == "promotion_rules" {
		amountYuan = int64(10 + r.IntN(200))
	}
	fill := func(t string, n int) string {
		return strings.NewReplacer("{P}", product.in(cust.Script), "{D}", strconv.Itoa(days),
			"{A}", strconv.FormatInt(amountYuan, 10), "{O}", order, "{N}", strconv.Itoa(n)).Replace(t)
	}

	first := Contact{
		ShopID: sc.shop.ID, Dispute: id, Number: 1, At: at,
		Channel: pickW(r, channelMix), Customer: cust, OrderID: order,
		Items: []*complaintv1.Item{{
			SkuId: fmt.Sprintf("SKU-%s-%03d", strings.ToUpper(cat[:3]), r.IntN(1000)), ProductId: fmt.Sprintf("P%05d", r.IntN(100000)),
			ProductName: product.in(cust.Script), Quantity: int32(qty), UnitPriceFen: price,
		}},
		OrderAmountFen: price * int64(qty),
		Category:       cat,
	}
	first.ClaimedAmountFen = first.OrderAmountFen
	if cat == "price_size_error" || cat == "promotion_rules" {
		first.ClaimedAmountFen = amountYuan * 100
	}
	for _, k := range ct.remedies[:1+r.IntN(len(ct.remedies))] {
		first.ExpectedRemedies = append(first.ExpectedRemedies, remedyKind(k))
	}
	for _, k := range first.ExpectedRemedies {
		switch k {
		case complaintv1.RemedyKind_REMEDY_KIND_REFUND_TRIPLE:
			first.ClaimedAmountFen = first.OrderAmountFen * 4
		case complaintv1.RemedyKind_REMEDY_KIND_REFUND_TENFOLD:
			first.ClaimedAmountFen = first.OrderAmountFen * 11
		}
	}

	var b strings.Builder
	// Who is speaking: a few public figures, VIPs.
	cp := &complaintv1.Complainant{Vip: cust.VIP}
	switch x := r.Float64(); {
	case x < 0.003:
		cp.Media = true
		b.WriteString(flagTexts["media"].in(cust.Script))
	case x < 0.006:
		cp.Official = true
		b.WriteString(flagTexts["official"].in(cust.Script))
	case x < 0.009:
		cp.Celebrity = true
		b.WriteString(flagTexts["celebrity"].in(cust.Script))
	}
	if cust.VIP {
		cp.Level = "88VIP"
		if r.IntN(2) == 0 {
			b.WriteString(flagTexts["vip"].in(cust.Script))
		}
	}
	if cp.Vip || cp.Media || cp.Official || cp.Celebrity {
		first.Complainant = cp
	}
	b.WriteString(fill(ct.templates[r.IntN(len(ct.templates))].in(cust.Script), 1))
	switch cust.Type {
	case complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE:
		b.WriteString(aggressiveText.in(cust.Script))
	case complaintv1.CustomerType_CUSTOMER_TYPE_HABITUAL:
		b.WriteString(habitualText.in(cust.Script))
	}
	// Threats: more in battle, and on public channels.
	threatP := 0.05
	if phase == policy.PhaseBattle {
		threatP = 0.14
	}
	if first.Channel == complaintv1.Channel_CHANNEL_WEIBO || first.Channel == complaintv1.Channel_CHANNEL_HEIMAO {
		threatP *= 2
	}
	if cust.Type == complaintv1.CustomerType_CUSTOMER_TYPE_AGGRESSIVE {
		threatP *= 1.5
	}
	if r.Float64() < threatP {
		var sig string
		if phase == policy.PhaseBattle && r.IntN(3) == 0 {
			sig = "threat_315"
		} else {
			sig = threatOrder[r.IntN(len(threatOrder))]
		}
		first.Signals = []string{sig}
		b.WriteString(threatTexts[sig].in(cust.Script))
	}
	first.Text = b.String()
	if r.Float64() < 0.2 {
		first.DeclaredType = cust.Type
	}
	g.route(&first)

	out := []Contact{first}
	if r.Float64() < g.cfg.RepeatShare {
		n := 1 + pick(r, []float64{6, 3, 1})
		_, end := sc.season.Interval(sc.shop.Location)
		prev := first
		for k := 2; k <= n+1; k++ {
			// The customer comes back after a while, often elsewhere.
			delay := time.Duration(20+r.IntN(60*24*2)) * time.Minute
			c := first
			c.At = prev.At.Add(delay)
			if !c.At.Before(end) {
				break
			}
			c.Number = k
			c.Channel = pickW(r, channelMix)
			if c.Channel == prev.Channel {
				c.Channel = pickW(r, channelMix)
			}
			c.Text = fill(repeatTexts[r.IntN(len(repeatTexts))].in(cust.Script), k)
			c.Signals = nil
			c.DeclaredType = complaintv1.CustomerType_CUSTOMER_TYPE_UNSPECIFIED
			g.route(&c)
			out = append(out, c)
			prev = c
		}
	}
	return out
}

// route decides the path, ids and channel details of a contact.
func (g *generator) route(c *Contact) {
	r := g.rng
	c.Seq = g.seq
	g.seq++
	c.RequestID = fmt.Sprintf("%s-c%07d", g.cfg.RunID, c.Seq)
	c.Via = ViaGRPC
	c.Source = inboundSource(c.Channel, r)
	if c.Source != "" && r.Float64() < g.cfg.InboundShare {
		c.Via = ViaInbound
	}
	ext := fmt.Sprintf("%s-%07d", strings.ToUpper(g.cfg.RunID), c.Seq)
	c.ExternalID = ext
	switch c.Channel {
	case complaintv1.Channel_CHANNEL_ONLINE_CHAT:
		platform := "wangwang"
		if c.Source == "jd" {
			platform = "jd-dongdong"
		}
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Chat{Chat: &complaintv1.ChatDetails{
			Platform: platform, SessionId: "S" + ext}}}
	case complaintv1.Channel_CHANNEL_HOTLINE_400:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Hotline{Hotline: &complaintv1.HotlineDetails{
			CallId: "CALL-" + ext, Line: "after-sales"}}}
	case complaintv1.Channel_CHANNEL_EMAIL:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Email{Email: &complaintv1.EmailDetails{
			MessageId: "<" + ext + "@mail.example.com>"}}}
	case complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_PlatformDispute{PlatformDispute: &complaintv1.PlatformDisputeDetails{
			Platform: cmp.Or(c.Source, "tmall"), DisputeId: "DSP-" + ext}}}
	case complaintv1.Channel_CHANNEL_ODR_12315:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Odr{Odr: &complaintv1.OdrDetails{
			CaseNumber: "12315-" + ext, OdrEnterprise: true}}}
	case complaintv1.Channel_CHANNEL_CONSUMER_ASSOCIATION:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_ConsumerAssociation{ConsumerAssociation: &complaintv1.ConsumerAssociationDetails{
			Organisation: "上海市消费者权益保护委员会", CaseNumber: "XW-" + ext}}}
	case complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_HEIMAO:
		sp := &complaintv1.SocialPostDetails{Platform: "weibo", PostUrl: "https://weibo.com/sim/" + ext, Followers: int64(r.IntN(5000))}
		if c.Complainant.GetCelebrity() || c.Complainant.GetMedia() {
			sp.Followers = 50000 + int64(r.IntN(2000000))
		}
		if c.Channel == complaintv1.Channel_CHANNEL_HEIMAO {
			sp.Platform, sp.PostUrl, sp.ComplaintNumber = "heimao", "https://tousu.sina.com.cn/complaint/view/"+ext, "HM"+ext
		}
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_SocialPost{SocialPost: sp}}
	case complaintv1.Channel_CHANNEL_IN_STORE:
		c.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_InStore{InStore: &complaintv1.InStoreDetails{
			StoreId: fmt.Sprintf("SH%03d", r.IntN(40))}}}
	default:
		c.ChannelDetails = nil
	}
}

func remedyKind(s string) complaintv1.RemedyKind {
	return complaintv1.RemedyKind(complaintv1.RemedyKind_value["REMEDY_KIND_"+strings.ToUpper(s)])
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
