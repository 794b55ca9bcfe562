package adapters_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
	"github.com/kesu315/kesu/services/escalation/internal/adapters"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	hmacKey     = "test-hmac-key-that-is-long-enough-for-hs256"
	shippedPath = "../../../../deploy/config/kesu.yaml"
	shop        = "demo-flagship"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// t0 is off season, a Wednesday: no phase or holiday changes the targets.
var t0 = time.Date(2026, 6, 10, 10, 0, 0, 0, shanghai)

// world is the NATS server and database one or more escalation instances share.
type world struct {
	t     *testing.T
	ns    *natstest.Server
	js    jetstream.JetStream
	store *eventstore.Store
	dbURL string
	pool  *pgxpool.Pool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ns := natstest.StartServer(t)
	nc := ns.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: 1}); err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDBURL(t)
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &world{t: t, ns: ns, js: js, store: store, dbURL: dbURL, pool: pool}
}

// instance is one escalation process, in-process exactly as its binary runs it.
type instance struct {
	client escalationv1.EscalationServiceClient
	poller *adapters.Poller
	stop   func()
}

type startOpts struct {
	clock      clock.Clock
	policyPath string
	opts       adapters.Options
}

func (w *world) start(so startOpts) *instance {
	t := w.t
	t.Helper()
	if so.policyPath == "" {
		so.policyPath = shippedPath
	}
	env := map[string]string{
		"KESU_STREAM_REPLICAS": "1",
		"KESU_ENV":             "dev",
		"KESU_GRPC_ADDR":       "127.0.0.1:0",
		"KESU_HTTP_ADDR":       "127.0.0.1:0",
		"NATS_URL":             w.ns.URL,
		"DATABASE_URL":         w.dbURL,
		"KESU_POLICY":          so.policyPath,
		"KESU_AUTH_HMAC_KEY":   hmacKey,
		"KESU_PII_KEK":         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"KESU_LOG_LEVEL":       "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	type started struct {
		addr   string
		poller *adapters.Poller
	}
	ready := make(chan started, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, "escalation", service.Env{
			Args: []string{"serve"}, Getenv: func(k string) string { return env[k] }, Stdout: testLog{t}, Stderr: testLog{t},
		}, func(ctx context.Context, rt *service.Runtime) error {
			if so.clock != nil {
				rt.Clock = so.clock
			}
			var p *adapters.Poller
			o := so.opts
			o.Started = func(x *adapters.Poller) { p = x }
			if err := adapters.RunWith(ctx, rt, o); err != nil {
				return err
			}
			ready <- started{rt.GRPCAddr().String(), p}
			return nil
		}, service.WithMigrate(adapters.MigrateHook), service.WithPolicy(adapters.Policy()))
	}()
	var st started
	select {
	case st = <-ready:
	case err := <-done:
		t.Fatalf("escalation did not start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("escalation did not start within a minute")
	}
	conn, err := grpc.NewClient(st.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("escalation stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return &instance{client: escalationv1.NewEscalationServiceClient(conn), poller: st.poller, stop: stop}
}

type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func as(t testing.TB, role auth.Role) context.Context {
	t.Helper()
	tok, err := auth.Mint([]byte(hmacKey), auth.ClaimsFor(auth.Identity{Subject: string(role) + "-1", Role: role, Tier: tierOf(role)}), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(testCtx(t), "authorization", "Bearer "+tok)
}

func tierOf(r auth.Role) int {
	if r == auth.RoleAgent {
		return 1
	}
	return 0
}

// appendEvents appends payloads to a complaint as other services would.
func (w *world) appendEvents(id string, at time.Time, payloads ...proto.Message) uint64 {
	t := w.t
	t.Helper()
	ctx := testCtx(t)
	recs, err := w.store.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var expected uint64
	if len(recs) > 0 {
		expected = recs[len(recs)-1].StreamSeq
	}
	evs := make([]eventstore.Event, 0, len(payloads))
	for _, p := range payloads {
		ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: shop, OccurredAt: at, RecordedAt: at,
			Actor: &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "test"}}, p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	app, err := w.store.Append(ctx, id, expected, evs...)
	if err != nil {
		t.Fatal(err)
	}
	return app.Last()
}

type filing struct {
	channel  complaintv1.Channel
	severity complaintv1.Severity
	category string
	signals  []string
	sku      string
}

// file appends ComplaintFiled + ComplaintClassified, as intake does, and
// waits until the projection has it.
func (w *world) file(at time.Time, f filing) string {
	w.t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	if f.category == "" {
		f.category = "product_quality"
	}
	if f.severity == 0 {
		f.severity = complaintv1.Severity_SEVERITY_NORMAL
	}
	if f.sku == "" {
		f.sku = "SKU-" + id[len(id)-6:]
	}
	var sigs []*complaintv1.RiskSignal
	for _, s := range f.signals {
		sigs = append(sigs, &complaintv1.RiskSignal{Code: s})
	}
	seq := w.appendEvents(id, at,
		&complaintv1.ComplaintFiled{Channel: f.channel, Items: []*complaintv1.Item{{SkuId: f.sku}}},
		&complaintv1.ComplaintClassified{Category: f.category, Severity: f.severity, RiskSignals: sigs})
	w.waitProjected(id, seq)
	return id
}

// waitProjected polls until the projection has applied the complaint's event at seq.
func (w *world) waitProjected(id string, seq uint64) {
	t := w.t
	t.Helper()
	ctx := testCtx(t)
	for {
		var last int64
		err := w.pool.QueryRow(ctx, `SELECT last_seq FROM escalation.complaints WHERE complaint_id = $1`, id).Scan(&last)
		if err == nil && uint64(last) >= seq {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("projection did not reach seq %d of %s (last %d, err %v)", seq, id, last, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// eventTypes lists the types of a complaint's events.
func (w *world) eventTypes(id string) []string {
	w.t.Helper()
	recs, err := w.store.Load(testCtx(w.t), id)
	if err != nil {
		w.t.Fatal(err)
	}
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Type
	}
	return out
}

func (w *world) count(id, typ string) int {
	n := 0
	for _, ty := range w.eventTypes(id) {
		if ty == typ {
			n++
		}
	}
	return n
}

func (w *world) lastEvent(id, typ string) *complaintv1.Event {
	w.t.Helper()
	recs, err := w.store.Load(testCtx(w.t), id)
	if err != nil {
		w.t.Fatal(err)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == typ {
			ev, err := events.Decode(recs[i])
			if err != nil {
				w.t.Fatal(err)
			}
			return ev
		}
	}
	w.t.Fatalf("no %s on %s: %v", typ, id, w.eventTypes(id))
	return nil
}

// alertCounts counts stored alerts by kind.
func (w *world) alertCounts() map[alertsv1.AlertKind]int {
	w.t.Helper()
	ctx := testCtx(w.t)
	s, err := w.js.Stream(ctx, eventstore.StreamAlerts)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(eventstore.SubjectAlerts))
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[alertsv1.AlertKind]int{}
	for subj, n := range info.State.Subjects {
		if k, ok := alerts.KindOf(subj); ok {
			out[k] += int(n)
		}
	}
	return out
}

// pass runs poll passes until one finds nothing to do.
func pass(t *testing.T, p *adapters.Poller) int {
	t.Helper()
	total := 0
	for {
		n, err := p.PollOnce(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n == 0 {
			return total
		}
	}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func clockByKind(t *testing.T, cs []*escalationv1.Clock, k complaintv1.ClockKind, key string) *escalationv1.Clock {
	t.Helper()
	for _, c := range cs {
		if c.GetClock() == k && c.GetKey() == key {
			return c
		}
	}
	t.Fatalf("no %s clock in %v", k, cs)
	return nil
}

// lastSeq is the stream sequence of a complaint's last event.
func (w *world) lastSeq(id string) uint64 {
	w.t.Helper()
	recs, err := w.store.Load(testCtx(w.t), id)
	if err != nil || len(recs) == 0 {
		w.t.Fatalf("load %s: %v", id, err)
	}
	return recs[len(recs)-1].StreamSeq
}

// settle runs passes and lets the projection catch up in turn until a pass
// finds nothing to do: a breach, then the ladder reaction to it, then quiet.
func (w *world) settle(t *testing.T, p *adapters.Poller, ids ...string) {
	t.Helper()
	ctx := testCtx(t)
	for round := 0; round < 20; {
		n := pass(t, p)
		for _, id := range ids {
			w.waitProjected(id, w.lastSeq(id))
		}
		// A row a running poller has claimed is invisible to this pass
		// (SKIP LOCKED) until it commits: wait for it rather than call
		// passes that find nothing settled.
		if w.claimedElsewhere(t) {
			select {
			case <-ctx.Done():
				t.Fatal("a running poller held its rows to the end")
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if n == 0 && round > 0 {
			return
		}
		round++
	}
	t.Fatal("passes never settled")
}

// claimedElsewhere reports whether another session holds a due row of the
// pollers' tables: a pass in flight.
func (w *world) claimedElsewhere(t *testing.T) bool {
	t.Helper()
	var all, free int
	err := w.pool.QueryRow(testCtx(t), `SELECT
		(SELECT count(*) FROM escalation.reactions WHERE fire_at IS NOT NULL) +
		(SELECT count(*) FROM escalation.deadlines WHERE fire_at IS NOT NULL),
		(SELECT count(*) FROM (SELECT 1 FROM escalation.reactions WHERE fire_at IS NOT NULL FOR UPDATE SKIP LOCKED) r) +
		(SELECT count(*) FROM (SELECT 1 FROM escalation.deadlines WHERE fire_at IS NOT NULL FOR UPDATE SKIP LOCKED) d)`).Scan(&all, &free)
	if err != nil {
		t.Fatal(err)
	}
	return free < all
}
