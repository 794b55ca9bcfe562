package adapters_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/adapters"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/pii"
	"github.com/kesu315/kesu/services/kit/service"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const hmacKey = "test-hmac-key-that-is-long-enough-for-hs256"

var kek = make([]byte, 32)

// stack is intake running in-process exactly as its binary runs it, against
// a real NATS server and a real PostgreSQL database.
type stack struct {
	client intakev1.IntakeServiceClient
	js     jetstream.JetStream
	dbURL  string
}

func startIntake(t testing.TB) *stack {
	t.Helper()
	ns := natstest.StartServer(t)
	s := startIntakeOn(t, ns.URL, 1)
	s.js = ns.JetStream(t)
	return s
}

// startIntakeOn runs intake against the NATS servers at url with streams of
// the given replicas.
func startIntakeOn(t testing.TB, url string, replicas int) *stack {
	t.Helper()
	dbURL := pgtest.NewDBURL(t)
	env := map[string]string{
		"KESU_STREAM_REPLICAS": fmt.Sprint(replicas),
		"KESU_ENV":             "dev",
		"KESU_GRPC_ADDR":       "127.0.0.1:0",
		"KESU_HTTP_ADDR":       "127.0.0.1:0",
		"NATS_URL":             url,
		"DATABASE_URL":         dbURL,
		"KESU_POLICY":          "../../../../deploy/config/kesu.yaml",
		"KESU_AUTH_HMAC_KEY":   hmacKey,
		"KESU_PII_KEK":         base64.StdEncoding.EncodeToString(kek),
		"KESU_LOG_LEVEL":       "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, "intake", service.Env{
			Args: []string{"serve"}, Getenv: func(k string) string { return env[k] }, Stdout: testLog{t}, Stderr: testLog{t},
		}, func(ctx context.Context, rt *service.Runtime) error {
			if err := adapters.Run(ctx, rt); err != nil {
				return err
			}
			addr <- rt.GRPCAddr().String()
			return nil
		}, service.WithMigrate(adapters.MigrateHook), service.WithPolicy(adapters.Policy()))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("intake stopped with %v", err)
		}
	})
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		t.Fatalf("intake did not start: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("intake did not start within a minute")
	}
	conn, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &stack{client: intakev1.NewIntakeServiceClient(conn), dbURL: dbURL}
}

// testLog shows the service's log lines in the test's output.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func as(t testing.TB, role auth.Role, tier int) context.Context {
	t.Helper()
	tok, err := auth.Mint([]byte(hmacKey), auth.ClaimsFor(auth.Identity{Subject: string(role) + "-1", Role: role, Tier: tier}), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func request(id string) *intakev1.FileComplaintRequest {
	return &intakev1.FileComplaintRequest{
		ClientRequestId:  id,
		ShopId:           "demo-flagship",
		Channel:          complaintv1.Channel_CHANNEL_HOTLINE_400,
		Customer:         &intakev1.Customer{Name: "李娜", Phone: "13800001234", Address: "上海市浦东新区世纪大道100号"},
		OrderId:          "TB-2027-0315",
		Items:            []*complaintv1.Item{{SkuId: "SKU-CREAM-50", ProductName: "保湿面霜 50ml", Quantity: 1, UnitPriceFen: 19900}},
		OrderAmountFen:   19900,
		ClaimedAmountFen: 59700,
		Description:      "收到的面霜已经过期三个月了，客服一直推来推去，再不处理我就打12315投诉，要求退一赔三。",
		ChannelDetails:   &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Hotline{Hotline: &complaintv1.HotlineDetails{CallId: "call-42"}}},
	}
}

// waitComplaint polls GetComplaint until the projection has the complaint.
func waitComplaint(t *testing.T, ctx context.Context, c intakev1.IntakeServiceClient, id string) *intakev1.Complaint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.GetComplaint(ctx, &intakev1.GetComplaintRequest{ComplaintId: id})
		if err == nil {
			return res.GetComplaint()
		}
		if status.Code(err) != codes.NotFound || time.Now().After(deadline) {
			t.Fatalf("GetComplaint %s: %v", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamMessages(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), eventstore.StreamComplaints)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestFileComplaintEndToEnd(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleAgent, 1)

	res, err := s.client.FileComplaint(ctx, request("req-e2e-1"))
	if err != nil {
		t.Fatalf("FileComplaint: %v", err)
	}
	if !res.GetCreated() || res.GetComplaintId() == "" || res.GetStreamSequence() == 0 {
		t.Fatalf("unexpected response %v", res)
	}

	// The projection serves it, with the personal data opened for an agent.
	c := waitComplaint(t, ctx, s.client, res.GetComplaintId())
	if c.GetShopId() != "demo-flagship" || c.GetChannel() != complaintv1.Channel_CHANNEL_HOTLINE_400 ||
		c.GetStatus() != intakev1.ComplaintStatus_COMPLAINT_STATUS_OPEN || c.GetOrderId() != "TB-2027-0315" ||
		c.GetClaimedAmountFen() != 59700 || len(c.GetItems()) != 1 || c.GetItems()[0].GetSkuId() != "SKU-CREAM-50" {
		t.Fatalf("projection view wrong: %v", c)
	}
	if c.GetPersonal().GetName() != "李娜" || c.GetPersonal().GetPhone() != "13800001234" || !strings.Contains(c.GetPersonal().GetText(), "退一赔三") {
		t.Fatalf("agent should see the personal data: %v", c.GetPersonal())
	}
	if !strings.HasPrefix(c.GetCustomerRef(), "tel-") || strings.Contains(c.GetCustomerRef(), "1234") {
		t.Fatalf("customer ref %q should be derived from the phone without revealing it", c.GetCustomerRef())
	}
	if c.GetLanguage() != "zh-Hans" {
		t.Fatalf("language %q", c.GetLanguage())
	}

	// An integration sees masked values only.
	masked, err := s.client.GetComplaint(as(t, auth.RoleIntegration, 0), &intakev1.GetComplaintRequest{ComplaintId: res.GetComplaintId()})
	if err != nil {
		t.Fatal(err)
	}
	if p := masked.GetComplaint().GetPersonal(); p.GetPhone() != "138****1234" || p.GetName() != "李*" || p.GetText() != "" {
		t.Fatalf("integration view not masked: %v", p)
	}

	// The timeline comes from the stream, in both languages.
	for lang, want := range map[string]string{"zh-CN": "通过400热线提交投诉", "en": "Complaint filed via 400 hotline"} {
		tl, err := s.client.Timeline(ctx, &intakev1.TimelineRequest{ComplaintId: res.GetComplaintId(), Language: lang})
		if err != nil {
			t.Fatal(err)
		}
		// Filed and classified on arrival, in one atomic batch.
		if len(tl.GetEntries()) != 2 || tl.GetEntries()[1].GetType() != "ComplaintClassified" {
			t.Fatalf("timeline has %d entries, want ComplaintFiled and ComplaintClassified", len(tl.GetEntries()))
		}
		e := tl.GetEntries()[0]
		if e.GetType() != "ComplaintFiled" || !strings.Contains(e.GetSummary(), want) || e.GetStreamSequence() != res.GetStreamSequence() {
			t.Fatalf("%s entry %v", lang, e)
		}
		if e.GetPersonal().GetPhone() != "13800001234" {
			t.Fatalf("timeline personal data: %v", e.GetPersonal())
		}
		// What is stored holds no plaintext.
		if strings.Contains(e.GetEvent().GetComplaintFiled().String(), "13800001234") {
			t.Fatal("phone number stored in the clear")
		}
	}
}

func TestFileComplaintIsIdempotentOnClientRequestID(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	first, err := s.client.FileComplaint(ctx, request("req-idem"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.client.FileComplaint(ctx, request("req-idem"))
	if err != nil {
		t.Fatal(err)
	}
	if again.GetCreated() || again.GetComplaintId() != first.GetComplaintId() || again.GetStreamSequence() != first.GetStreamSequence() {
		t.Fatalf("retry answered %v, first %v", again, first)
	}
	if n := streamMessages(t, s.js); n != 2 {
		t.Fatalf("stream holds %d events, want 2 (filed, classified)", n)
	}

	other := request("req-idem")
	other.Description = "另一件事"
	_, err = s.client.FileComplaint(ctx, other)
	assertViolation(t, err, "client_request_id", "already used")
}

func TestConcurrentRetriesFileOneComplaint(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	const n = 8
	var wg sync.WaitGroup
	results := make([]*intakev1.FileComplaintResponse, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.client.FileComplaint(ctx, request("req-race"))
		}()
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if results[i].GetComplaintId() != results[0].GetComplaintId() {
			t.Fatalf("two complaints for one request: %s and %s", results[i].GetComplaintId(), results[0].GetComplaintId())
		}
		if results[i].GetCreated() {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d calls report created, want exactly 1", created)
	}
	if n := streamMessages(t, s.js); n != 2 {
		t.Fatalf("stream holds %d events, want 2 (filed, classified)", n)
	}
}

func assertViolation(t *testing.T, err error, field, reason string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("want InvalidArgument, got %v", err)
	}
	for _, v := range grpcerr.FieldViolations(err) {
		if v.Field == field && strings.Contains(v.Description, reason) {
			return
		}
	}
	t.Fatalf("want violation %s: %q, got %v", field, reason, grpcerr.FieldViolations(err))
}

func TestFileComplaintRefusesBadInputAndStoresNothing(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleAgent, 2)
	cases := []struct {
		name   string
		mutate func(r *intakev1.FileComplaintRequest)
		field  string
		reason string
	}{
		{"missing shop", func(r *intakev1.FileComplaintRequest) { r.ShopId = "" }, "shop_id", "required"},
		{"unknown shop", func(r *intakev1.FileComplaintRequest) { r.ShopId = "no-such-shop" }, "shop_id", "unknown shop"},
		{"missing channel", func(r *intakev1.FileComplaintRequest) { r.Channel = 0 }, "channel", "required"},
		{"missing description", func(r *intakev1.FileComplaintRequest) { r.Description = "" }, "description", "required"},
		{"oversize description", func(r *intakev1.FileComplaintRequest) { r.Description = strings.Repeat("长", 10001) }, "description", "too long"},
		{"invalid UTF-8", func(r *intakev1.FileComplaintRequest) { r.Description = "过期\xff\xfe" }, "description", "not valid UTF-8"},
		{"invalid UTF-8 in an item", func(r *intakev1.FileComplaintRequest) { r.Items[0].ProductName = "\xc3\x28" }, "items[0].product_name", "not valid UTF-8"},
		{"missing request id", func(r *intakev1.FileComplaintRequest) { r.ClientRequestId = "" }, "client_request_id", "required"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := request(fmt.Sprintf("req-bad-%d", i))
			tc.mutate(r)
			_, err := s.client.FileComplaint(ctx, r)
			assertViolation(t, err, tc.field, tc.reason)
		})
	}
	if n := streamMessages(t, s.js); n != 0 {
		t.Fatalf("bad requests stored %d events", n)
	}
}

func TestAuthorisation(t *testing.T) {
	s := startIntake(t)
	noToken, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.client.FileComplaint(noToken, request("r")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
	if _, err := s.client.FileComplaint(as(t, auth.RoleBI, 0), request("r")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("bi files: %v, want PermissionDenied", err)
	}
	if _, err := s.client.GetComplaint(as(t, auth.RoleAgent, 1), &intakev1.GetComplaintRequest{ComplaintId: "0195f3c2-0000-7000-8000-000000000000"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown complaint: %v, want NotFound", err)
	}
	_, err := s.client.Timeline(as(t, auth.RoleAgent, 1), &intakev1.TimelineRequest{ComplaintId: "complaints.>"})
	assertViolation(t, err, "complaint_id", "not a UUID")
}

func TestErasedCustomerShowsErased(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleSupervisor, 0)
	res, err := s.client.FileComplaint(ctx, request("req-erase"))
	if err != nil {
		t.Fatal(err)
	}
	c := waitComplaint(t, ctx, s.client, res.GetComplaintId())

	// What EraseCustomer does: destroy the key, then record it on the complaint.
	pool := openPool(t, s.dbURL)
	keys, err := pii.NewKeyring(pool, adapters.Schema, kek, pii.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := keys.Erase(ctx, "demo-flagship", c.GetCustomerRef())
	if err != nil || keyID == "" {
		t.Fatalf("erase: %q %v", keyID, err)
	}
	appendEvent(t, s.js, c, &complaintv1.PersonalDataErased{CustomerRef: c.GetCustomerRef(), KeyId: keyID, Reason: "customer request"})

	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := s.client.GetComplaint(ctx, &intakev1.GetComplaintRequest{ComplaintId: res.GetComplaintId()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetComplaint().GetPersonalDataErased() {
			if got.GetComplaint().GetPersonal() != nil {
				t.Fatalf("erased complaint still shows %v", got.GetComplaint().GetPersonal())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("complaint never showed erased")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tl, err := s.client.Timeline(ctx, &intakev1.TimelineRequest{ComplaintId: res.GetComplaintId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.GetEntries()) != 3 {
		t.Fatalf("timeline has %d entries, want 3", len(tl.GetEntries()))
	}
	filed := tl.GetEntries()[0]
	if !filed.GetPersonalDataErased() || filed.GetPersonal() != nil {
		t.Fatalf("timeline still opens erased data: %v", filed)
	}
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// appendEvent appends an event the way any Kesu service does.
func appendEvent(t *testing.T, js jetstream.JetStream, c *intakev1.Complaint, payload proto.Message) {
	t.Helper()
	appendEventAt(t, js, c, time.Now(), payload)
}

// appendEventAt appends an event recorded at the given instant.
func appendEventAt(t *testing.T, js jetstream.JetStream, c *intakev1.Complaint, at time.Time, payload proto.Message) {
	t.Helper()
	store, err := eventstore.New(nil, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.New(events.Envelope{
		ComplaintID: c.GetComplaintId(), ShopID: c.GetShopId(), RecordedAt: at,
		Actor: &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "test"},
	}, payload)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.Load(context.Background(), c.GetComplaintId())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(context.Background(), c.GetComplaintId(), recs[len(recs)-1].StreamSeq, enc); err != nil {
		t.Fatal(err)
	}
}
