// Package e2e plays a small seeded season through the real services, started
// as their binaries on real NATS and PostgreSQL, and checks the invariants a
// merchant relies on: intake alone (TestSeasonThroughIntake) and every
// service with simulated agents and customers (TestSeasonThroughEveryService;
// docs/simulate.md, "Tests").
package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/service/servicetest"
	"github.com/kesu315/kesu/tools/simulate/drive"
	"github.com/kesu315/kesu/tools/simulate/season"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	policyPath = "../../../deploy/config/kesu.yaml"
	hmacKey    = "simulate-e2e-test-key-32-bytes-long!"
	// speed plays the 45-day season in about 10 s of wall time.
	speed = 4e5
)

// stack is Kesu as the test started it.
type stack struct {
	clock  clock.Accelerated
	target *drive.Target
	js     jetstream.JetStream
	policy *policy.Policy
	// Where intake and NATS listen, for the command-line test.
	intakeAddr, natsURL string
}

// startStack builds and starts the services on one NATS and one database,
// sharing an accelerated clock that reaches the season's start just after
// they are up.
func startStack(t testing.TB, seasonStart time.Time) *stack {
	t.Helper()
	pol, err := filepath.Abs(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	p := loadPolicy(t)
	intakeBin := servicetest.Build(t, "../../../services/intake/cmd/intake")
	ns := natstest.StartServer(t)
	// The epoch is a moment after start-up, so no contact is due before
	// intake serves; a slow start only means a short catch-up.
	clk := clock.Accelerated{Start: seasonStart, Epoch: time.Now().Add(3 * time.Second).Truncate(time.Second), Speed: speed}
	env := map[string]string{
		"KESU_ENV":           "dev",
		"KESU_GRPC_ADDR":     "127.0.0.1:0",
		"KESU_HTTP_ADDR":     "127.0.0.1:0",
		"NATS_URL":           ns.URL,
		"DATABASE_URL":       pgtest.NewDBURL(t),
		"KESU_POLICY":        pol,
		"KESU_AUTH_HMAC_KEY": hmacKey,
	}
	if !seasonStart.IsZero() {
		env[clock.EnvStart] = clk.Start.Format(time.RFC3339Nano)
		env[clock.EnvEpoch] = clk.Epoch.Format(time.RFC3339Nano)
		env[clock.EnvSpeed] = strconv.FormatFloat(clk.Speed, 'g', -1, 64)
	}
	intake := servicetest.Start(t, intakeBin, env)
	ctx := context.Background()
	tgt, err := drive.Dial(ctx, drive.DialConfig{IntakeAddr: intake.GRPCAddr, NATSURL: ns.URL, HMACKey: []byte(hmacKey)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("intake logs:\n%s", tail(intake.Logs(), 40))
		}
	})
	return &stack{clock: clk, target: tgt, js: ns.JetStream(t), policy: p, intakeAddr: intake.GRPCAddr, natsURL: ns.URL}
}

func loadPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeasonThroughIntake(t *testing.T) {
	p := loadPolicy(t)
	s, err := season.Generate(season.Config{Policy: p, Seed: 315, Complaints: 300})
	if err != nil {
		t.Fatal(err)
	}
	st := startStack(t, s.Start)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var progress strings.Builder
	res, err := drive.Play(ctx, s, st.target, drive.PlayOptions{Clock: st.clock, Concurrency: 8, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("played %d contacts (%d gRPC, %d inbound, %d folded on filing) in %s\n%s",
		res.Contacts, res.GRPC, res.Inbound, res.Folded, res.Wall.Round(time.Millisecond), progress.String())
	if res.Errors > 0 {
		t.Fatalf("%d contacts failed: %v", res.Errors, res.FirstErrors)
	}
	if len(res.Split) > 0 {
		t.Fatalf("disputes %v: gRPC contacts landed on different complaints", res.Split)
	}
	if res.Inbound == 0 || res.GRPC == 0 {
		t.Fatalf("want contacts on both paths: %d gRPC, %d inbound", res.GRPC, res.Inbound)
	}

	// What each dispute should look like.
	type want struct {
		shop, customer, order, category string
		contacts                        int
		inbound                         []season.Contact
	}
	disputes := map[int]*want{}
	perShop := map[string]int{}
	for _, c := range s.Contacts {
		w := disputes[c.Dispute]
		if w == nil {
			w = &want{shop: c.ShopID, customer: c.Customer.Ref, order: c.OrderID}
			disputes[c.Dispute] = w
			perShop[c.ShopID]++
		}
		w.contacts++
		if c.Number == 1 {
			w.category = c.Category
		}
		if c.Via == season.ViaInbound {
			w.inbound = append(w.inbound, c)
		}
	}

	// Every dispute is exactly one complaint, with every contact on it, once
	// intake's inbound consumer and projection have caught up.
	var found map[string]*intakev1.Complaint
	deadline := time.Now().Add(90 * time.Second)
	for {
		found = map[string]*intakev1.Complaint{}
		dup := ""
		for shop := range perShop {
			for _, c := range findAll(ctx, t, st.target, &intakev1.FindComplaintsRequest{ShopId: shop}) {
				k := shop + "|" + c.GetCustomerRef() + "|" + c.GetOrderId()
				if _, ok := found[k]; ok {
					dup = k
				}
				found[k] = c
			}
		}
		if dup != "" {
			t.Fatalf("two complaints for one dispute %s", dup)
		}
		pending := 0
		for _, w := range disputes {
			c := found[w.shop+"|"+w.customer+"|"+w.order]
			if c == nil || int(c.GetContacts()) != w.contacts {
				pending++
			}
		}
		if pending == 0 && len(found) == len(disputes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: %d complaints for %d disputes, %d disputes not (yet) complete", len(found), len(disputes), pending)
		}
		time.Sleep(200 * time.Millisecond) // polling the projection, not waiting for time to pass
	}

	for d, w := range disputes {
		c := found[w.shop+"|"+w.customer+"|"+w.order]
		if id, ok := res.Complaints[d]; ok && id != c.GetComplaintId() {
			t.Errorf("dispute %d: gRPC filed it on %s, the projection has %s", d, id, c.GetComplaintId())
		}
		if c.GetCategory() != w.category {
			t.Errorf("dispute %d (%s): category %s, want %s", d, c.GetComplaintId(), c.GetCategory(), w.category)
		}
		if c.GetStatus() != intakev1.ComplaintStatus_COMPLAINT_STATUS_OPEN {
			t.Errorf("dispute %d: status %v, want open", d, c.GetStatus())
		}
		// Inbound contacts arrive, on this complaint.
		for _, ic := range w.inbound {
			got := findAll(ctx, t, st.target, &intakev1.FindComplaintsRequest{ShopId: w.shop,
				ExternalRef: &complaintv1.ExternalRef{Source: ic.Source, ExternalId: ic.ExternalID}})
			if len(got) != 1 || got[0].GetComplaintId() != c.GetComplaintId() {
				t.Errorf("dispute %d: inbound %s:%s found on %d complaints, want exactly %s", d, ic.Source, ic.ExternalID, len(got), c.GetComplaintId())
			}
		}
	}
	// GetComplaint agrees for a sample.
	n := 0
	for _, c := range found {
		if n++; n > 20 {
			break
		}
		g, err := st.target.Intake.GetComplaint(ctx, &intakev1.GetComplaintRequest{ComplaintId: c.GetComplaintId()})
		if err != nil {
			t.Fatal(err)
		}
		if g.GetComplaint().GetContacts() != c.GetContacts() || g.GetComplaint().GetOrderId() != c.GetOrderId() {
			t.Errorf("GetComplaint(%s) = %d contacts, order %s; FindComplaints said %d, %s", c.GetComplaintId(),
				g.GetComplaint().GetContacts(), g.GetComplaint().GetOrderId(), c.GetContacts(), c.GetOrderId())
		}
	}

	// Nothing was dead-lettered: every generated inbound message is valid.
	if dl, err := st.js.Stream(ctx, eventstore.StreamDeadLetter); err == nil {
		info, err := dl.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 0 {
			t.Errorf("%d inbound messages dead-lettered", info.State.Msgs)
		}
	}

	// Replaying the season files nothing new (idempotent on request id and
	// on (source, external_id)).
	replay := &season.Season{Phases: s.Phases, Contacts: s.Contacts[:min(60, len(s.Contacts))]}
	var created int
	if _, err := drive.Play(ctx, replay, st.target, drive.PlayOptions{OnOutcome: func(_ season.Contact, o drive.Outcome) {
		if o.Created {
			created++ // workers run one at a time below
		}
	}, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if created != 0 {
		t.Errorf("replay created %d complaints", created)
	}
	total := 0
	for shop := range perShop {
		total += len(findAll(ctx, t, st.target, &intakev1.FindComplaintsRequest{ShopId: shop}))
	}
	if total != len(disputes) {
		t.Errorf("after replay %d complaints, want %d", total, len(disputes))
	}

	// The command line plays a season of its own (filing only) on the same
	// stack, on its own fast clock.
	kesuctl := servicetest.Build(t, "../../kesuctl")
	code, cliOut := servicetest.Exec(t, ctx, kesuctl, map[string]string{"KESU_AUTH_HMAC_KEY": hmacKey},
		"simulate", "--addr", st.intakeAddr, "--nats-url", st.natsURL, "--complaints", "20", "--speed", "1000000",
		"--agents", "0", "--run", "cli", "--policy", policyPath)
	if code != 0 || !strings.Contains(cliOut, "0 errors") {
		t.Errorf("kesuctl simulate exited %d:\n%s", code, cliOut)
	}

	// The load mode files against the same stack, beside its baseline.
	rep, err := drive.Load(ctx, st.target, drive.LoadOptions{Policy: st.policy, Seed: 2, Rate: 50, Duration: time.Second,
		Concurrency: 4, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log(out.String())
	if rep.OK == 0 || len(rep.Errors) > 0 || rep.Baseline == nil || rep.Baseline.Messages == 0 {
		t.Errorf("load: %d filed, errors %v, baseline %+v", rep.OK, rep.Errors, rep.Baseline)
	}
}

func findAll(ctx context.Context, t testing.TB, tgt *drive.Target, req *intakev1.FindComplaintsRequest) []*intakev1.Complaint {
	t.Helper()
	req.PageSize = 200
	var out []*intakev1.Complaint
	for {
		res, err := tgt.Intake.FindComplaints(ctx, req)
		if err != nil {
			t.Fatalf("FindComplaints: %v", err)
		}
		out = append(out, res.GetComplaints()...)
		if res.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = res.GetNextPageToken()
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
