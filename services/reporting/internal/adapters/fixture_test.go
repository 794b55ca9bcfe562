package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const policyPath = "../../../../deploy/config/kesu.yaml"

var cst = time.FixedZone("CST", 8*3600)

// at is a Shanghai wall time of a year.
func at(year int, month time.Month, day, hour, minute int) time.Time {
	return time.Date(year, month, day, hour, minute, 0, 0, cst)
}

// env is a real NATS server and a real, migrated PostgreSQL database.
type env struct {
	natsURL string
	js      jetstream.JetStream
	store   *eventstore.Store
	pool    *pgxpool.Pool
	pol     *policy.Policy
	last    map[string]uint64 // complaint id → its last stream sequence
	ids     map[string]string // fixture name → complaint id
	lastSeq uint64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.StartServer(t)
	nc := ns.Connect(t)
	js := ns.JetStream(t)
	ctx := context.Background()
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.NewDB(t)
	if err := adapters.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	return &env{natsURL: ns.URL, js: js, store: store, pool: pool, pol: pol, last: map[string]uint64{}, ids: map[string]string{}}
}

// add appends one event of the named complaint, as the owning service would.
func (e *env) add(t *testing.T, name, shop string, when time.Time, actor *complaintv1.Actor, payload proto.Message) {
	t.Helper()
	id, ok := e.ids[name]
	if !ok {
		id = uuid.Must(uuid.NewV7()).String()
		e.ids[name] = id
	}
	if actor == nil {
		actor = &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "test"}
	}
	ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: shop, Actor: actor, OccurredAt: when, RecordedAt: when}, payload)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.store.Append(context.Background(), id, e.last[id], enc)
	if err != nil {
		t.Fatalf("append %s to %s: %v", events.TypeOf(ev), name, err)
	}
	e.last[id] = res.Seqs[len(res.Seqs)-1]
	e.lastSeq = max(e.lastSeq, e.last[id])
}

// runProjection runs the live projection until the test ends.
func (e *env) runProjection(t *testing.T) *projection.Runner {
	t.Helper()
	r, err := projection.New(e.pool, e.js, adapters.NewProjection(domain.PolicyPlacer{Policy: e.pol}), projection.Config{
		Name: adapters.ProjectionName, Schema: adapters.Schema, MaxWait: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("projection: %v", err)
		}
	})
	return r
}

// waitFor polls the checkpoint until the projection has applied seq.
func waitFor(t *testing.T, r *projection.Runner, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, err := r.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp >= seq {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("projection at %d, want %d", cp, seq)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sealed = &complaintv1.Sealed{KeyId: "key-1", Nonce: []byte{1, 2, 3}, Ciphertext: []byte("not really encrypted")}

func customer(ref string) *complaintv1.Actor {
	return &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_CUSTOMER, Id: ref}
}

func agent(id string, tier int32) *complaintv1.Actor {
	return &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_AGENT, Id: id, Role: "agent", Tier: tier}
}

func filed(ch complaintv1.Channel, ref, sku, product string, c *complaintv1.Complainant) *complaintv1.ComplaintFiled {
	return &complaintv1.ComplaintFiled{Channel: ch, CustomerRef: ref, OrderId: "O-" + ref, Personal: sealed,
		Items: []*complaintv1.Item{{SkuId: sku, ProductName: product, Quantity: 1, UnitPriceFen: 9900}}, OrderAmountFen: 9900, Complainant: c}
}

func classified(cat string, sev complaintv1.Severity, signals ...string) *complaintv1.ComplaintClassified {
	c := &complaintv1.ComplaintClassified{Category: cat, Severity: sev}
	for _, s := range signals {
		c.RiskSignals = append(c.RiskSignals, &complaintv1.RiskSignal{Code: s, Evidence: "keyword", Weight: 5})
	}
	return c
}

// seedSeason appends the hand-computed fixture season (see the comments of
// TestSeasonReportMatchesTheFixture for every number it should give).
func seedSeason(t *testing.T, e *env) {
	const shop = "demo-flagship"
	y := 2027
	// C1: chat, quality, SKU-A, preparation; answered in 20 s, resolved in 24 h
	// with a 50 yuan refund, the customer kept the item; satisfied; closed.
	e.add(t, "C1", shop, at(y, 3, 5, 10, 0), customer("buyer-c1"), filed(complaintv1.Channel_CHANNEL_ONLINE_CHAT, "buyer-c1", "SKU-A", "保湿面霜 50ml", nil))
	e.add(t, "C1", shop, at(y, 3, 5, 10, 0), nil, classified("quality", complaintv1.Severity_SEVERITY_NORMAL))
	e.add(t, "C1", shop, at(y, 3, 5, 10, 0), nil, &complaintv1.ComplaintRouted{Queue: "after_sales_online"})
	e.add(t, "C1", shop, at(y, 3, 5, 10, 0), nil, &complaintv1.ComplaintAssigned{AgentId: "a1", Queue: "after_sales_online", AgentTier: 1, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO})
	e.add(t, "C1", shop, at(y, 3, 5, 10, 0).Add(20*time.Second), agent("a1", 1), &complaintv1.AgentResponded{AgentId: "a1", Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT, FirstResponse: true, ResponseSeconds: 20, Personal: sealed})
	e.add(t, "C1", shop, at(y, 3, 6, 10, 0), agent("a1", 1), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyKind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, RemedyAmountFen: 5000, ResolvedBy: "a1", Retention: complaintv1.Retention_RETENTION_KEPT})
	e.add(t, "C1", shop, at(y, 3, 6, 10, 0), nil, &complaintv1.FollowUpScheduled{FollowUpId: "f1", Queue: "followup", MaxAttempts: 3})
	e.add(t, "C1", shop, at(y, 3, 7, 10, 0), agent("fu1", 1), &complaintv1.FollowUpAttempted{FollowUpId: "f1", Attempt: 1, Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED, AgentId: "fu1"})
	e.add(t, "C1", shop, at(y, 3, 7, 10, 0), customer("buyer-c1"), &complaintv1.SatisfactionRecorded{FollowUpId: "f1", Satisfaction: complaintv1.Satisfaction_SATISFACTION_SATISFIED, Score: 5, Personal: sealed})
	e.add(t, "C1", shop, at(y, 3, 7, 10, 0), nil, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})

	// C2: hotline, expired goods, filed on the last evening of preparation and
	// worked in battle (spans two phases; counts in preparation by filing).
	// First response after exactly 2 h; a repeat contact; transferred once;
	// escalated to the supervisor; resolved, dissatisfied, reopened, resolved
	// again 106 h after filing; neutral at last; closed.
	e.add(t, "C2", shop, at(y, 3, 10, 23, 0), customer("buyer-c2"), filed(complaintv1.Channel_CHANNEL_HOTLINE_400, "buyer-c2", "SKU-B", "鲜牛奶 1L", nil))
	e.add(t, "C2", shop, at(y, 3, 10, 23, 0), nil, classified("expired_goods", complaintv1.Severity_SEVERITY_HIGH))
	e.add(t, "C2", shop, at(y, 3, 10, 23, 0), nil, &complaintv1.ComplaintAssigned{AgentId: "a2", Queue: "hotline_400", AgentTier: 2, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO})
	e.add(t, "C2", shop, at(y, 3, 11, 1, 0), agent("a2", 2), &complaintv1.AgentResponded{AgentId: "a2", Channel: complaintv1.Channel_CHANNEL_HOTLINE_400, FirstResponse: true, ResponseSeconds: 7200})
	e.add(t, "C2", shop, at(y, 3, 11, 8, 0), customer("buyer-c2"), &complaintv1.ContactAdded{Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT, ContactNumber: 2, Personal: sealed})
	e.add(t, "C2", shop, at(y, 3, 11, 9, 0), agent("a2", 2), &complaintv1.ComplaintTransferred{FromAgentId: "a2", ToAgentId: "a3", FromQueue: "hotline_400", ToQueue: "hotline_400", TransferCount: 1})
	e.add(t, "C2", shop, at(y, 3, 11, 9, 0), nil, &complaintv1.ComplaintAssigned{AgentId: "a3", Queue: "hotline_400", AgentTier: 2, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_TRANSFER})
	e.add(t, "C2", shop, at(y, 3, 11, 10, 0), nil, &complaintv1.ComplaintEscalated{FromLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, Trigger: complaintv1.EscalationTrigger_ESCALATION_TRIGGER_REPEAT_CONTACTS, Queue: "supervisor"})
	e.add(t, "C2", shop, at(y, 3, 12, 11, 0), agent("a3", 2), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, ResolvedBy: "a3", Retention: complaintv1.Retention_RETENTION_NOT_APPLICABLE})
	e.add(t, "C2", shop, at(y, 3, 13, 10, 0), customer("buyer-c2"), &complaintv1.SatisfactionRecorded{FollowUpId: "f2", Satisfaction: complaintv1.Satisfaction_SATISFACTION_DISSATISFIED, Score: 1})
	e.add(t, "C2", shop, at(y, 3, 13, 10, 0), nil, &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP, PreviousOwner: "a3"})
	e.add(t, "C2", shop, at(y, 3, 15, 9, 0), agent("a3", 2), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyKind: complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION, RemedyAmountFen: 2000, ResolvedBy: "a3", Retention: complaintv1.Retention_RETENTION_NOT_APPLICABLE})
	e.add(t, "C2", shop, at(y, 3, 16, 9, 0), customer("buyer-c2"), &complaintv1.SatisfactionRecorded{FollowUpId: "f3", Satisfaction: complaintv1.Satisfaction_SATISFACTION_NEUTRAL, Score: 3})
	e.add(t, "C2", shop, at(y, 3, 16, 9, 0), nil, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_ADMINISTRATIVE})

	// C3: Weibo, quality, SKU-A, battle; a journalist threatening 315: major;
	// escalated to PR; answered in 30 min; a broken promise; the resolution
	// clock breached; still open at report time; the customer's personal data
	// erased.
	e.add(t, "C3", shop, at(y, 3, 12, 9, 0), customer("buyer-c3"), filed(complaintv1.Channel_CHANNEL_WEIBO, "buyer-c3", "SKU-A", "保湿面霜 50ml", &complaintv1.Complainant{Media: true}))
	e.add(t, "C3", shop, at(y, 3, 12, 9, 0), nil, classified("quality", complaintv1.Severity_SEVERITY_MAJOR, "threat_315"))
	e.add(t, "C3", shop, at(y, 3, 12, 9, 0), nil, &complaintv1.ComplaintEscalated{FromLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_PR, Trigger: complaintv1.EscalationTrigger_ESCALATION_TRIGGER_SEVERITY, Queue: "pr"})
	e.add(t, "C3", shop, at(y, 3, 12, 9, 0), nil, &complaintv1.ComplaintAssigned{AgentId: "pr1", Queue: "pr", AgentTier: 3, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO})
	e.add(t, "C3", shop, at(y, 3, 12, 9, 30), agent("pr1", 3), &complaintv1.AgentResponded{AgentId: "pr1", Channel: complaintv1.Channel_CHANNEL_WEIBO, FirstResponse: true, ResponseSeconds: 1800})
	e.add(t, "C3", shop, at(y, 3, 12, 9, 30), agent("pr1", 3), &complaintv1.PromiseMade{PromiseId: "p1", AgentId: "pr1", DueAt: timestamppb.New(at(y, 3, 12, 12, 0))})
	e.add(t, "C3", shop, at(y, 3, 12, 12, 0), nil, &complaintv1.PromiseBroken{PromiseId: "p1", AgentId: "pr1", DueAt: timestamppb.New(at(y, 3, 12, 12, 0))})
	e.add(t, "C3", shop, at(y, 3, 15, 9, 0), nil, &complaintv1.DeadlineBreached{DeadlineId: "d1", Clock: complaintv1.ClockKind_CLOCK_KIND_RESOLUTION, Target: durationpb.New(72 * time.Hour)})
	e.add(t, "C3", shop, at(y, 3, 20, 9, 0), nil, &complaintv1.PersonalDataErased{CustomerRef: "buyer-c3", KeyId: "key-1", Reason: "customer request"})

	// C4: chat, wrong item, battle; answered in 45 s (misses 30 s); a kept
	// promise; resolved after 96 h with an exchange, the item returned; the
	// resolution clock breached; follow-up not reached; closed.
	e.add(t, "C4", shop, at(y, 3, 15, 14, 0), customer("buyer-c4"), filed(complaintv1.Channel_CHANNEL_ONLINE_CHAT, "buyer-c4", "SKU-D", "蓝牙耳机", nil))
	e.add(t, "C4", shop, at(y, 3, 15, 14, 0), nil, classified("logistics_wrong_item", complaintv1.Severity_SEVERITY_NORMAL))
	e.add(t, "C4", shop, at(y, 3, 15, 14, 0), nil, &complaintv1.ComplaintAssigned{AgentId: "a1", Queue: "after_sales_online", AgentTier: 1, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO})
	e.add(t, "C4", shop, at(y, 3, 15, 14, 0).Add(45*time.Second), agent("a1", 1), &complaintv1.AgentResponded{AgentId: "a1", Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT, FirstResponse: true, ResponseSeconds: 45})
	e.add(t, "C4", shop, at(y, 3, 15, 14, 5), agent("a1", 1), &complaintv1.PromiseMade{PromiseId: "p2", AgentId: "a1", DueAt: timestamppb.New(at(y, 3, 15, 15, 0))})
	e.add(t, "C4", shop, at(y, 3, 18, 14, 0), nil, &complaintv1.DeadlineBreached{DeadlineId: "d2", Clock: complaintv1.ClockKind_CLOCK_KIND_RESOLUTION})
	e.add(t, "C4", shop, at(y, 3, 19, 14, 0), agent("a1", 1), &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyKind: complaintv1.RemedyKind_REMEDY_KIND_EXCHANGE, ResolvedBy: "a1", Retention: complaintv1.Retention_RETENTION_RETURNED})
	e.add(t, "C4", shop, at(y, 3, 20, 14, 0), agent("fu1", 1), &complaintv1.FollowUpAttempted{FollowUpId: "f4", Attempt: 1, Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER, AgentId: "fu1"})
	e.add(t, "C4", shop, at(y, 3, 22, 14, 0), nil, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_NO_ANSWER})

	// C5: e-mail, after-sales refusal, aftermath; routed but never assigned
	// or answered; the first-response clock breached; open at report time.
	e.add(t, "C5", shop, at(y, 3, 25, 10, 0), customer("buyer-c5"), filed(complaintv1.Channel_CHANNEL_EMAIL, "buyer-c5", "SKU-C", "空气炸锅", nil))
	e.add(t, "C5", shop, at(y, 3, 25, 10, 0), nil, classified("after_sales_refusal", complaintv1.Severity_SEVERITY_NORMAL))
	e.add(t, "C5", shop, at(y, 3, 25, 10, 0), nil, &complaintv1.ComplaintRouted{Queue: "after_sales_online"})
	e.add(t, "C5", shop, at(y, 3, 26, 10, 0), nil, &complaintv1.DeadlineBreached{DeadlineId: "d3", Clock: complaintv1.ClockKind_CLOCK_KIND_FIRST_RESPONSE})

	// C6: before the season starts: in no season report.
	e.add(t, "C6", shop, at(y, 2, 20, 10, 0), customer("buyer-c6"), filed(complaintv1.Channel_CHANNEL_EMAIL, "buyer-c6", "SKU-C", "空气炸锅", nil))
	// C7: another shop.
	e.add(t, "C7", "demo-outlet", at(y, 3, 12, 10, 0), customer("buyer-c7"), filed(complaintv1.Channel_CHANNEL_EMAIL, "buyer-c7", "SKU-C", "空气炸锅", nil))

	// Last season: one complaint in preparation (03-01), one in battle (03-12).
	e.add(t, "L1", shop, at(y-1, 3, 1, 10, 0), customer("buyer-l1"), filed(complaintv1.Channel_CHANNEL_EMAIL, "buyer-l1", "SKU-C", "空气炸锅", nil))
	e.add(t, "L2", shop, at(y-1, 3, 12, 10, 0), customer("buyer-l2"), filed(complaintv1.Channel_CHANNEL_EMAIL, "buyer-l2", "SKU-C", "空气炸锅", nil))
}
