package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/service/servicetest"
	"github.com/kesu315/kesu/tools/simulate/casework"
	"github.com/kesu315/kesu/tools/simulate/drive"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// services in start order (as devstack runs them).
var services = []string{"intake", "routing", "escalation", "followup", "reporting"}

// fullStack is every service on one NATS, one database and one clock.
type fullStack struct {
	*stack
	addr map[string]string
	logs map[string]*servicetest.Process
}

// buildAll compiles every service in one go command (parallel compiles).
func buildAll(t testing.TB, names []string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, s := range names {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build services: %v\n%s", err, out)
	}
	return dir
}

// startFullStack builds and starts the named services (in order) on one
// NATS, one database and one accelerated clock.
func startFullStack(t testing.TB, seasonStart time.Time, speed float64, names []string) *fullStack {
	t.Helper()
	pol, err := filepath.Abs(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	bins := buildAll(t, names)
	t.Logf("built %v in %s", names, time.Since(began).Round(time.Millisecond))
	// KESU_BENCH_CLUSTER=3 runs the stack on a three-node NATS cluster with
	// the streams replicated three times, as production runs (the load
	// benchmarks); otherwise one node syncing every write, as a single-node
	// install runs.
	natsURL, replicas := "", "1"
	var js jetstream.JetStream
	if os.Getenv("KESU_BENCH_CLUSTER") == "3" {
		c := natstest.StartCluster(t, 3)
		natsURL, replicas, js = c.URLs, "3", c.JetStream(t)
	} else {
		ns := natstest.StartServer(t)
		natsURL, js = ns.URL, ns.JetStream(t)
	}
	db := pgtest.NewDBURL(t)
	clk := clock.Accelerated{Start: seasonStart, Epoch: time.Now().Add(5 * time.Second).Truncate(time.Second), Speed: speed}
	fs := &fullStack{addr: map[string]string{}, logs: map[string]*servicetest.Process{}}
	for _, s := range names {
		env := map[string]string{
			"KESU_ENV": "dev", "KESU_GRPC_ADDR": "127.0.0.1:0", "KESU_HTTP_ADDR": "127.0.0.1:0",
			"NATS_URL": natsURL, "KESU_STREAM_REPLICAS": replicas, "DATABASE_URL": db, "KESU_POLICY": pol, "KESU_AUTH_HMAC_KEY": hmacKey,
			"KESU_REPORT_DIR": t.TempDir(),
		}
		if !seasonStart.IsZero() {
			env[clock.EnvStart] = clk.Start.Format(time.RFC3339Nano)
			env[clock.EnvEpoch] = clk.Epoch.Format(time.RFC3339Nano)
			env[clock.EnvSpeed] = strconv.FormatFloat(clk.Speed, 'g', -1, 64)
		}
		p := servicetest.Start(t, filepath.Join(bins, s), env)
		fs.addr[s], fs.logs[s] = p.GRPCAddr, p
	}
	t.Logf("built and started in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		// KESU_BENCH_LOGS=FILE keeps every service's whole log (the load
		// benchmarks pass, however far behind a service fell).
		if f := os.Getenv("KESU_BENCH_LOGS"); f != "" {
			var all strings.Builder
			for _, s := range names {
				all.WriteString(fs.logs[s].Logs())
			}
			if err := os.WriteFile(f, []byte(all.String()), 0o644); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			for _, s := range names {
				t.Logf("%s logs:\n%s", s, tail(fs.logs[s].Logs(), 15))
			}
		}
	})
	tgt, err := drive.Dial(context.Background(), drive.DialConfig{IntakeAddr: fs.addr["intake"], NATSURL: natsURL, HMACKey: []byte(hmacKey)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	fs.stack = &stack{clock: clk, target: tgt, js: js, policy: loadPolicy(t)}
	return fs
}

func dialService(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// seasonSize is how big a season TestSeasonThroughEveryService plays and how
// fast: sized so `make test` runs it in a few minutes on a loaded 2-core
// machine; KESU_E2E_FULL=1 plays a bigger one.
type seasonSize struct {
	complaints int
	// speed is simulated seconds per wall second: the 45-day season plays
	// in 45 d / speed (about 40 s at 1e5).
	speed float64
	// tick is the simulated time between two looks of an agent at its work.
	tick time.Duration
	// settle is the simulated time the floor keeps working once routing
	// knows every complaint, so follow-ups come due and are answered; then
	// it works on until customers have given answers (at least this many,
	// for a bounded wall time: the answers feed invariant d).
	settle  time.Duration
	answers int
	// catchUp bounds the wait for routing to know every complaint filed.
	catchUp time.Duration
	// limit bounds the whole run (a hung service fails the test, not make).
	limit time.Duration
}

// TestSeasonThroughEveryService plays a small seeded season through every
// service — intake, routing, escalation, followup and reporting, built and
// run as processes on one NATS, one PostgreSQL and one accelerated clock —
// with simulated agents and customers working it through the real gRPC
// APIs, and checks the invariants a merchant relies on, each against a
// source independent of the service that answers: the events in JetStream,
// or what the simulator itself did (docs/simulate.md, "Tests").
func TestSeasonThroughEveryService(t *testing.T) {
	size := seasonSize{complaints: 240, speed: 1e5, tick: time.Hour, settle: 4 * 24 * time.Hour, answers: 30,
		catchUp: 4 * time.Minute, limit: 9 * time.Minute}
	if os.Getenv("KESU_E2E_FULL") == "1" {
		size = seasonSize{complaints: 600, speed: 5e4, tick: time.Hour, settle: 5 * 24 * time.Hour, answers: 80,
			catchUp: 12 * time.Minute, limit: 25 * time.Minute}
	}
	begin := time.Now()
	p := loadPolicy(t)
	s, err := season.Generate(season.Config{Policy: p, Seed: 8, Complaints: size.complaints})
	if err != nil {
		t.Fatal(err)
	}
	st := startFullStack(t, s.Start, size.speed, services)
	t.Logf("%s: stack built and serving; simulated time %s", time.Since(begin).Round(time.Millisecond), st.clock.Now().Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(context.Background(), size.limit)
	defer cancel()

	rconn := dialService(t, st.addr["routing"])
	fconn := dialService(t, st.addr["followup"])
	rt := casework.NewRouting(rconn, []byte(hmacKey))
	var (
		errMu     sync.Mutex
		firstErrs []string
		byKind    = map[string]int{}
	)
	shops := seasonShops(s)
	floor, err := casework.NewFloor(casework.Config{
		Policy: p, Clock: st.clock, Seed: 8, Shops: shops,
		Casework: rt, FollowUps: casework.NewFollowUps(fconn, []byte(hmacKey)),
		Tick: size.tick,
		OnError: func(op string, err error) {
			errMu.Lock()
			defer errMu.Unlock()
			k := op + " " + status.Code(err).String()
			if byKind[k] == 0 {
				firstErrs = append(firstErrs, op+": "+err.Error())
			}
			byKind[k]++
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	floorDone := make(chan error, 1)
	go func() { floorDone <- floor.Run(ctx) }()
	stopFloor := sync.OnceValue(func() error { floor.Stop(); return <-floorDone })
	defer stopFloor()

	// Every 10 s, how far each projection is behind (in the -v log: where
	// a slow or stuck service shows first).
	stopLag, lagStopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(lagStopped)
		for {
			select {
			case <-stopLag:
				return
			case <-time.After(10 * time.Second):
				t.Logf("%s: simulated %s; projections: %s", time.Since(begin).Round(time.Second), st.clock.Now().Format("01-02 15:04"), consumerLag(ctx, st.js))
			}
		}
	}()
	stopLagLog := sync.OnceFunc(func() { close(stopLag); <-lagStopped })
	defer stopLagLog()
	res, err := drive.Play(ctx, s, st.target, drive.PlayOptions{Clock: st.clock, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: played %d contacts (%d gRPC, %d inbound, %d folded on filing, %d errors) of %d disputes",
		time.Since(begin).Round(time.Millisecond), res.Contacts, res.GRPC, res.Inbound, res.Folded, res.Errors, s.Disputes)
	if res.Errors > 0 {
		t.Fatalf("filing: %v", res.FirstErrors)
	}

	// (e) A repeat contact never creates a second complaint: every contact
	// the season made is on exactly one complaint in JetStream, all of a
	// dispute's contacts on the same one, one complaint stream per dispute.
	stream := newStreamLog(st.js)
	byDispute := checkDisputes(ctx, t, s, res, stream)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%s: every contact found on its complaint in JetStream", time.Since(begin).Round(time.Millisecond))

	// Routing comes to know every complaint filed (its projection and
	// reactions catch up); then the floor works on for a few simulated
	// days, and until customers have given enough answers, and stops,
	// finishing the calls it is making.
	sup, err := drive.Token([]byte(hmacKey), supervisorIdentity)
	if err != nil {
		t.Fatal(err)
	}
	rc := routingv1.NewRoutingServiceClient(rconn)
	// Routing's projection lags far behind under this load (it reacts to
	// each trigger with a load and an fsync'd append, one after another):
	// a generous bound.
	pollUntil(ctx, t, size.catchUp, "routing knows every complaint filed", func() []string {
		var missing []string
		for d, id := range byDispute {
			if _, err := rc.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, grpcBearer(sup)); err != nil {
				missing = append(missing, fmt.Sprintf("dispute %d: GetWork(%s): %v", d, id, err))
			}
		}
		return missing
	})
	t.Logf("%s: routing knows every complaint; simulated time %s", time.Since(begin).Round(time.Millisecond), st.clock.Now().Format(time.RFC3339))
	if err := clock.SleepUntil(ctx, st.clock, st.clock.Now().Add(size.settle)); err != nil {
		t.Fatal(err)
	}
	for enough := time.Now().Add(time.Minute); len(floor.Answers()) < size.answers && time.Now().Before(enough); {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Second): // polling the floor's answers
		}
	}
	if err := stopFloor(); err != nil {
		t.Fatal(err)
	}
	stopLagLog()
	// Clocks due by now must have breached once the poller caught up.
	cutoff := st.clock.Now()
	answers := floor.Answers()
	fs := &floor.Stats
	errMu.Lock()
	t.Logf("%s: floor stopped at %s: %d claimed, %d responses, %d promises, %d remedies, %d transfers, %d resolved (%d kept, %d returned); %d calls, %d reached, %d satisfied, %d dissatisfied; %d errors, %d claims lost; errors by kind %v, first of each %v",
		time.Since(begin).Round(time.Millisecond), cutoff.Format(time.RFC3339),
		fs.Claimed.Load(), fs.Responded.Load(), fs.Promised.Load(), fs.Remedies.Load(), fs.Transferred.Load(),
		fs.Resolved.Load(), fs.Kept.Load(), fs.Returned.Load(), fs.Called.Load(), fs.Reached.Load(), fs.Satisfied.Load(), fs.Dissatisfied.Load(),
		fs.Errors.Load(), fs.ClaimsLost.Load(), byKind, firstErrs)
	errMu.Unlock()
	if fs.Resolved.Load() == 0 || len(answers) == 0 {
		t.Errorf("the floor resolved %d complaints and recorded %d follow-up answers: the invariants below need both", fs.Resolved.Load(), len(answers))
	}
	for _, shop := range shops {
		ov, err := rc.QueueOverview(ctx, &routingv1.QueueOverviewRequest{ShopId: shop}, grpcBearer(sup))
		if err != nil {
			t.Fatalf("QueueOverview: %v", err)
		}
		for _, q := range ov.GetQueues() {
			if q.GetDepth() > 0 {
				t.Logf("%s %s: depth %d, unassigned %d, at risk %d, agents online %d", shop, q.GetQueue(), q.GetDepth(), q.GetUnassigned(), q.GetAtRisk(), q.GetAgentsOnline())
			}
		}
	}

	// (d, first half) Every answer a customer gave is in the stream, and
	// followup shows it for the complaint.
	checkAnswersRecorded(ctx, t, stream, followupv1.NewFollowUpServiceClient(fconn), sup, answers)
	t.Logf("%s: %d follow-up answers recorded as given", time.Since(begin).Round(time.Millisecond), len(answers))

	// (c, d) The report counts every complaint filed, and the customers'
	// latest answers.
	checkReport(ctx, t, p, s, stream, reportingv1.NewReportingServiceClient(dialService(t, st.addr["reporting"])), byDispute, answers)
	t.Logf("%s: the season report agrees", time.Since(begin).Round(time.Millisecond))

	// (b) No deadline breach missed or doubled.
	checkBreaches(ctx, t, stream, escalationv1.NewEscalationServiceClient(dialService(t, st.addr["escalation"])), sup, cutoff)
	t.Logf("%s: breaches checked", time.Since(begin).Round(time.Millisecond))

	// (a) Every complaint is in exactly one queue (or held by one agent), or
	// resolved or closed, as its events say.
	checkQueues(ctx, t, stream, rc, sup, byDispute)
	t.Logf("%s: done; the stream holds %s", time.Since(begin).Round(time.Millisecond), stream.typeCounts())
}

var supervisorIdentity = auth.Identity{Subject: "e2e-supervisor", Role: auth.RoleSupervisor}

func grpcBearer(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }
