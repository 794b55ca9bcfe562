package casework_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/casework"
)

func loadPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load("../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRosterRespectsQueueTiers(t *testing.T) {
	p := loadPolicy(t)
	r := casework.Roster(p, 3, 1)
	perQueue := map[string]int{}
	for _, a := range r {
		if a.Tier < 1 || a.Tier > 3 || a.Capacity < 1 {
			t.Errorf("agent %+v", a)
		}
		for _, q := range a.Queues {
			qq, ok := p.Queue(q)
			if !ok || qq.MinTier > a.Tier {
				t.Errorf("agent %s (tier %d) works %s (min tier %d)", a.ID, a.Tier, q, qq.MinTier)
			}
			perQueue[q]++
		}
	}
	for _, q := range p.Queues {
		if q.ID != p.FollowUp.Queue && perQueue[q.ID] < 3 {
			t.Errorf("queue %s staffed by %d", q.ID, perQueue[q.ID])
		}
	}
	if !slices.EqualFunc(r, casework.Roster(p, 3, 1), func(a, b casework.Agent) bool { return a.ID == b.ID && a.Tier == b.Tier }) {
		t.Error("roster not deterministic")
	}
}

// Overloaded agents answer later; the same draw, fuller hands.
func TestRespondDelayGrowsWithLoad(t *testing.T) {
	it := casework.Item{Channel: complaintv1.Channel_CHANNEL_EMAIL, Severity: complaintv1.Severity_SEVERITY_NORMAL}
	a := casework.Agent{Speed: 1}
	calm := casework.RespondDelay(rand.New(rand.NewPCG(1, 1)), it, a, 0.1, policy.PhasePreparation)
	busy := casework.RespondDelay(rand.New(rand.NewPCG(1, 1)), it, a, 1, policy.PhasePreparation)
	battle := casework.RespondDelay(rand.New(rand.NewPCG(1, 1)), it, a, 0.1, policy.PhaseBattle)
	if busy <= calm || battle >= calm {
		t.Errorf("delays: calm %s, busy %s, battle %s", calm, busy, battle)
	}
	chat := it
	chat.Channel = complaintv1.Channel_CHANNEL_ONLINE_CHAT
	if d := casework.RespondDelay(rand.New(rand.NewPCG(1, 1)), chat, a, 0, policy.PhasePreparation); d > 3*time.Minute {
		t.Errorf("chat answered after %s", d)
	}
}

func TestRemediesStayWithinTheAgentsCap(t *testing.T) {
	p := loadPolicy(t)
	rng := rand.New(rand.NewPCG(2, 2))
	for tier := 1; tier <= 3; tier++ {
		c, _ := p.RefundCap(tier)
		for _, cat := range []string{"quality", "price_size_error", "counterfeit", "logistics_wrong_item", "service_attitude", "other"} {
			for _, amount := range []int64{1500, 2999, 3001, 19900, 150000, 999999} {
				pl := casework.PlanRemedy(p, rng, casework.Agent{Tier: tier}, casework.Item{Category: cat, AmountFen: amount})
				if !c.Unlimited && pl.AmountFen > int64(c.Amount) {
					t.Errorf("tier %d, %s, %d fen: proposes %d fen above cap %s", tier, cat, amount, pl.AmountFen, c)
				}
				if pl.OverCap && pl.Kind != complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION {
					t.Errorf("tier %d, %s, %d fen: over the cap but offers %v", tier, cat, amount, pl.Kind)
				}
			}
		}
	}
}

// Slow, repeated and passed-around customers are less satisfied.
func TestSatisfactionDependsOnTreatment(t *testing.T) {
	filed := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	good := casework.Item{FiledAt: filed, FirstResponseAt: filed.Add(2 * time.Minute), Contacts: 1}
	slow := good
	slow.FirstResponseAt = filed.Add(30 * time.Hour)
	repeat := good
	repeat.Contacts = 3
	passed := good
	passed.Transfers = 2
	mean := func(it casework.Item, granted bool) float64 {
		rng := rand.New(rand.NewPCG(3, 3))
		sum := 0
		for range 500 {
			s := casework.Satisfaction(rng, it, granted)
			if s < 1 || s > 5 {
				t.Fatalf("score %d out of 1..5", s)
			}
			sum += s
		}
		return float64(sum) / 500
	}
	g := mean(good, true)
	for name, it := range map[string]casework.Item{"slow": slow, "repeat": repeat, "transferred": passed} {
		if m := mean(it, true); m >= g-0.5 {
			t.Errorf("%s: mean %.2f, good treatment %.2f", name, m, g)
		}
	}
	if m := mean(good, false); m >= g {
		t.Errorf("no remedy: mean %.2f, with remedy %.2f", m, g)
	}
	if g < 4 {
		t.Errorf("good treatment mean %.2f, want satisfied (>= 4)", g)
	}
}

func TestTransfersAreRare(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	n := 0
	for range 2000 {
		if q, why := casework.TransferTo(rng, casework.Agent{Tier: 2, Queues: []string{"after_sales_online"}}, casework.Item{}, casework.Plan{}); q != "" {
			n++
			if why == "" || q == "after_sales_online" {
				t.Fatalf("transfer to %q (%q)", q, why)
			}
		}
	}
	if n == 0 || n > 200 {
		t.Errorf("%d transfers in 2000", n)
	}
}
