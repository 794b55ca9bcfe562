package adapters_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/routing/internal/adapters"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/domain"
	"github.com/kesu315/kesu/services/routing/internal/ports"
)

// Sizes: the full size with KESU_BENCH_FULL=1, a tenth otherwise so
// `make bench` stays short.
func benchSize() (agents, open int) {
	if os.Getenv("KESU_BENCH_FULL") == "1" {
		return 5000, 100_000
	}
	return 500, 10_000
}

var benchCategories = []string{"quality", "logistics_wrong_item", "price_size_error", "service_attitude", "counterfeit", "promotion_rules", "after_sales_refusal"}
var benchChannels = []complaintv1.Channel{complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_HOTLINE_400,
	complaintv1.Channel_CHANNEL_EMAIL, complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION}

// benchAgents spreads n agents over the queues with loads that leave most
// of them some room, as in a busy hour.
func benchAgents(pol *policy.Policy, n int, rng *rand.Rand) []*domain.Agent {
	out := make([]*domain.Agent, n)
	for i := range out {
		skills := []string{}
		for len(skills) < 3 {
			q := pol.Queues[rng.IntN(len(pol.Queues))].ID
			if !slices.Contains(skills, q) {
				skills = append(skills, q)
			}
		}
		a := &domain.Agent{ID: fmt.Sprintf("agent-%05d", i), Tier: 1 + rng.IntN(3), Skills: skills, Capacity: 6 + rng.IntN(10), Presence: domain.PresenceOnline}
		a.Load = rng.IntN(a.Capacity)
		if rng.IntN(10) == 0 {
			a.Presence = domain.PresenceAway
		}
		out[i] = a
	}
	return out
}

func benchWork(t testing.TB, rng *rand.Rand, at time.Time) (*domain.Work, *complaintv1.Event) {
	id := uuid.Must(uuid.NewV7()).String()
	env := events.Envelope{ComplaintID: id, ShopID: "demo-flagship", RecordedAt: at}
	f, _ := events.New(env, &complaintv1.ComplaintFiled{Channel: benchChannels[rng.IntN(len(benchChannels))], ClaimedAmountFen: int64(rng.IntN(500_00)),
		Complainant: &complaintv1.Complainant{Vip: rng.IntN(20) == 0}})
	c, _ := events.New(env, &complaintv1.ComplaintClassified{Category: benchCategories[rng.IntN(len(benchCategories))],
		Severity: complaintv1.Severity(1 + rng.IntN(2)), Phase: "battle"})
	w := &domain.Work{}
	w.Evolve(f, 1)
	w.Evolve(c, 2)
	return w, c
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAssignmentDecision measures routing's decision for a classified
// complaint (policy rules, then the least loaded agent of the skill group
// within capacity) against 5 000 agents; the baseline is the least work any
// decision needs: one scan of the skill group for its minimum load.
func BenchmarkAssignmentDecision(b *testing.B) {
	pol, err := policy.Load("../../../../deploy/config/kesu.yaml")
	if err != nil {
		b.Fatal(err)
	}
	nAgents, _ := benchSize()
	rng := rand.New(rand.NewPCG(1, 2))
	agents := benchAgents(pol, nAgents, rng)
	pool := domain.NewPool(agents)
	const n = 4096
	works := make([]*domain.Work, n)
	causes := make([]*complaintv1.Event, n)
	for i := range works {
		works[i], causes[i] = benchWork(b, rng, t0)
	}
	bySkill := map[string][]*domain.Agent{}
	for _, a := range agents {
		for _, s := range a.Skills {
			bySkill[s] = append(bySkill[s], a)
		}
	}
	queues := make([]string, n)
	for i, w := range works {
		queues[i] = pol.Route(w.RouteInput()).Queue
	}

	start := time.Now()
	var sink int
	for i := range b.N {
		best, load := -1, 1<<30
		for j, a := range bySkill[queues[i%n]] {
			if a.Load < load {
				best, load = j, a.Load
			}
		}
		sink += best
	}
	baseline := time.Since(start)
	b.ResetTimer()
	cpu0 := cpuTime()
	assigned := 0
	for i := range b.N {
		k := i % n
		w := *works[k] // decide on a copy: every iteration sees the same complaint
		out := domain.React(&w, domain.StatusNone, causes[k], pol, pool)
		if len(out) == 2 {
			assigned++
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	el := b.Elapsed()
	b.ReportMetric(float64(b.N)/el.Seconds(), "decisions/s")
	// The machine is shared: per CPU-second of this process is what one
	// core would do undisturbed.
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "decisions/cpu-s")
	b.ReportMetric(float64(b.N)/baseline.Seconds(), "baseline-scans/s")
	b.ReportMetric(baseline.Seconds()/el.Seconds(), "ratio")
	b.ReportMetric(float64(assigned)/float64(b.N), "assigned-fraction")
	_ = sink
}

// BenchmarkAssignmentAppended measures a whole reaction as the projection
// runs it: load the complaint's stream, decide, append ComplaintRouted +
// ComplaintAssigned with optimistic concurrency. Baseline: one plain
// synchronous JetStream publish of the same bytes.
func BenchmarkAssignmentAppended(b *testing.B) {
	h := start(b)
	h.stop() // the reactor is driven by hand here
	nAgents, _ := benchSize()
	rng := rand.New(rand.NewPCG(3, 4))
	pool := domain.NewPool(benchAgents(h.pol, nAgents, rng))
	ctx := context.Background()
	causes := make([]*complaintv1.Event, b.N)
	for i := range causes {
		w, c := benchWork(b, rng, t0)
		f, _ := events.New(events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, RecordedAt: t0},
			&complaintv1.ComplaintFiled{Channel: w.Channel, ClaimedAmountFen: w.AmountFen})
		encF, _ := events.Encode(f)
		encC, _ := events.Encode(c)
		if _, err := h.store.Append(ctx, w.ComplaintID, 0, encF, encC); err != nil {
			b.Fatal(err)
		}
		causes[i] = c
	}
	payload, _ := proto.Marshal(causes[0])
	base := time.Now()
	for i := range b.N {
		if _, err := h.js.Publish(ctx, "complaints."+uuid.Must(uuid.NewV7()).String(), payload, jetstream.WithMsgID(fmt.Sprint("bench-", i))); err != nil {
			b.Fatal(err)
		}
	}
	baseline := time.Since(base)
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := h.svc.React(ctx, causes[i], pool); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	el := b.Elapsed()
	b.ReportMetric(float64(b.N)/el.Seconds(), "assignments/s")
	b.ReportMetric(float64(b.N)/baseline.Seconds(), "baseline-publishes/s")
	b.ReportMetric(baseline.Seconds()/el.Seconds(), "ratio")
}

// BenchmarkListQueue measures ListQueue (first page with the queue's stats,
// through the API with auth) over 100 000 open complaints and 5 000 agents,
// and reports its p99: as the binary runs it (stats at most a second old,
// refreshed in the background) and with the stats read on every call.
// Baseline: the same page as one plain SQL query without the stats.
func BenchmarkListQueue(b *testing.B) {
	h := start(b, func(d *app.Deps) { d.StatsMaxAge = time.Second })
	h.stop()
	ctx := context.Background()
	nAgents, nOpen := benchSize()
	rng := rand.New(rand.NewPCG(5, 6))
	// The roster.
	for _, a := range benchAgents(h.pol, nAgents, rng) {
		if _, err := h.db.Exec(ctx, `INSERT INTO routing.agents (agent_id, tier, skills, capacity, presence, presence_since, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
			a.ID, a.Tier, a.Skills, a.Capacity, int(a.Presence), t0); err != nil {
			b.Fatal(err)
		}
	}
	// The open complaints, written by the projection's own rebuild path.
	proj := adapters.NewProjection(h.pol, nil, nil, nil)
	tx, err := h.db.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := proj.Reset(ctx, tx); err != nil {
		b.Fatal(err)
	}
	recs := make([]eventstore.Record, 0, 4096)
	seq := uint64(0)
	flush := func() {
		if err := proj.Stage(ctx, tx, recs); err != nil {
			b.Fatal(err)
		}
		recs = recs[:0]
	}
	add := func(ev *complaintv1.Event) {
		e, err := events.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		seq++
		recs = append(recs, eventstore.Record{Event: e, ComplaintID: ev.GetComplaintId(), StreamSeq: seq})
		if len(recs) == cap(recs) {
			flush()
		}
	}
	agents := benchAgents(h.pol, nAgents, rand.New(rand.NewPCG(5, 6)))
	for i := range nOpen {
		at := t0.Add(-time.Duration(rng.IntN(72*60)) * time.Minute)
		w, c := benchWork(b, rng, at)
		f, _ := events.New(events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, RecordedAt: at},
			&complaintv1.ComplaintFiled{Channel: w.Channel, ClaimedAmountFen: w.AmountFen})
		add(f)
		add(c)
		d := h.pol.Route(w.RouteInput())
		r, _ := events.New(events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, RecordedAt: at},
			&complaintv1.ComplaintRouted{Queue: d.Queue, TierRequired: int32(d.Tier), Priority: int32(d.Priority), Rule: d.Rule})
		add(r)
		if i%3 != 0 { // two thirds held by someone
			a := agents[rng.IntN(len(agents))]
			as, _ := events.New(events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, RecordedAt: at},
				&complaintv1.ComplaintAssigned{AgentId: a.ID, Queue: d.Queue, AgentTier: int32(a.Tier)})
			add(as)
		}
	}
	flush()
	if err := proj.Merge(ctx, tx); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := h.db.Exec(ctx, "VACUUM ANALYZE routing.items"); err != nil {
		b.Fatal(err)
	}
	queues := []string{"after_sales_online", "refund", "order", "negative_review", "platform"}

	// Baseline: the page alone, plain SQL.
	base := make([]time.Duration, 0, b.N)
	for i := range b.N {
		s := time.Now()
		rows, err := h.db.Query(ctx, `SELECT complaint_id, queue, owner, due_at FROM routing.items WHERE status = 1 AND queue = $1
			ORDER BY sev_rank, due_at, filed_at, complaint_id LIMIT 50`, queues[i%len(queues)])
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
		base = append(base, time.Since(s))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		s := time.Now()
		res, err := h.api.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: queues[i%len(queues)], PageSize: 50})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.GetItems()) == 0 {
			b.Fatal("empty queue")
		}
		lat = append(lat, time.Since(s))
	}
	b.StopTimer()
	fresh, err := app.New(app.Deps{Store: h.store, Roster: h.roster, Views: adapters.NewReader(h.db), Clock: h.clk, Policy: h.pol})
	if err != nil {
		b.Fatal(err)
	}
	freshAPI := ports.New(fresh, nil)
	flat := make([]time.Duration, 0, b.N)
	for i := range b.N {
		s := time.Now()
		if _, err := freshAPI.ListQueue(supervisor, &routingv1.ListQueueRequest{Queue: queues[i%len(queues)], PageSize: 50}); err != nil {
			b.Fatal(err)
		}
		flat = append(flat, time.Since(s))
	}
	p99 := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, len(d)*99/100)]
	}
	lp, bp, fp := p99(lat), p99(base), p99(flat)
	b.ReportMetric(float64(fp.Microseconds())/1000, "p99-fresh-stats-ms")
	b.ReportMetric(float64(lp.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(bp.Microseconds())/1000, "baseline-p99-ms")
	b.ReportMetric(float64(lp)/float64(bp), "ratio")
	b.ReportMetric(float64(nOpen), "open-complaints")
}
