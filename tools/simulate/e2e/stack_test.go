package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
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

// services in start order (as devstack runs them); reporting joins when
// the test checks the report totals.
var services = []string{"intake", "routing", "escalation", "followup"}

// fullStack is every service on one NATS, one database and one clock.
type fullStack struct {
	*stack
	addr map[string]string
	logs map[string]*servicetest.Process
}

// buildAll compiles every service in one go command (parallel compiles).
func buildAll(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, s := range services {
		args = append(args, "./services/"+s+"/cmd/"+s)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build services: %v\n%s", err, out)
	}
	return dir
}

func startFullStack(t testing.TB, seasonStart time.Time, speed float64) *fullStack {
	t.Helper()
	pol, err := filepath.Abs(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	bins := buildAll(t)
	ns := natstest.StartServer(t)
	db := pgtest.NewDBURL(t)
	clk := clock.Accelerated{Start: seasonStart, Epoch: time.Now().Add(5 * time.Second).Truncate(time.Second), Speed: speed}
	fs := &fullStack{addr: map[string]string{}, logs: map[string]*servicetest.Process{}}
	for _, s := range services {
		env := map[string]string{
			"KESU_ENV": "dev", "KESU_GRPC_ADDR": "127.0.0.1:0", "KESU_HTTP_ADDR": "127.0.0.1:0",
			"NATS_URL": ns.URL, "DATABASE_URL": db, "KESU_POLICY": pol, "KESU_AUTH_HMAC_KEY": hmacKey,
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
	t.Cleanup(func() {
		if t.Failed() {
			for _, s := range services {
				t.Logf("%s logs:\n%s", s, tail(fs.logs[s].Logs(), 15))
			}
		}
	})
	tgt, err := drive.Dial(context.Background(), drive.DialConfig{IntakeAddr: fs.addr["intake"], NATSURL: ns.URL, HMACKey: []byte(hmacKey)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	fs.stack = &stack{clock: clk, target: tgt, js: ns.JetStream(t), policy: loadPolicy(t)}
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

// TestSeasonThroughEveryService plays a small season with simulated agents
// and customers working it, and checks what a merchant relies on.
//
// It builds and runs four services with agents working at simulated speed,
// minutes of wall time on this machine: KESU_E2E_FULL=1 runs it (the
// coordinator wires it into `make test` once every service has landed).
func TestSeasonThroughEveryService(t *testing.T) {
	if os.Getenv("KESU_E2E_FULL") != "1" {
		t.Skip("KESU_E2E_FULL=1 runs the season through every service")
	}
	p := loadPolicy(t)
	s, err := season.Generate(season.Config{Policy: p, Seed: 8, Complaints: 120})
	if err != nil {
		t.Fatal(err)
	}
	st := startFullStack(t, s.Start, 1e5)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	rconn := dialService(t, st.addr["routing"])
	fconn := dialService(t, st.addr["followup"])
	rt := casework.NewRouting(rconn, []byte(hmacKey))
	var (
		errMu     sync.Mutex
		firstErrs []string
		byKind    = map[string]int{}
	)
	floor, err := casework.NewFloor(casework.Config{
		Policy: p, Clock: st.clock, Seed: 8, Shops: []string{"demo-flagship", "demo-outlet"},
		Casework: rt, FollowUps: casework.NewFollowUps(fconn, []byte(hmacKey)),
		Tick: 30 * time.Minute,
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
	floorCtx, stopFloor := context.WithCancel(ctx)
	floorDone := make(chan error, 1)
	go func() { floorDone <- floor.Run(floorCtx) }()

	res, err := drive.Play(ctx, s, st.target, drive.PlayOptions{Clock: st.clock, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := drive.Token([]byte(hmacKey), supervisorIdentity)
	if err != nil {
		t.Fatal(err)
	}
	rc := routingv1.NewRoutingServiceClient(rconn)
	// Routing must come to know every complaint filed (its projection and
	// reactions catch up), then the floor works the last ones for a few
	// simulated days.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		unknown := 0
		for _, id := range res.Complaints {
			if _, err := rc.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, grpcBearer(sup)); status.Code(err) == codes.NotFound {
				unknown++
			}
		}
		if unknown == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 min after the last filing routing still does not know %d of %d complaints", unknown, len(res.Complaints))
		}
		time.Sleep(time.Second) // polling routing's projection
	}
	if err := clock.SleepUntil(ctx, st.clock, st.clock.Now().Add(5*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	stopFloor()
	if err := <-floorDone; err != nil {
		t.Fatal(err)
	}
	fs := &floor.Stats
	t.Logf("played %d contacts (%d errors); floor: %d claimed, %d responses, %d promises, %d remedies, %d transfers, %d resolved (%d kept, %d returned); %d calls, %d reached, %d satisfied, %d dissatisfied; %d errors, %d claims lost; errors by kind %v, first of each %v",
		res.Contacts, res.Errors, fs.Claimed.Load(), fs.Responded.Load(), fs.Promised.Load(), fs.Remedies.Load(), fs.Transferred.Load(),
		fs.Resolved.Load(), fs.Kept.Load(), fs.Returned.Load(), fs.Called.Load(), fs.Reached.Load(), fs.Satisfied.Load(), fs.Dissatisfied.Load(),
		fs.Errors.Load(), fs.ClaimsLost.Load(), byKind, firstErrs)
	if res.Errors > 0 {
		t.Fatalf("filing: %v", res.FirstErrors)
	}
	for _, shop := range []string{"demo-flagship", "demo-outlet"} {
		ov, err := rc.QueueOverview(ctx, &routingv1.QueueOverviewRequest{ShopId: shop}, grpcBearer(sup))
		if err != nil {
			t.Fatalf("QueueOverview: %v", err)
		}
		for _, q := range ov.GetQueues() {
			t.Logf("%s %s: depth %d, unassigned %d, at risk %d, agents online %d", shop, q.GetQueue(), q.GetDepth(), q.GetUnassigned(), q.GetAtRisk(), q.GetAgentsOnline())
		}
	}
	if fs.Resolved.Load() == 0 {
		t.Errorf("the floor resolved nothing; errors %v", firstErrs)
	}

	// Every answer a customer gave on a follow-up call is what followup
	// recorded for that complaint.
	fc := followupv1.NewFollowUpServiceClient(fconn)
	answers := floor.Answers()
	deadline = time.Now().Add(time.Minute)
	for {
		mismatched, superseded := 0, 0
		var last string
		for _, a := range answers {
			g, err := fc.GetFollowUp(ctx, &followupv1.GetFollowUpRequest{ComplaintId: a.ComplaintID}, grpcBearer(sup))
			if err == nil && g.GetFollowUp().GetFollowUpId() != a.FollowUpID {
				superseded++ // reopened and resolved again since: a new follow-up
				continue
			}
			if err != nil || int(g.GetFollowUp().GetScore()) != a.Score {
				mismatched++
				last = fmt.Sprintf("%s: gave %d, followup has %d (%v)", a.ComplaintID, a.Score, g.GetFollowUp().GetScore(), err)
			}
		}
		if superseded == len(answers) && len(answers) > 0 {
			t.Errorf("every one of %d answered follow-ups was superseded", len(answers))
		}
		if mismatched == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d follow-up answers not recorded as given, e.g. %s", mismatched, len(answers), last)
			break
		}
		time.Sleep(500 * time.Millisecond) // polling followup's projection
	}

	// Every complaint is in exactly one queue (or held by one agent), or resolved.
	for d, id := range res.Complaints {
		w, err := rc.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, grpcBearer(sup))
		if err != nil {
			t.Errorf("dispute %d: GetWork(%s): %v", d, id, err)
			continue
		}
		it := w.GetItem()
		switch it.GetStatus() {
		case routingv1.WorkStatus_WORK_STATUS_OPEN:
			if it.GetQueue() == "" && it.GetOwner() == "" {
				t.Errorf("dispute %d: open complaint %s in no queue", d, id)
			}
		case routingv1.WorkStatus_WORK_STATUS_RESOLVED, routingv1.WorkStatus_WORK_STATUS_CLOSED:
		default:
			t.Errorf("dispute %d: complaint %s status %v", d, id, it.GetStatus())
		}
	}
}

var supervisorIdentity = auth.Identity{Subject: "e2e-supervisor", Role: auth.RoleSupervisor}

func grpcBearer(tok string) grpc.CallOption { return grpc.PerRPCCredentials(auth.Bearer(tok)) }
