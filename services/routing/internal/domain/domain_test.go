package domain_test

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

var t0 = time.Date(2026, 3, 12, 2, 0, 0, 0, time.UTC) // battle phase, 10:00 in Shanghai

func shipped(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load("../../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// complaint describes a filing and its classification.
type complaint struct {
	channel  complaintv1.Channel
	category string
	severity complaintv1.Severity
	vip      bool
	amount   int64 // fen
	expect   []complaintv1.RemedyKind
}

func ev(t testing.TB, at time.Time, payload proto.Message) *complaintv1.Event {
	t.Helper()
	e, err := events.New(events.Envelope{ComplaintID: "0195f000-0000-7000-8000-000000000001", ShopID: "demo-flagship", RecordedAt: at}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (c complaint) events(t testing.TB) []*complaintv1.Event {
	ch := c.channel
	if ch == 0 {
		ch = complaintv1.Channel_CHANNEL_ONLINE_CHAT
	}
	sev := c.severity
	if sev == 0 {
		sev = complaintv1.Severity_SEVERITY_NORMAL
	}
	cat := c.category
	if cat == "" {
		cat = "quality"
	}
	return []*complaintv1.Event{
		ev(t, t0, &complaintv1.ComplaintFiled{Channel: ch, CustomerRef: "c1", ClaimedAmountFen: c.amount,
			Complainant: &complaintv1.Complainant{Vip: c.vip}, ExpectedRemedies: c.expect}),
		ev(t, t0, &complaintv1.ComplaintClassified{Category: cat, Severity: sev, Phase: "battle"}),
	}
}

// history folds events in order (sequence numbers 1, 2, …).
func history(evs ...*complaintv1.Event) *domain.Work {
	w := &domain.Work{}
	for i, e := range evs {
		w.Evolve(e, uint64(i+1))
	}
	return w
}

func agent(id string, tier int, load int, p domain.Presence, skills ...string) *domain.Agent {
	return &domain.Agent{ID: id, Tier: tier, Skills: skills, Capacity: 6, Presence: p, Load: load, PresenceSince: t0}
}

func only[T proto.Message](t testing.TB, msgs []proto.Message, i int) T {
	t.Helper()
	if i >= len(msgs) {
		t.Fatalf("want at least %d events, got %d: %v", i+1, len(msgs), msgs)
	}
	m, ok := msgs[i].(T)
	if !ok {
		t.Fatalf("event %d is %T, want %T", i, msgs[i], *new(T))
	}
	return m
}

func TestRoutingRulesFromPolicy(t *testing.T) {
	pol := shipped(t)
	cases := []struct {
		name  string
		c     complaint
		queue string
		rule  string
		tier  int32
	}{
		{"crisis goes to PR", complaint{severity: complaintv1.Severity_SEVERITY_CRISIS}, "pr", "crisis to PR", 3},
		{"major goes to the floor supervisors", complaint{severity: complaintv1.Severity_SEVERITY_MAJOR}, "supervisor", "major to supervisor", 3},
		{"marketplace arbitration", complaint{channel: complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION}, "platform", "marketplace arbitration", 2},
		{"12315", complaint{channel: complaintv1.Channel_CHANNEL_ODR_12315}, "platform", "regulator and association cases", 2},
		{"hot public post", complaint{channel: complaintv1.Channel_CHANNEL_WEIBO, severity: complaintv1.Severity_SEVERITY_HIGH}, "pr", "public posts turning hot", 3},
		{"public post", complaint{channel: complaintv1.Channel_CHANNEL_HEIMAO}, "negative_review", "public posts", 2},
		{"VIP", complaint{vip: true}, "vip", "VIP customers", 2},
		{"amount only a supervisor approves", complaint{amount: 2000_00}, "supervisor", "refunds only a supervisor may approve", 3},
		{"counterfeit needs tier 2", complaint{category: "counterfeit"}, "after_sales_online", "counterfeit, expired, false advertising", 2},
		{"refund above line 1 cap", complaint{category: "quality", amount: 50_00}, "refund", "refunds above line 1", 2},
		{"price difference", complaint{category: "price_size_error", amount: 20_00}, "refund", "price difference and promotions", 1},
		{"logistics", complaint{category: "logistics_wrong_item"}, "order", "logistics and wrong items", 1},
		{"hotline", complaint{channel: complaintv1.Channel_CHANNEL_HOTLINE_400}, "hotline_400", "hotline callers", 1},
		{"attitude", complaint{category: "service_attitude"}, "after_sales_online", "attitude complaints", 2},
		{"anything else", complaint{category: "quality"}, "after_sales_online", "default", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs := tc.c.events(t)
			w := history(evs...)
			out := domain.React(w, domain.StatusNone, evs[1], pol, domain.NewPool(nil))
			r := only[*complaintv1.ComplaintRouted](t, out, 0)
			if r.GetQueue() != tc.queue || r.GetRule() != tc.rule || r.GetTierRequired() != tc.tier {
				t.Errorf("routed to %s by %q tier %d, want %s by %q tier %d", r.GetQueue(), r.GetRule(), r.GetTierRequired(), tc.queue, tc.rule, tc.tier)
			}
			if len(out) != 1 {
				t.Errorf("no agent is online, yet %d events: %v", len(out), out)
			}
		})
	}
}

func routed(t testing.TB, pol *policy.Policy, c complaint, pool *domain.Pool) (*domain.Work, []proto.Message) {
	t.Helper()
	evs := c.events(t)
	w := history(evs...)
	out := domain.React(w, domain.StatusNone, evs[1], pol, pool)
	return w, out
}

func TestAssignmentSkillsThenLeastLoadedWithinCapacity(t *testing.T) {
	pol := shipped(t)
	cases := []struct {
		name   string
		agents []*domain.Agent
		want   string // "" for none
	}{
		{"least loaded wins", []*domain.Agent{agent("a", 1, 3, domain.PresenceOnline, "after_sales_online"), agent("b", 1, 1, domain.PresenceOnline, "after_sales_online")}, "b"},
		{"skills first: an idle agent of another queue is not picked", []*domain.Agent{agent("a", 1, 5, domain.PresenceOnline, "after_sales_online"), agent("b", 3, 0, domain.PresenceOnline, "refund")}, "a"},
		{"at capacity is skipped", []*domain.Agent{agent("a", 1, 6, domain.PresenceOnline, "after_sales_online"), agent("b", 1, 5, domain.PresenceOnline, "after_sales_online")}, "b"},
		{"queue max_per_agent bounds capacity", []*domain.Agent{{ID: "a", Tier: 1, Skills: []string{"after_sales_online"}, Capacity: 50, Load: 6, Presence: domain.PresenceOnline}}, ""},
		{"away takes no new work", []*domain.Agent{agent("a", 1, 0, domain.PresenceAway, "after_sales_online"), agent("b", 1, 4, domain.PresenceOnline, "after_sales_online")}, "b"},
		{"offline takes no new work", []*domain.Agent{agent("a", 1, 0, domain.PresenceOffline, "after_sales_online")}, ""},
		{"tie goes to the lower tier", []*domain.Agent{agent("a", 3, 2, domain.PresenceOnline, "after_sales_online"), agent("b", 1, 2, domain.PresenceOnline, "after_sales_online")}, "b"},
		{"tie at equal tier goes to the lower id", []*domain.Agent{agent("b", 1, 2, domain.PresenceOnline, "after_sales_online"), agent("a", 1, 2, domain.PresenceOnline, "after_sales_online")}, "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, out := routed(t, pol, complaint{}, domain.NewPool(tc.agents))
			if tc.want == "" {
				if len(out) != 1 {
					t.Fatalf("want only ComplaintRouted, got %v", out)
				}
				return
			}
			a := only[*complaintv1.ComplaintAssigned](t, out, 1)
			if a.GetAgentId() != tc.want || a.GetMode() != complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO {
				t.Errorf("assigned %s (%v), want %s auto", a.GetAgentId(), a.GetMode(), tc.want)
			}
		})
	}
	t.Run("tier needed", func(t *testing.T) {
		pool := domain.NewPool([]*domain.Agent{agent("t1", 1, 0, domain.PresenceOnline, "after_sales_online"), agent("t2", 2, 5, domain.PresenceOnline, "after_sales_online")})
		_, out := routed(t, pol, complaint{category: "counterfeit"}, pool)
		if a := only[*complaintv1.ComplaintAssigned](t, out, 1); a.GetAgentId() != "t2" {
			t.Errorf("counterfeit needs tier 2, assigned %s", a.GetAgentId())
		}
	})
	t.Run("shop scope", func(t *testing.T) {
		a := agent("outlet-only", 1, 0, domain.PresenceOnline, "after_sales_online")
		a.Shops = []string{"demo-outlet"}
		_, out := routed(t, pol, complaint{}, domain.NewPool([]*domain.Agent{a}))
		if len(out) != 1 {
			t.Errorf("an agent of another shop was assigned: %v", out)
		}
	})
}

func assigned(t testing.TB, w *domain.Work, agentID string, seq uint64) {
	t.Helper()
	w.Evolve(ev(t, t0.Add(time.Minute), &complaintv1.ComplaintRouted{Queue: "after_sales_online", TierRequired: 1, Rule: "default"}), seq)
	w.Evolve(ev(t, t0.Add(time.Minute), &complaintv1.ComplaintAssigned{AgentId: agentID, Queue: "after_sales_online", AgentTier: 1}), seq+1)
}

func TestStickyRepeatContact(t *testing.T) {
	pol := shipped(t)
	contact := func(t *testing.T) *complaintv1.Event {
		return ev(t, t0.Add(time.Hour), &complaintv1.ContactAdded{Channel: complaintv1.Channel_CHANNEL_HOTLINE_400, ContactNumber: 2})
	}
	t.Run("owner online keeps it", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "owner", 3)
		c := contact(t)
		w.Evolve(c, 5)
		pool := domain.NewPool([]*domain.Agent{agent("owner", 1, 6, domain.PresenceOnline, "after_sales_online"), agent("idle", 1, 0, domain.PresenceOnline, "after_sales_online")})
		if out := domain.React(w, domain.StatusOpen, c, pol, pool); len(out) != 0 {
			t.Errorf("want no change, got %v", out)
		}
	})
	t.Run("owner away: back to the queue and to another agent", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "owner", 3)
		c := contact(t)
		w.Evolve(c, 5)
		pool := domain.NewPool([]*domain.Agent{agent("owner", 1, 1, domain.PresenceAway, "after_sales_online"), agent("idle", 1, 0, domain.PresenceOnline, "after_sales_online")})
		out := domain.React(w, domain.StatusOpen, c, pol, pool)
		if u := only[*complaintv1.ComplaintUnassigned](t, out, 0); u.GetAgentId() != "owner" || u.GetReason() != domain.UnassignedUnavailable {
			t.Errorf("unassigned %v", u)
		}
		if a := only[*complaintv1.ComplaintAssigned](t, out, 1); a.GetAgentId() != "idle" {
			t.Errorf("assigned %s", a.GetAgentId())
		}
	})
	t.Run("released earlier: previous owner online gets it back, even at capacity", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "owner", 3)
		w.Evolve(ev(t, t0.Add(2*time.Minute), &complaintv1.ComplaintUnassigned{AgentId: "owner", Reason: "released"}), 5)
		c := contact(t)
		w.Evolve(c, 6)
		pool := domain.NewPool([]*domain.Agent{agent("owner", 1, 6, domain.PresenceOnline, "after_sales_online"), agent("idle", 1, 0, domain.PresenceOnline, "after_sales_online")})
		out := domain.React(w, domain.StatusOpen, c, pol, pool)
		if a := only[*complaintv1.ComplaintAssigned](t, out, 0); a.GetAgentId() != "owner" || a.GetMode() != complaintv1.AssignmentMode_ASSIGNMENT_MODE_STICKY {
			t.Errorf("assigned %v", a)
		}
	})
	t.Run("previous owner offline: the queue decides", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "owner", 3)
		w.Evolve(ev(t, t0.Add(2*time.Minute), &complaintv1.ComplaintUnassigned{AgentId: "owner", Reason: "agent_offline"}), 5)
		c := contact(t)
		w.Evolve(c, 6)
		pool := domain.NewPool([]*domain.Agent{agent("owner", 1, 0, domain.PresenceOffline, "after_sales_online"), agent("idle", 1, 0, domain.PresenceOnline, "after_sales_online")})
		out := domain.React(w, domain.StatusOpen, c, pol, pool)
		if a := only[*complaintv1.ComplaintAssigned](t, out, 0); a.GetAgentId() != "idle" || a.GetMode() != complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO {
			t.Errorf("assigned %v", a)
		}
	})
	t.Run("contact on a resolved complaint is followup's to reopen", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "owner", 3)
		w.Evolve(ev(t, t0.Add(2*time.Minute), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED}), 5)
		c := contact(t)
		w.Evolve(c, 6)
		w.Evolve(ev(t, t0.Add(2*time.Hour), &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_NEW_CONTACT}), 7)
		pool := domain.NewPool([]*domain.Agent{agent("owner", 1, 0, domain.PresenceOnline, "after_sales_online")})
		if out := domain.React(w, domain.StatusResolved, c, pol, pool); len(out) != 0 {
			t.Errorf("routing acted on a contact that reopened the complaint: %v", out)
		}
	})
}

func TestReRouting(t *testing.T) {
	pol := shipped(t)
	pool := domain.NewPool([]*domain.Agent{
		agent("line1", 1, 0, domain.PresenceOnline, "after_sales_online"),
		agent("sup", 3, 0, domain.PresenceOnline, "supervisor", "after_sales_online"),
	})
	t.Run("escalation moves it to the level's queue and to someone who works it", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "line1", 3)
		e := ev(t, t0.Add(time.Hour), &complaintv1.ComplaintEscalated{ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, Queue: "supervisor", Reason: "first response breached"})
		w.Evolve(e, 5)
		out := domain.React(w, domain.StatusOpen, e, pol, pool)
		r := only[*complaintv1.ComplaintRouted](t, out, 0)
		if r.GetQueue() != "supervisor" || r.GetRule() != domain.RuleEscalation || r.GetTierRequired() != 3 {
			t.Errorf("routed %v", r)
		}
		if u := only[*complaintv1.ComplaintUnassigned](t, out, 1); u.GetAgentId() != "line1" || u.GetReason() != domain.UnassignedRerouted {
			t.Errorf("unassigned %v", u)
		}
		if a := only[*complaintv1.ComplaintAssigned](t, out, 2); a.GetAgentId() != "sup" {
			t.Errorf("assigned %v", a)
		}
		// Redelivered: the stream already holds the decision.
		for i, m := range out {
			e2 := ev(t, t0.Add(time.Hour), m)
			w.Evolve(e2, uint64(6+i))
		}
		if again := domain.React(w, domain.StatusOpen, e, pol, pool); len(again) != 0 {
			t.Errorf("reaction not idempotent: %v", again)
		}
	})
	t.Run("reclassification re-routes", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "line1", 3)
		c := ev(t, t0.Add(time.Hour), &complaintv1.ComplaintClassified{Category: "quality", Severity: complaintv1.Severity_SEVERITY_MAJOR, Manual: true})
		w.Evolve(c, 5)
		out := domain.React(w, domain.StatusOpen, c, pol, pool)
		if r := only[*complaintv1.ComplaintRouted](t, out, 0); r.GetQueue() != "supervisor" || r.GetReason() != "reclassified" {
			t.Errorf("routed %v", r)
		}
		if a := only[*complaintv1.ComplaintAssigned](t, out, 2); a.GetAgentId() != "sup" {
			t.Errorf("assigned %v", a)
		}
	})
	t.Run("reopened goes back to the previous owner's queue, to them when online", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "line1", 3)
		w.Evolve(ev(t, t0.Add(time.Hour), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED}), 5)
		ro := ev(t, t0.Add(3*time.Hour), &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP, Reason: "不满意", PreviousOwner: "line1"})
		w.Evolve(ro, 6)
		out := domain.React(w, domain.StatusResolved, ro, pol, pool)
		if r := only[*complaintv1.ComplaintRouted](t, out, 0); r.GetQueue() != "after_sales_online" || r.GetRule() != domain.RuleReopened {
			t.Errorf("routed %v", r)
		}
		if a := only[*complaintv1.ComplaintAssigned](t, out, 1); a.GetAgentId() != "line1" || a.GetMode() != complaintv1.AssignmentMode_ASSIGNMENT_MODE_STICKY {
			t.Errorf("assigned %v", a)
		}
	})
	t.Run("closed leaves the queues", func(t *testing.T) {
		w := history(complaint{}.events(t)...)
		assigned(t, w, "line1", 3)
		w.Evolve(ev(t, t0.Add(time.Hour), &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_WITHDRAWN}), 5)
		if w.Status != domain.StatusClosed || w.Owner != "" {
			t.Errorf("closed complaint still held: %+v", w)
		}
		e := ev(t, t0.Add(2*time.Hour), &complaintv1.ComplaintEscalated{Queue: "supervisor"})
		if out := domain.React(w, domain.StatusClosed, e, pol, pool); len(out) != 0 {
			t.Errorf("a closed complaint was routed: %v", out)
		}
	})
}

func TestOfflineReleaseAfterGrace(t *testing.T) {
	grace := 5 * time.Minute
	w := history(complaint{}.events(t)...)
	assigned(t, w, "a", 3)
	off := agent("a", 1, 1, domain.PresenceOffline, "after_sales_online")
	if out := domain.ReleaseUnstarted(w, off, grace, t0.Add(grace-time.Second)); len(out) != 0 {
		t.Errorf("released within the grace period: %v", out)
	}
	out := domain.ReleaseUnstarted(w, off, grace, t0.Add(grace))
	if u := only[*complaintv1.ComplaintUnassigned](t, out, 0); u.GetReason() != domain.UnassignedOffline {
		t.Errorf("unassigned %v", u)
	}
	away := agent("a", 1, 1, domain.PresenceAway, "after_sales_online")
	if out := domain.ReleaseUnstarted(w, away, grace, t0.Add(time.Hour)); len(out) != 0 {
		t.Errorf("away released work: %v", out)
	}
	w.Evolve(ev(t, t0.Add(2*time.Minute), &complaintv1.AgentResponded{AgentId: "a", FirstResponse: true}), 9)
	if out := domain.ReleaseUnstarted(w, off, grace, t0.Add(time.Hour)); len(out) != 0 {
		t.Errorf("started work released: %v", out)
	}
}

// ---- commands

var (
	line1 = domain.Actor{ID: "a", Tier: 1, Cap: policy.Cap{Amount: 30_00}}
	other = domain.Actor{ID: "b", Tier: 1, Cap: policy.Cap{Amount: 30_00}}
	line3 = domain.Actor{ID: "c", Tier: 3, Cap: policy.Cap{Amount: 1000_00}}
	super = domain.Actor{ID: "s", Manager: true, Cap: policy.Cap{Unlimited: true}}
)

func kind(err error) string {
	var se *domain.StateError
	var pe *domain.PermissionError
	var ve *domain.ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return "state:" + se.Kind
	case errors.As(err, &pe):
		return "perm:" + pe.Reason
	case errors.As(err, &ve):
		return "invalid:" + ve.Violations[0].Field
	case errors.Is(err, domain.ErrNotFound):
		return "notfound"
	}
	return err.Error()
}

func TestCommandStateAndPermissionChecks(t *testing.T) {
	pol := shipped(t)
	now := t0.Add(10 * time.Minute)
	held := func(t *testing.T) *domain.Work {
		w := history(complaint{expect: []complaintv1.RemedyKind{complaintv1.RemedyKind_REMEDY_KIND_REFUND}}.events(t)...)
		assigned(t, w, "a", 3)
		return w
	}
	unheld := func(t *testing.T) *domain.Work {
		w := history(complaint{}.events(t)...)
		w.Evolve(ev(t, t0, &complaintv1.ComplaintRouted{Queue: "after_sales_online", TierRequired: 1}), 3)
		return w
	}
	withStatus := func(p proto.Message) func(t *testing.T) *domain.Work {
		return func(t *testing.T) *domain.Work {
			w := held(t)
			w.Evolve(ev(t, t0, p), 10)
			return w
		}
	}
	resolved := withStatus(&complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED})
	closed := withStatus(&complaintv1.ComplaintClosed{})
	withRemedy := func(amount int64, state proto.Message) func(t *testing.T) *domain.Work {
		return func(t *testing.T) *domain.Work {
			w := held(t)
			w.Evolve(ev(t, t0, &complaintv1.RemedyProposed{RemedyId: "r1", Kind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, AmountFen: amount, ProposedBy: "a"}), 10)
			if state != nil {
				w.Evolve(ev(t, t0, state), 11)
			}
			return w
		}
	}
	free := agent("a", 1, 0, domain.PresenceOnline, "after_sales_online")
	cases := []struct {
		name string
		w    func(t *testing.T) *domain.Work
		do   func(w *domain.Work) ([]proto.Message, error)
		want string
	}{
		{"claim free", unheld, func(w *domain.Work) ([]proto.Message, error) { return domain.Claim(w, pol, line1, free) }, ""},
		{"double claim", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Claim(w, pol, other, agent("b", 1, 0, domain.PresenceOnline, "after_sales_online"))
		}, "state:ASSIGNED"},
		{"claim own again", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Claim(w, pol, line1, free) }, "state:ALREADY_ASSIGNED"},
		{"claim closed", closed, func(w *domain.Work) ([]proto.Message, error) { return domain.Claim(w, pol, line1, free) }, "state:CLOSED"},
		{"claim without skill", unheld, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Claim(w, pol, line1, agent("a", 1, 0, domain.PresenceOnline, "refund"))
		}, "perm:NO_SKILL"},
		{"claim at capacity", unheld, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Claim(w, pol, line1, agent("a", 1, 6, domain.PresenceOnline, "after_sales_online"))
		}, "state:AT_CAPACITY"},
		{"claim for someone else", unheld, func(w *domain.Work) ([]proto.Message, error) { return domain.Claim(w, pol, other, free) }, "perm:NOT_SELF"},
		{"supervisor assigns", unheld, func(w *domain.Work) ([]proto.Message, error) { return domain.Claim(w, pol, super, free) }, ""},
		{"supervisor assigns to offline", unheld, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Claim(w, pol, super, agent("a", 1, 0, domain.PresenceOffline, "after_sales_online"))
		}, "state:OFFLINE"},
		{"release", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Release(w, line1, "") }, ""},
		{"release someone else's", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Release(w, other, "") }, "perm:NOT_OWNER"},
		{"release unassigned", unheld, func(w *domain.Work) ([]proto.Message, error) { return domain.Release(w, super, "") }, "state:UNASSIGNED"},
		{"transfer without reason", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Transfer(w, pol, line1, nil, "refund", " ")
		}, "invalid:reason"},
		{"transfer nowhere", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Transfer(w, pol, line1, nil, "", "r") }, "invalid:to_agent_id"},
		{"transfer to unknown queue", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Transfer(w, pol, line1, nil, "nope", "r") }, "invalid:to_queue"},
		{"transfer to resolved", resolved, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Transfer(w, pol, line1, nil, "refund", "r")
		}, "state:RESOLVED"},
		{"transfer to unfit agent", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Transfer(w, pol, line1, agent("b", 1, 0, domain.PresenceOnline, "refund"), "", "r")
		}, "perm:NO_SKILL"},
		{"transfer to queue", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Transfer(w, pol, line1, nil, "refund", "退款问题")
		}, ""},
		{"respond", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, line1, 0, now) }, ""},
		{"respond unassigned", unheld, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, line1, 0, now) }, "state:UNASSIGNED"},
		{"respond not owner", held, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, other, 0, now) }, "perm:NOT_OWNER"},
		{"respond closed", closed, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, line1, 0, now) }, "state:CLOSED"},
		{"respond resolved", resolved, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, line1, 0, now) }, "state:RESOLVED"},
		{"promise in the past", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.MakePromise(w, line1, "p", "回复", now.Add(-time.Minute), now)
		}, "invalid:due_at"},
		{"promise without words", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.MakePromise(w, line1, "p", "", now.Add(time.Minute), now)
		}, "invalid:description"},
		{"promise on closed", closed, func(w *domain.Work) ([]proto.Message, error) {
			return domain.MakePromise(w, line1, "p", "回复", now.Add(time.Minute), now)
		}, "state:CLOSED"},
		{"promise", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.MakePromise(w, line1, "p", "10 分钟内回复", now.Add(10*time.Minute), now)
		}, ""},
		{"refund without amount", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.ProposeRemedy(w, line1, "agent", "r", complaintv1.RemedyKind_REMEDY_KIND_REFUND, 0, "")
		}, "invalid:amount_fen"},
		{"remedy without kind", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.ProposeRemedy(w, line1, "agent", "r", 0, 100, "")
		}, "invalid:kind"},
		{"remedy by non-owner", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.ProposeRemedy(w, other, "agent", "r", complaintv1.RemedyKind_REMEDY_KIND_APOLOGY, 0, "")
		}, "perm:NOT_OWNER"},
		{"approve above tier 1 cap", withRemedy(30_01, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.ApproveRemedy(w, line1, "agent", "r1") }, "perm:ABOVE_TIER_CAP"},
		{"approve at tier 1 cap", withRemedy(30_00, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.ApproveRemedy(w, line1, "agent", "r1") }, ""},
		{"tier 3 approves 1000", withRemedy(1000_00, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.ApproveRemedy(w, line3, "agent", "r1") }, ""},
		{"tier 3 refused above 1000", withRemedy(1000_01, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.ApproveRemedy(w, line3, "agent", "r1") }, "perm:ABOVE_TIER_CAP"},
		{"supervisor approves above every tier", withRemedy(5000_00, nil), func(w *domain.Work) ([]proto.Message, error) {
			return domain.ApproveRemedy(w, super, "supervisor", "r1")
		}, ""},
		{"approve twice", withRemedy(10_00, &complaintv1.RemedyApproved{RemedyId: "r1"}), func(w *domain.Work) ([]proto.Message, error) {
			return domain.ApproveRemedy(w, super, "supervisor", "r1")
		}, "state:REMEDY_DECIDED"},
		{"approve rejected", withRemedy(10_00, &complaintv1.RemedyRejected{RemedyId: "r1"}), func(w *domain.Work) ([]proto.Message, error) {
			return domain.ApproveRemedy(w, super, "supervisor", "r1")
		}, "state:REMEDY_DECIDED"},
		{"approve unknown", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.ApproveRemedy(w, super, "supervisor", "zz")
		}, "notfound"},
		{"reject without reason", withRemedy(10_00, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.RejectRemedy(w, line1, "r1", "") }, "invalid:reason"},
		{"reject by an unrelated tier-1 agent above their cap", withRemedy(100_00, nil), func(w *domain.Work) ([]proto.Message, error) { return domain.RejectRemedy(w, other, "r1", "no") }, "perm:ABOVE_TIER_CAP"},
		{"resolve without retention on a refund request", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Resolve(w, line1, complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, "", "", 0)
		}, "invalid:retention"},
		{"resolve kept", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Resolve(w, line1, complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, "", "说明后保留", complaintv1.Retention_RETENTION_KEPT)
		}, ""},
		{"resolve with an unapproved remedy", withRemedy(100_00, nil), func(w *domain.Work) ([]proto.Message, error) {
			return domain.Resolve(w, line1, complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, "r1", "", complaintv1.Retention_RETENTION_RETURNED)
		}, "state:REMEDY_NOT_APPROVED"},
		{"resolve granted without remedy", held, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Resolve(w, line1, complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, "", "", complaintv1.Retention_RETENTION_RETURNED)
		}, "invalid:remedy_id"},
		{"resolve twice", resolved, func(w *domain.Work) ([]proto.Message, error) {
			return domain.Resolve(w, line1, complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, "", "", complaintv1.Retention_RETENTION_KEPT)
		}, "state:RESOLVED"},
		{"not filed", func(t *testing.T) *domain.Work { return &domain.Work{} }, func(w *domain.Work) ([]proto.Message, error) { return domain.Respond(w, super, 0, now) }, "notfound"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.do(tc.w(t))
			if got := kind(err); got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
			if err == nil && len(out) == 0 {
				t.Fatal("accepted but decided nothing")
			}
		})
	}
}

func TestRespondMeasuresFromFilingThenFromContact(t *testing.T) {
	w := history(complaint{}.events(t)...)
	assigned(t, w, "a", 3)
	out, err := domain.Respond(w, line1, 0, t0.Add(90*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r := only[*complaintv1.AgentResponded](t, out, 0)
	if !r.GetFirstResponse() || r.GetResponseSeconds() != 90 || r.GetChannel() != complaintv1.Channel_CHANNEL_ONLINE_CHAT {
		t.Errorf("first response %v", r)
	}
	w.Evolve(ev(t, t0.Add(90*time.Second), r), 5)
	w.Evolve(ev(t, t0.Add(time.Hour), &complaintv1.ContactAdded{ContactNumber: 2}), 6)
	out, _ = domain.Respond(w, line1, 0, t0.Add(time.Hour+20*time.Second))
	if r := only[*complaintv1.AgentResponded](t, out, 0); r.GetFirstResponse() || r.GetResponseSeconds() != 20 {
		t.Errorf("next response %v", r)
	}
}

func TestTransferCountsAndProposalWithinCapIsApproved(t *testing.T) {
	pol := shipped(t)
	w := history(complaint{}.events(t)...)
	assigned(t, w, "a", 3)
	for i := 1; i <= 3; i++ {
		out, err := domain.Transfer(w, pol, super, nil, []string{"refund", "order", "after_sales_online"}[i-1], "换组")
		if err != nil {
			t.Fatal(err)
		}
		tr := only[*complaintv1.ComplaintTransferred](t, out, len(out)-1)
		if tr.GetTransferCount() != int32(i) {
			t.Errorf("transfer %d counted %d", i, tr.GetTransferCount())
		}
		for j, m := range out {
			w.Evolve(ev(t, t0, m), uint64(10*i+j))
		}
	}
	out, err := domain.ProposeRemedy(w, super, "supervisor", "r", complaintv1.RemedyKind_REMEDY_KIND_REFUND, 20_00, "差价")
	if err != nil || len(out) != 2 {
		t.Fatalf("within cap: %v %v", out, err)
	}
	w2 := history(complaint{}.events(t)...)
	assigned(t, w2, "a", 3)
	out, _ = domain.ProposeRemedy(w2, line1, "agent", "r", complaintv1.RemedyKind_REMEDY_KIND_REFUND, 31_00, "")
	if len(out) != 1 {
		t.Errorf("above tier 1 cap must wait for approval: %v", out)
	}
	if p := only[*complaintv1.RemedyProposed](t, out, 0); p.GetProposerCapFen() != 30_00 {
		t.Errorf("proposer cap %d", p.GetProposerCapFen())
	}
}

// Folding into a clone leaves the original as it was: a projection carries
// its state forward by a complaint's tail on a clone, and its own state must
// not move with it.
func TestCloneFoldsApart(t *testing.T) {
	evs := complaint{}.events(t)
	w := domain.Fold(evs, []uint64{1, 2})
	w.Evolve(ev(t, t0, &complaintv1.RemedyProposed{RemedyId: "r1", Kind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, AmountFen: 100}), 3)
	c := w.Clone()
	c.Evolve(ev(t, t0, &complaintv1.RemedyApproved{RemedyId: "r1"}), 4)
	c.Evolve(ev(t, t0, &complaintv1.RemedyProposed{RemedyId: "r2", Kind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, AmountFen: 50}), 5)
	if w.LastSeq != 3 || len(w.Remedies) != 1 || len(w.RemedyOrder) != 1 || w.Remedies["r1"].State != domain.RemedyProposed {
		t.Fatalf("original moved: seq %d, remedies %v, order %v", w.LastSeq, w.Remedies, w.RemedyOrder)
	}
	if c.LastSeq != 5 || len(c.Remedies) != 2 || c.Remedies["r1"].State != domain.RemedyApproved {
		t.Fatalf("clone: seq %d, remedies %v", c.LastSeq, c.Remedies)
	}
}
