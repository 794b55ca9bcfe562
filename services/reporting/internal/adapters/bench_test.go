package adapters_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/adapters"
	"github.com/kesu315/kesu/services/reporting/internal/app"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
	"github.com/kesu315/kesu/services/reporting/internal/render"
)

var (
	benchChannels   = []complaintv1.Channel{complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Channel_CHANNEL_EMAIL, complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_ODR_12315, complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION}
	benchCategories = []string{"quality", "expired_goods", "price_size_error", "promotion_rules", "false_advertising", "counterfeit", "logistics_wrong_item", "after_sales_refusal", "service_attitude", "privacy", "other"}
	benchQueues     = []string{"after_sales_online", "hotline_400", "refund", "order", "vip", "negative_review"}
)

// seasonGen generates a season's events complaint by complaint, about 20 per
// complaint, with the mix of the real thing: responses, repeat contacts,
// transfers, promises, remedies, breaches, escalations, follow-ups, reopens.
type seasonGen struct {
	rng   *rand.Rand
	seq   uint64
	start time.Time
}

func (g *seasonGen) complaint(i int) []eventstore.Record {
	r := g.rng
	id := uuid.Must(uuid.NewV7()).String()
	shop := "demo-flagship"
	filedAt := g.start.Add(time.Duration(r.Int64N(int64(45 * 24 * time.Hour))))
	t := filedAt
	var out []eventstore.Record
	add := func(d time.Duration, actor *complaintv1.Actor, p proto.Message) {
		t = t.Add(d)
		ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: shop, Actor: actor, OccurredAt: t, RecordedAt: t}, p)
		if err != nil {
			panic(err)
		}
		enc, err := events.Encode(ev)
		if err != nil {
			panic(err)
		}
		g.seq++
		out = append(out, eventstore.Record{Event: enc, ComplaintID: id, Subject: "complaints." + id, StreamSeq: g.seq, Stored: t})
	}
	sys := &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "routing"}
	cust := &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_CUSTOMER, Id: fmt.Sprintf("buyer-%d", i)}
	agentID := fmt.Sprintf("agent-%03d", r.IntN(400))
	tier := int32(1 + r.IntN(3))
	ag := &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_AGENT, Id: agentID, Role: "agent", Tier: tier}
	ch := benchChannels[r.IntN(len(benchChannels))]
	sku := r.IntN(2000)
	add(0, cust, &complaintv1.ComplaintFiled{Channel: ch, CustomerRef: cust.Id, OrderId: fmt.Sprintf("O-%d", i), Personal: sealed,
		Items:          []*complaintv1.Item{{SkuId: fmt.Sprintf("SKU-%04d", sku), ProductName: fmt.Sprintf("商品 %04d", sku), Quantity: 1, UnitPriceFen: 9900}},
		OrderAmountFen: 9900, ClaimedAmountFen: int64(r.IntN(3)) * 9900, Complainant: &complaintv1.Complainant{Media: r.IntN(200) == 0}})
	sev := complaintv1.Severity_SEVERITY_NORMAL
	var signals []*complaintv1.RiskSignal
	if r.IntN(25) == 0 {
		sev = complaintv1.Severity_SEVERITY_MAJOR
		signals = append(signals, &complaintv1.RiskSignal{Code: "threat_315", Evidence: "315", Weight: 5})
	}
	add(0, sys, &complaintv1.ComplaintClassified{Category: benchCategories[r.IntN(len(benchCategories))], Severity: sev, RiskSignals: signals})
	add(0, sys, &complaintv1.EvidenceAttached{EvidenceId: "e1", Kind: complaintv1.EvidenceKind_EVIDENCE_KIND_PHOTO, Personal: sealed})
	add(0, sys, &complaintv1.ExternalRefLinked{Ref: &complaintv1.ExternalRef{Source: "tmall", ExternalId: id}, Channel: ch})
	q := benchQueues[r.IntN(len(benchQueues))]
	add(0, sys, &complaintv1.ComplaintRouted{Queue: q, TierRequired: tier, Priority: 30})
	add(time.Duration(r.IntN(600))*time.Second, sys, &complaintv1.ComplaintAssigned{AgentId: agentID, Queue: q, AgentTier: tier, Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO})
	frs := int64(5 + r.ExpFloat64()*900)
	t = filedAt.Add(time.Duration(frs) * time.Second)
	add(0, ag, &complaintv1.AgentResponded{AgentId: agentID, Channel: ch, FirstResponse: true, ResponseSeconds: frs, Personal: sealed})
	if r.IntN(10) < 3 {
		add(time.Hour, cust, &complaintv1.ContactAdded{Channel: ch, ContactNumber: 2, Personal: sealed})
		add(10*time.Minute, ag, &complaintv1.AgentResponded{AgentId: agentID, Channel: ch, ResponseSeconds: 600, Personal: sealed})
	}
	if r.IntN(100) < 15 {
		add(time.Hour, ag, &complaintv1.ComplaintTransferred{FromAgentId: agentID, ToAgentId: "agent-999", FromQueue: q, ToQueue: "refund", TransferCount: 1})
	}
	if r.IntN(10) < 3 {
		add(time.Minute, ag, &complaintv1.PromiseMade{PromiseId: "p1", AgentId: agentID})
		if r.IntN(3) == 0 {
			add(time.Hour, sys, &complaintv1.PromiseBroken{PromiseId: "p1", AgentId: agentID})
		}
	}
	if sev == complaintv1.Severity_SEVERITY_MAJOR || r.IntN(10) == 0 {
		add(time.Minute, sys, &complaintv1.ComplaintEscalated{FromLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, Trigger: complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BREACH, Queue: "supervisor"})
	}
	add(time.Minute, ag, &complaintv1.AgentResponded{AgentId: agentID, Channel: ch, ResponseSeconds: 60, Personal: sealed})
	if r.IntN(20) == 0 {
		return out // still open at the end of the season
	}
	hours := time.Duration(1+r.ExpFloat64()*40) * time.Hour
	if hours > 72*time.Hour {
		add(0, sys, &complaintv1.DeadlineBreached{DeadlineId: "d1", Clock: complaintv1.ClockKind_CLOCK_KIND_RESOLUTION, Target: durationpb.New(72 * time.Hour)})
	}
	kind := complaintv1.RemedyKind(1 + r.IntN(6))
	amount := int64(r.IntN(200)) * 100
	add(hours/2, ag, &complaintv1.RemedyProposed{RemedyId: "r1", Kind: kind, AmountFen: amount, ProposedBy: agentID})
	add(time.Minute, ag, &complaintv1.RemedyApproved{RemedyId: "r1", ApprovedBy: agentID, AmountFen: amount})
	add(hours/2, ag, &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED, RemedyKind: kind, RemedyAmountFen: amount, ResolvedBy: agentID, Retention: complaintv1.Retention(1 + r.IntN(3))})
	add(0, sys, &complaintv1.FollowUpScheduled{FollowUpId: "f1", Queue: "followup", MaxAttempts: 3})
	add(24*time.Hour, ag, &complaintv1.FollowUpAttempted{FollowUpId: "f1", Attempt: 1, Outcome: complaintv1.FollowUpOutcome(1 + r.IntN(2)), AgentId: "fu-1"})
	sat := complaintv1.Satisfaction(1 + r.IntN(3))
	add(0, cust, &complaintv1.SatisfactionRecorded{FollowUpId: "f1", Satisfaction: sat, Score: int32(5 - 2*(int(sat)-1)), Personal: sealed})
	if sat == complaintv1.Satisfaction_SATISFACTION_DISSATISFIED && r.IntN(2) == 0 {
		add(time.Hour, sys, &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP})
		add(24*time.Hour, ag, &complaintv1.ComplaintResolved{Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED, ResolvedBy: agentID})
	}
	add(time.Hour, sys, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	return out
}

// chunks yields the season in stream order, complaints interleaved a
// window at a time as a live season interleaves them, chunk by chunk: the
// caller keeps each chunk encoded (generateSeason), so a full-size season's
// records never sit in memory at once.
func (g *seasonGen) chunks(n, chunk int, fn func([]eventstore.Record) error) error {
	const window = 64
	buf := make([]eventstore.Record, 0, chunk)
	for i := 0; i < n; i += window {
		var lists [][]eventstore.Record
		for j := i; j < min(i+window, n); j++ {
			lists = append(lists, g.complaint(j))
		}
		for more := true; more; {
			more = false
			for k := range lists {
				if len(lists[k]) == 0 {
					continue
				}
				more = true
				buf = append(buf, lists[k][0])
				lists[k] = lists[k][1:]
				if len(buf) == chunk {
					if err := fn(buf); err != nil {
						return err
					}
					buf = make([]eventstore.Record, 0, chunk)
				}
			}
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// resequence renumbers a chunk in stream order (the interleaving moved events).
func (g *seasonGen) resequence(recs []eventstore.Record, next *uint64) {
	for i := range recs {
		*next++
		recs[i].StreamSeq = *next
	}
}

// BenchmarkRebuild loads a generated season through the projection's own
// rebuild path (Reset, Stage per chunk, Merge: decode, fold, COPY) in one
// transaction, and in the same run COPYs exactly the rows it produced into
// twins of the tables (same columns and indexes), once through pgx's
// CopyFrom and once as PostgreSQL's binary COPY stream: the baselines. The
// season is generated before the timed span. JetStream's replay is not in
// this path: the rebuild test runs Runner.Rebuild through JetStream, for
// equality.
func BenchmarkRebuild(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewDB(b)
	if err := adapters.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	pol, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	n, err := benchComplaints()
	if err != nil {
		b.Fatal(err)
	}
	season := generateSeason(b, n)
	var ms []metric
	for b.Loop() {
		ld := loadSeason(b, pool, pol, season)
		cp := copyBaseline(b, pool)
		raw := rawCopyBaseline(b, pool)
		for _, tab := range baselineTables {
			if _, err := pool.Exec(ctx, "DROP TABLE public.copy_"+tab+", public.raw_"+tab); err != nil {
				b.Fatal(err)
			}
		}
		ms = loadMetrics(season, ld, cp, raw)

		// Breakdown: decoding and folding alone (no COPY), same events, at
		// the GOGC a rebuild runs with.
		gc := debug.SetGCPercent(adapters.RebuildGCPercent)
		foldProj := adapters.NewProjection(domain.PolicyPlacer{Policy: pol})
		var foldTook time.Duration
		for i := range season.chunks {
			recs := season.chunk(i)
			t := time.Now()
			if _, err := foldProj.FoldOnly(recs); err != nil {
				b.Fatal(err)
			}
			foldTook += time.Since(t)
		}
		debug.SetGCPercent(gc)
		ms = append(ms, metric{float64(season.events) / foldTook.Seconds(), "fold_events/s"})
	}
	for _, m := range ms {
		b.ReportMetric(m.v, m.unit)
	}
}

// BenchmarkReport builds the season report (and renders its HTML) for a
// season loaded by the projection's rebuild path: every section, from the
// aggregates of the per-complaint facts. The baseline is one plain count(*)
// over the season's facts in the same run. The load is measured beside its
// plain-COPY baseline as in BenchmarkRebuild, so that a full-size run
// (KESU_BENCH_FULL=1) gives both figures from one generated season.
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.NewDB(b)
	if err := adapters.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	pol, err := policy.Load(policyPath)
	if err != nil {
		b.Fatal(err)
	}
	n, err := benchComplaints()
	if err != nil {
		b.Fatal(err)
	}
	season := generateSeason(b, n)
	ld := loadSeason(b, pool, pol, season)
	season.release() // the report does not need it: give the memory back
	cp := copyBaseline(b, pool)
	raw := rawCopyBaseline(b, pool)
	// Metrics reported before b.Loop would be cleared by it: keep them for after.
	ms := loadMetrics(season, ld, cp, raw)
	fmt.Fprintf(os.Stderr, "load: %v\n", ms)
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE reporting.complaint_facts, reporting.escalations"); err != nil {
		b.Fatal(err)
	}
	svc := app.New(adapters.NewStore(pool), pol, clock.NewManual(at(2027, 4, 11, 0, 0)))
	actx := auth.WithIdentity(ctx, auth.Identity{Subject: "bench", Role: auth.RoleBI})
	var count int64
	t0 := time.Now()
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM reporting.complaint_facts WHERE shop_id = 'demo-flagship' AND season = 2027").Scan(&count); err != nil {
		b.Fatal(err)
	}
	countTook := time.Since(t0)
	lb := domain.Labeler{Policy: pol}
	var took time.Duration
	for b.Loop() {
		t := time.Now()
		r, err := svc.Report(actx, app.ReportRequest{Season: 2027, ShopID: "demo-flagship"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := render.Render(r, render.FormatHTML, lb); err != nil {
			b.Fatal(err)
		}
		took = time.Since(t)
		if r.Overview.Total.Complaints != int64(n) || count != int64(n) {
			b.Fatalf("report counts %d complaints, want %d", r.Overview.Total.Complaints, n)
		}
	}
	for _, m := range ms {
		b.ReportMetric(m.v, m.unit)
	}
	b.ReportMetric(took.Seconds()*1000, "report_ms")
	b.ReportMetric(countTook.Seconds()*1000, "count_ms")
	b.ReportMetric(took.Seconds()/countTook.Seconds(), "report/count")
}
