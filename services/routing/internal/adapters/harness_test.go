package adapters_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/projection"
	"github.com/kesu315/kesu/services/routing/internal/adapters"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/ports"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// t0 is in the battle phase: 10:00 on 12 March in Shanghai.
var t0 = time.Date(2026, 3, 12, 2, 0, 0, 0, time.UTC)

// harness is routing wired as its binary wires it, in-process, on a manual
// clock, against a real NATS server and a real PostgreSQL database.
type harness struct {
	t      testing.TB
	pol    *policy.Policy
	clk    *clock.Manual
	js     jetstream.JetStream
	store  *eventstore.Store
	db     *pgxpool.Pool
	svc    *app.Service
	api    *ports.Server
	roster *adapters.Roster
	proj   *adapters.Projection
	runner *projection.Runner
	stop   func()
	// replicas of the streams (3 on the benchmarks' cluster).
	replicas int
}

func start(t testing.TB, opts ...func(*app.Deps)) *harness {
	t.Helper()
	ctx := context.Background()
	pol, err := policy.Load("../../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// KESU_BENCH_CLUSTER=3 (the benchmarks): a three-node cluster with the
	// streams replicated three times, as production runs.
	var nc *nats.Conn
	var js jetstream.JetStream
	replicas := 1
	if os.Getenv("KESU_BENCH_CLUSTER") == "3" {
		c := natstest.StartCluster(t, 3)
		nc, js, replicas = c.Connect(t), c.JetStream(t), 3
	} else {
		ns := natstest.StartServer(t)
		nc, js = ns.Connect(t), ns.JetStream(t)
	}
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: replicas}); err != nil {
		t.Fatal(err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db := pgtest.NewDB(t)
	if err := adapters.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, pol: pol, clk: clock.NewManual(t0), js: js, store: store, db: db, roster: adapters.NewRoster(db), replicas: replicas}
	deps := app.Deps{Store: store, Roster: h.roster, Views: adapters.NewReader(db), Clock: h.clk, Policy: pol}
	for _, o := range opts {
		o(&deps)
	}
	h.svc, err = app.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h.api = ports.New(h.svc, log)
	h.proj = adapters.NewProjection(pol, h.svc, h.roster, log)
	h.runner, err = projection.New(db, js, h.proj, projection.Config{Name: adapters.ProjectionName, Schema: adapters.Schema,
		MaxWait: 100 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.restart()
	t.Cleanup(func() { h.stop() })
	return h
}

// restart runs the projection (again, after stop).
func (h *harness) restart() {
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.runner.Run(rctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("projection stopped with %v", err)
		}
		h.stop = func() {}
	}
}

func as(id string, role auth.Role, tier int) context.Context {
	return auth.WithIdentity(context.Background(), auth.Identity{Subject: id, Role: role, Tier: tier})
}

var (
	supervisor = as("sup-1", auth.RoleSupervisor, 0)
	admin      = as("admin-1", auth.RoleAdmin, 0)
)

// agent puts an agent on the roster with a presence.
func (h *harness) agent(id string, tier, capacity int, p routingv1.Presence, skills ...string) {
	h.t.Helper()
	if _, err := h.api.UpsertAgent(admin, &routingv1.UpsertAgentRequest{Agent: &routingv1.Agent{AgentId: id, Name: id, Tier: int32(tier), Skills: skills, Capacity: int32(capacity)}}); err != nil {
		h.t.Fatal(err)
	}
	if p != routingv1.Presence_PRESENCE_OFFLINE {
		if _, err := h.api.SetPresence(supervisor, &routingv1.SetPresenceRequest{AgentId: id, Presence: p}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// filing is what intake would have appended.
type filing struct {
	channel  complaintv1.Channel
	category string
	severity complaintv1.Severity
	amount   int64
	expect   []complaintv1.RemedyKind
}

// file appends ComplaintFiled + ComplaintClassified as intake does.
func (h *harness) file(f filing) string {
	h.t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	if f.channel == 0 {
		f.channel = complaintv1.Channel_CHANNEL_ONLINE_CHAT
	}
	if f.category == "" {
		f.category = "quality"
	}
	if f.severity == 0 {
		f.severity = complaintv1.Severity_SEVERITY_NORMAL
	}
	h.append(id, &complaintv1.ComplaintFiled{Channel: f.channel, CustomerRef: "cust-" + id[len(id)-6:], ClaimedAmountFen: f.amount, ExpectedRemedies: f.expect},
		&complaintv1.ComplaintClassified{Category: f.category, Severity: f.severity, Phase: "battle"})
	return id
}

// append appends events of other services onto a complaint.
func (h *harness) append(id string, payloads ...proto.Message) {
	h.t.Helper()
	ctx := context.Background()
	_, err := eventstore.Decide(ctx, h.store, id, func(hist []eventstore.Record) ([]eventstore.Event, error) {
		var out []eventstore.Event
		for _, p := range payloads {
			ev, err := events.New(events.Envelope{ComplaintID: id, ShopID: "demo-flagship", RecordedAt: h.clk.Now(),
				Actor: &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "test"}}, p)
			if err != nil {
				return nil, err
			}
			e, err := events.Encode(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}, eventstore.DecideOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
}

// settle waits until the projection (and its reactions) caught up with the stream.
func (h *harness) settle() {
	h.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The checkpoint first: a reaction appends before its batch commits,
		// so a stream end read after the checkpoint includes it.
		// (The checkpoint table appears when the runner first leads.)
		cp, cerr := h.runner.Checkpoint(ctx)
		st, err := h.js.Stream(ctx, eventstore.StreamComplaints)
		if err != nil {
			h.t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		if cerr == nil && cp == info.State.LastSeq {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("projection at %d of %d (%v)", cp, info.State.LastSeq, cerr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) work(id string) *routingv1.WorkItem {
	h.t.Helper()
	h.settle()
	res, err := h.api.GetWork(supervisor, &routingv1.GetWorkRequest{ComplaintId: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.GetItem()
}

func (h *harness) load(agentID string) int32 {
	h.t.Helper()
	h.settle()
	res, err := h.api.ListAgents(supervisor, &routingv1.ListAgentsRequest{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, a := range res.GetAgents() {
		if a.GetAgentId() == agentID {
			return a.GetLoad()
		}
	}
	h.t.Fatalf("no agent %s", agentID)
	return 0
}

func code(err error) codes.Code { return status.Code(err) }

func wantCode(t testing.TB, err error, c codes.Code) {
	t.Helper()
	if code(err) != c {
		t.Fatalf("got %v, want %v", err, c)
	}
}
