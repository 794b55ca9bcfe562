package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters"
	"github.com/kesu315/kesu/services/followup/internal/app"
	"github.com/kesu315/kesu/services/followup/internal/ports"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/inbound"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/pii"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const shop = "demo-flagship"

// rig is followup's parts wired as Run wires them, on a real NATS server
// and a real PostgreSQL database, with a Manual clock: the projection and
// the survey consumer run; the poller is driven by the test (settle).
type rig struct {
	t       testing.TB
	ctx     context.Context
	js      jetstream.JetStream
	store   *eventstore.Store
	pool    *pgxpool.Pool
	clock   *clock.Manual
	pol     *policy.Policy
	svc     *app.Service
	api     *ports.Server
	poller  *adapters.Poller
	runner  *projection.Runner
	stopRun context.CancelFunc
	runDone chan error
}

func newRig(t testing.TB, start time.Time) *rig {
	t.Helper()
	timeout := 2 * time.Minute
	if _, ok := t.(*testing.B); ok {
		timeout = 30 * time.Minute // full-size benchmarks set up tens of thousands of complaints
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	ns := natstest.StartServer(t)
	nc := ns.Connect(t)
	js := ns.JetStream(t)
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{}); err != nil {
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
	pol, err := policy.Load("../../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pii.NewKeyring(pool, adapters.Schema, make([]byte, 32), pii.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(start)
	svc, err := app.New(app.Deps{Store: store, Keys: keys, Views: adapters.NewReader(pool), Clock: clk, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	poller, err := adapters.NewPoller(pool, svc, adapters.PollerConfig{Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, js: js, store: store, pool: pool, clock: clk, pol: pol, svc: svc,
		api: ports.NewServer(svc, log), poller: poller}
	r.startProjection()
	surveys, err := adapters.NewSurveys(js, svc, inbound.Config{Clock: clk, Logger: log, MaxWait: 200 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan error, 1)
	go func() { sdone <- surveys.Run(sctx) }()
	t.Cleanup(func() {
		scancel()
		<-sdone
		r.stopProjection()
	})
	return r
}

func (r *rig) startProjection() {
	log := slog.New(slog.NewTextHandler(testWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runner, err := projection.New(r.pool, r.js, adapters.NewProjection(), projection.Config{
		Name: adapters.ProjectionName, Schema: adapters.Schema, Logger: log, MaxWait: 200 * time.Millisecond,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.runner, r.stopRun, r.runDone = runner, cancel, make(chan error, 1)
	go func() { r.runDone <- runner.Run(ctx) }()
}

func (r *rig) stopProjection() {
	if r.stopRun == nil {
		return
	}
	r.stopRun()
	if err := <-r.runDone; err != nil {
		r.t.Errorf("projection stopped with %v", err)
	}
	r.stopRun = nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (r *rig) as(role auth.Role, subject string) context.Context {
	return auth.WithIdentity(r.ctx, auth.Identity{Subject: subject, Role: role, Tier: 1})
}

// eventually polls cond until it holds or the deadline passes.
func (r *rig) eventually(what string, cond func() (bool, error)) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			r.t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// caughtUp waits until the projection has applied every event in the stream.
func (r *rig) caughtUp() {
	r.t.Helper()
	r.eventually("projection caught up", func() (bool, error) {
		s, err := r.js.Stream(r.ctx, eventstore.StreamComplaints)
		if err != nil {
			return false, err
		}
		cp, err := r.runner.Checkpoint(r.ctx)
		if err != nil {
			return false, nil // not created yet
		}
		return cp >= s.CachedInfo().State.LastSeq, nil
	})
}

// settle lets the projection catch up and the poller fire every due timer,
// until nothing more happens.
func (r *rig) settle() {
	r.t.Helper()
	for range 20 {
		r.caughtUp()
		n, err := r.poller.RunOnce(r.ctx)
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	r.t.Fatal("timers kept firing")
}

// complaint appends what intake and routing would: filed, classified,
// assigned, optionally resolved. It returns the complaint id.
func (r *rig) complaint(sev complaintv1.Severity, owner string, resolve bool, extra ...proto.Message) string {
	r.t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	p := []proto.Message{
		&complaintv1.ComplaintFiled{Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT, CustomerRef: "cust-" + id[:8],
			ExternalRef:      &complaintv1.ExternalRef{Source: "tmall", ExternalId: "TM-" + id},
			ExpectedRemedies: []complaintv1.RemedyKind{complaintv1.RemedyKind_REMEDY_KIND_REFUND}},
		&complaintv1.ComplaintClassified{Severity: sev, Category: "quality"},
	}
	if owner != "" {
		p = append(p, &complaintv1.ComplaintAssigned{AgentId: owner, Queue: "after_sales_online"})
	}
	p = append(p, extra...)
	if resolve {
		p = append(p, &complaintv1.ComplaintResolved{ResolvedBy: owner, Outcome: complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED})
	}
	r.append(id, p...)
	return id
}

// append appends events as another service would.
func (r *rig) append(id string, payloads ...proto.Message) {
	r.t.Helper()
	recs, err := r.store.Load(r.ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	var expected uint64
	if len(recs) > 0 {
		expected = recs[len(recs)-1].StreamSeq
	}
	var evs []eventstore.Event
	for _, p := range payloads {
		ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: shop, RecordedAt: r.clock.Now(),
			Actor: &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "test"}}, p)
		if err != nil {
			r.t.Fatal(err)
		}
		enc, err := events.Encode(ev)
		if err != nil {
			r.t.Fatal(err)
		}
		evs = append(evs, enc)
	}
	if _, err := r.store.Append(r.ctx, id, expected, evs...); err != nil {
		r.t.Fatal(err)
	}
}

// history is the complaint's decoded events.
func (r *rig) history(id string) []*complaintv1.Event {
	r.t.Helper()
	recs, err := r.store.Load(r.ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	evs, err := events.DecodeAll(recs)
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// count counts a complaint's events of a type.
func (r *rig) count(id, typ string) int {
	n := 0
	for _, ev := range r.history(id) {
		if events.TypeOf(ev) == typ {
			n++
		}
	}
	return n
}

func (r *rig) last(id, typ string) *complaintv1.Event {
	var out *complaintv1.Event
	for _, ev := range r.history(id) {
		if events.TypeOf(ev) == typ {
			out = ev
		}
	}
	if out == nil {
		r.t.Fatalf("complaint %s has no %s", id, typ)
	}
	return out
}

func (r *rig) pending() int {
	n, err := r.poller.Pending(r.ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// refire puts a timer back, as a crash before its delete would leave it.
func (r *rig) refire(id, kind, ref string) {
	r.t.Helper()
	if _, err := r.pool.Exec(r.ctx, `INSERT INTO followup.timers (complaint_id, kind, ref, shop_id, due_at) VALUES ($1, $2, $3, $4, $5)`,
		id, kind, ref, shop, r.clock.Now()); err != nil {
		r.t.Fatal(err)
	}
}

func errIs(err, target error) bool { return errors.Is(err, target) }

var _ = fmt.Sprint
