package adapters_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	inboundv1 "github.com/kesu315/kesu/proto/gen/go/kesu/inbound/v1"
	"github.com/kesu315/kesu/services/intake/internal/adapters"
	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
)

const inboundExamples = "../../../../docs/examples/inbound"

// inboundMsg is a valid message from source about its own customer and order,
// so no two test messages fold into one dispute.
func inboundMsg(source, externalID string) *inboundv1.InboundComplaint {
	return &inboundv1.InboundComplaint{
		Source:      source,
		ExternalId:  externalID,
		Url:         "https://example.com/" + source + "/" + externalID,
		ShopId:      "demo-flagship",
		Channel:     complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION,
		Customer:    &inboundv1.Customer{CustomerRef: "buyer-" + externalID, Name: "赵敏"},
		OrderId:     "ORD-" + externalID,
		Description: "平台介入：商品与描述不符，要求退货退款。",
		ChannelDetails: &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_PlatformDispute{
			PlatformDispute: &complaintv1.PlatformDisputeDetails{Platform: source, DisputeId: externalID}}},
	}
}

func withoutSource(m *inboundv1.InboundComplaint) *inboundv1.InboundComplaint {
	m.Source = ""
	return m
}

func jsonOf(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func protoOf(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// publishInbound publishes to INBOUND as another system would and returns
// the message's stream sequence.
func publishInbound(t *testing.T, js jetstream.JetStream, subject, contentType string, data []byte, extra ...string) uint64 {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = data
	if contentType != "" {
		m.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m.Header.Set(extra[i], extra[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, m, jetstream.WithExpectStream(eventstore.StreamInbound))
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	return ack.Sequence
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitInboundDrained polls until every inbound message was acknowledged:
// INBOUND is a work queue, so an acked message leaves the stream.
func waitInboundDrained(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := streamInfo(t, js, eventstore.StreamInbound)
		if info.State.Msgs == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("INBOUND still holds %d messages", info.State.Msgs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storedMessages reads every message a stream holds.
func storedMessages(t *testing.T, js jetstream.JetStream, name string) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info := streamInfo(t, js, name)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("%s seq %d: %v", name, seq, err)
		}
		out = append(out, m)
	}
	return out
}

// filings returns every ComplaintFiled on COMPLAINTS, keyed "source/external_id".
func filings(t *testing.T, js jetstream.JetStream) map[string][]*complaintv1.Event {
	t.Helper()
	out := map[string][]*complaintv1.Event{}
	for _, m := range storedMessages(t, js, eventstore.StreamComplaints) {
		if m.Header.Get(eventstore.HeaderEventType) != "ComplaintFiled" {
			continue
		}
		ev := &complaintv1.Event{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			t.Fatal(err)
		}
		ref := ev.GetComplaintFiled().GetExternalRef()
		k := ref.GetSource() + "/" + ref.GetExternalId()
		out[k] = append(out[k], ev)
	}
	return out
}

// waitFiled polls until (source, external_id) is filed and returns its event.
func waitFiled(t *testing.T, js jetstream.JetStream, source, externalID string) *complaintv1.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if evs := filings(t, js)[source+"/"+externalID]; len(evs) > 0 {
			return evs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s was never filed", source, externalID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInboundFilesJSONAndProtobuf(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleAgent, 1)
	example, err := os.ReadFile(filepath.Join(inboundExamples, "tmall-chat.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, source, externalID, url, contentType string
		data                                       []byte
	}{
		{"JSON example, no Content-Type", "tmall", "TM-DSP-20260315-000123", "https://example.tmall.com/dispute/TM-DSP-20260315-000123", "", example},
		{"protobuf", "jd", "JD-77", "https://example.com/jd/JD-77", "application/protobuf", protoOf(t, inboundMsg("jd", "JD-77"))},
		{"x-protobuf, source left to the subject", "pdd", "PDD-1", "https://example.com/pdd/PDD-1", "application/x-protobuf; charset=binary", protoOf(t, withoutSource(inboundMsg("pdd", "PDD-1")))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			publishInbound(t, s.js, "inbound.complaints."+tc.source, tc.contentType, tc.data)
			ev := waitFiled(t, s.js, tc.source, tc.externalID)
			if a := ev.GetActor(); a.GetKind() != complaintv1.ActorKind_ACTOR_KIND_EXTERNAL || a.GetId() != "inbound:"+tc.source || a.GetRole() != "integration" {
				t.Fatalf("actor %v, want the external source", a)
			}
			c := waitComplaint(t, ctx, s.client, ev.GetComplaintId())
			ref := c.GetExternalRef()
			if ref.GetSource() != tc.source || ref.GetExternalId() != tc.externalID || ref.GetUrl() != tc.url {
				t.Fatalf("external ref %v, want %s/%s %s", ref, tc.source, tc.externalID, tc.url)
			}
			if c.GetPersonal().GetText() == "" || c.GetShopId() == "" {
				t.Fatalf("complaint view incomplete: %v", c)
			}
		})
	}
	waitInboundDrained(t, s.js)
	if n := streamInfo(t, s.js, eventstore.StreamDeadLetter).State.Msgs; n != 0 {
		t.Fatalf("%d good messages dead-lettered", n)
	}
}

func TestInboundIsIdempotentOnSourceAndExternalID(t *testing.T) {
	s := startIntake(t)
	msg := func(id string) *inboundv1.InboundComplaint { return inboundMsg("hotline400", id) }
	cases := []struct {
		name   string
		id     string
		twice  [2]string // content types of the two publishes
		encode [2]func(*testing.T, proto.Message) []byte
	}{
		{"JSON twice", "CALL-1", [2]string{"application/json", ""}, [2]func(*testing.T, proto.Message) []byte{jsonOf, jsonOf}},
		{"protobuf twice", "CALL-2", [2]string{"application/protobuf", "application/protobuf"}, [2]func(*testing.T, proto.Message) []byte{protoOf, protoOf}},
		{"JSON then protobuf", "CALL-3", [2]string{"", "application/protobuf"}, [2]func(*testing.T, proto.Message) []byte{jsonOf, protoOf}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := waitFiledAfter(t, s, tc.id, func() {
				publishInbound(t, s.js, "inbound.complaints.hotline400", tc.twice[0], tc.encode[0](t, msg(tc.id)))
			})
			// The repeat is a separate stream message (no Nats-Msg-Id), as
			// when a connector re-sends after a restart.
			publishInbound(t, s.js, "inbound.complaints.hotline400", tc.twice[1], tc.encode[1](t, msg(tc.id)))
			waitInboundDrained(t, s.js)
			evs := filings(t, s.js)["hotline400/"+tc.id]
			if len(evs) != 1 || evs[0].GetComplaintId() != first.GetComplaintId() {
				t.Fatalf("(hotline400, %s) filed %d times, want once", tc.id, len(evs))
			}
		})
	}
	if n := streamInfo(t, s.js, eventstore.StreamDeadLetter).State.Msgs; n != 0 {
		t.Fatalf("repeats were dead-lettered (%d)", n)
	}
}

func waitFiledAfter(t *testing.T, s *stack, id string, publish func()) *complaintv1.Event {
	t.Helper()
	publish()
	return waitFiled(t, s.js, "hotline400", id)
}

func TestInboundDeadLettersWhatCannotBeFiledAndKeepsGoing(t *testing.T) {
	s := startIntake(t)

	// A complaint filed first, so that re-sending its id with other content
	// is a reuse.
	publishInbound(t, s.js, "inbound.complaints.tmall", "", jsonOf(t, inboundMsg("tmall", "TM-REUSED")))
	waitFiled(t, s.js, "tmall", "TM-REUSED")

	noDescription := inboundMsg("tmall", "TM-2")
	noDescription.Description = ""
	unknownShop := inboundMsg("tmall", "TM-3")
	unknownShop.ShopId = "no-such-shop"
	badName := inboundMsg("tmall", "TM-4")
	badName.Customer.Name = "赵\xff"
	reused := inboundMsg("tmall", "TM-REUSED")
	reused.Description = "另一件事"
	cases := []struct {
		name, subject, contentType string
		data                       []byte
		class, fields, reason      string
		dlqSubject                 string
	}{
		{"malformed JSON", "inbound.complaints.tmall", "", []byte(`{"external_id": "TM-1",`),
			"decode", "", "cannot decode json payload", "deadletter.inbound.tmall"},
		{"empty payload", "inbound.complaints.tmall", "application/json", nil,
			"decode", "", "empty payload", "deadletter.inbound.tmall"},
		{"unknown field", "inbound.complaints.tmall", "", []byte(`{"external_id":"TM-5","customer":{"phone":"13800001111","wechat":"x"}}`),
			"decode", "customer.wechat", `customer.wechat: (line 1:`, "deadletter.inbound.tmall"},
		{"invalid UTF-8 in JSON", "inbound.complaints.tmall", "", []byte("{\"external_id\":\"TM-6\",\"description\":\"坏\xe5\x9d\"}"),
			"decode", "description", "description: not valid UTF-8", "deadletter.inbound.tmall"},
		{"invalid UTF-8 in protobuf", "inbound.complaints.tmall", "application/protobuf", protoOf(t, badName),
			"validation", "customer.name", "customer.name: not valid UTF-8", "deadletter.inbound.tmall"},
		{"missing description", "inbound.complaints.tmall", "", jsonOf(t, noDescription),
			"validation", "description", "description: required", "deadletter.inbound.tmall"},
		{"unknown shop", "inbound.complaints.tmall", "application/protobuf", protoOf(t, unknownShop),
			"validation", "shop_id", `shop_id: "no-such-shop": unknown shop`, "deadletter.inbound.tmall"},
		{"source mismatch", "inbound.complaints.jd", "", jsonOf(t, inboundMsg("tmall", "TM-7")),
			"validation", "source", `source: "tmall" does not match the subject's source "jd"`, "deadletter.inbound.jd"},
		{"subject with two source tokens", "inbound.complaints.tmall.v2", "", jsonOf(t, inboundMsg("tmall", "TM-8")),
			"validation", "subject", "subject: ", "deadletter.inbound._invalid"},
		{"external id reused for other content", "inbound.complaints.tmall", "", jsonOf(t, reused),
			"reused", "external_id", "external_id: already filed with different content", "deadletter.inbound.tmall"},
	}
	seqs := map[uint64]int{}
	for i, tc := range cases {
		seq := publishInbound(t, s.js, tc.subject, tc.contentType, tc.data,
			"X-Connector", "test-connector", "Nats-Msg-Id", fmt.Sprintf("publisher-%d", i))
		seqs[seq] = i
	}
	// Published after every bad one: still filed, so nothing stalled on them.
	publishInbound(t, s.js, "inbound.complaints.tmall", "", jsonOf(t, inboundMsg("tmall", "TM-AFTER")))
	waitFiled(t, s.js, "tmall", "TM-AFTER")
	waitInboundDrained(t, s.js)

	dead := storedMessages(t, s.js, eventstore.StreamDeadLetter)
	if len(dead) != len(cases) {
		t.Fatalf("DEADLETTER holds %d messages, want %d", len(dead), len(cases))
	}
	for _, d := range dead {
		seq, err := strconv.ParseUint(d.Header.Get(adapters.HeaderDLQStreamSeq), 10, 64)
		if err != nil {
			t.Fatalf("dead letter without a stream sequence: %v", d.Header)
		}
		i, ok := seqs[seq]
		if !ok {
			t.Fatalf("dead letter for unknown INBOUND seq %d", seq)
		}
		tc := cases[i]
		t.Run(tc.name, func(t *testing.T) {
			h := d.Header
			if d.Subject != tc.dlqSubject {
				t.Errorf("subject %s, want %s", d.Subject, tc.dlqSubject)
			}
			if got := h.Get(adapters.HeaderDLQReason); !strings.Contains(got, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", got, tc.reason)
			}
			if h.Get(adapters.HeaderDLQClass) != tc.class || h.Get(adapters.HeaderDLQFields) != tc.fields {
				t.Errorf("class %q fields %q, want %q %q", h.Get(adapters.HeaderDLQClass), h.Get(adapters.HeaderDLQFields), tc.class, tc.fields)
			}
			if h.Get(adapters.HeaderDLQSourceSubject) != tc.subject || h.Get(adapters.HeaderDLQConsumer) != adapters.InboundConsumer {
				t.Errorf("source subject %q consumer %q", h.Get(adapters.HeaderDLQSourceSubject), h.Get(adapters.HeaderDLQConsumer))
			}
			if _, err := time.Parse(time.RFC3339Nano, h.Get(adapters.HeaderDLQAt)); err != nil {
				t.Errorf("%s: %v", adapters.HeaderDLQAt, err)
			}
			// The original payload and headers, for inspection and replay.
			if string(d.Data) != string(tc.data) || h.Get("Content-Type") != tc.contentType || h.Get("X-Connector") != "test-connector" {
				t.Errorf("original not kept: data %q headers %v", d.Data, h)
			}
			if h.Get(adapters.HeaderDLQOriginalPrefix+"Nats-Msg-Id") != fmt.Sprintf("publisher-%d", i) {
				t.Errorf("publisher's Nats-Msg-Id not kept: %v", h)
			}
		})
	}
	// None of the bad messages filed anything.
	for k := range filings(t, s.js) {
		if k != "tmall/TM-REUSED" && k != "tmall/TM-AFTER" {
			t.Errorf("%s was filed", k)
		}
	}
}

// TestInboundExamplesAreFiled: every published example is filed as is.
func TestInboundExamplesAreFiled(t *testing.T) {
	s := startIntake(t)
	files, err := filepath.Glob(filepath.Join(inboundExamples, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := domain.DecodeInbound(domain.FormatJSON, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		publishInbound(t, s.js, "inbound.complaints."+m.GetSource(), "application/json", data)
		waitFiled(t, s.js, m.GetSource(), m.GetExternalId())
	}
	waitInboundDrained(t, s.js)
	if n := streamInfo(t, s.js, eventstore.StreamDeadLetter).State.Msgs; n != 0 {
		t.Fatalf("%d examples dead-lettered", n)
	}
}

// filerFunc lets a test stand in for the app, to make it fail or wait at will.
type filerFunc func(ctx context.Context, cmd *domain.FileComplaint) (app.FileResult, error)

func (f filerFunc) FileComplaint(ctx context.Context, cmd *domain.FileComplaint) (app.FileResult, error) {
	return f(ctx, cmd)
}

// startInbound runs the consumer alone against a real NATS server. stop
// cancels it and returns what Run returned, once it has.
func startInbound(t *testing.T, filer adapters.Filer, reader sdkmetric.Reader) (js jetstream.JetStream, stop func() error, returned <-chan struct{}) {
	t.Helper()
	ns := natstest.StartServer(t)
	js = ns.JetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{}); err != nil {
		t.Fatal(err)
	}
	cfg := adapters.InboundConfig{RetryMin: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond, MaxWait: time.Second}
	if reader != nil {
		cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	}
	in, err := adapters.NewInbound(js, filer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var runErr error
	go func() { runErr = in.Run(ctx); close(done) }()
	stop = func() error { cancel(); <-done; return runErr }
	t.Cleanup(func() { _ = stop() })
	return js, stop, done
}

// counters sums each counter by its attributes, "name{k=v,...}".
func counters(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				var kv []string
				for _, a := range dp.Attributes.ToSlice() {
					kv = append(kv, string(a.Key)+"="+a.Value.Emit())
				}
				out[m.Name+"{"+strings.Join(kv, ",")+"}"] += dp.Value
			}
		}
	}
	return out
}

func TestInboundRetriesTransientFailuresAndCountsEverything(t *testing.T) {
	var calls atomic.Int32
	filer := filerFunc(func(ctx context.Context, cmd *domain.FileComplaint) (app.FileResult, error) {
		if id, _ := auth.FromContext(ctx); id.Subject != "inbound:hotline400" || id.Role != auth.RoleIntegration {
			return app.FileResult{}, fmt.Errorf("unexpected identity %+v", id)
		}
		if calls.Add(1) <= 2 {
			return app.FileResult{}, fmt.Errorf("append: %w", eventstore.ErrUnavailable)
		}
		return app.FileResult{ComplaintID: "c1", Created: true}, nil
	})
	reader := sdkmetric.NewManualReader()
	js, _, _ := startInbound(t, filer, reader)

	publishInbound(t, js, "inbound.complaints.hotline400", "", jsonOf(t, inboundMsg("hotline400", "CALL-9")))
	publishInbound(t, js, "inbound.complaints.hotline400", "", []byte("{"))
	waitInboundDrained(t, js)

	if n := calls.Load(); n != 3 {
		t.Fatalf("filer called %d times, want 3 (two transient failures, then filed)", n)
	}
	dead := storedMessages(t, js, eventstore.StreamDeadLetter)
	if len(dead) != 1 || dead[0].Header.Get(adapters.HeaderDLQClass) != "decode" {
		t.Fatalf("want only the malformed message dead-lettered, got %d", len(dead))
	}
	got := counters(t, reader)
	for k, want := range map[string]int64{
		"kesu.inbound.received{format=json,source=hotline400}":            4,
		"kesu.inbound.retried{source=hotline400}":                         2,
		"kesu.inbound.filed{created=true,source=hotline400}":              1,
		"kesu.inbound.dead_lettered{reason=decode,source=hotline400}":     1,
		"kesu.inbound.dead_lettered{reason=validation,source=hotline400}": 0,
	} {
		if got[k] != want {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], want, got)
		}
	}
}

func TestInboundStopFinishesTheMessagesInHand(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var ctxErr atomic.Value
	filer := filerFunc(func(ctx context.Context, cmd *domain.FileComplaint) (app.FileResult, error) {
		close(entered)
		<-release
		// The stop has begun by now; the message in hand must still complete.
		ctxErr.Store(fmt.Sprint(ctx.Err()))
		return app.FileResult{ComplaintID: "c1", Created: true}, nil
	})
	js, stop, returned := startInbound(t, filer, nil)
	publishInbound(t, js, "inbound.complaints.odr12315", "", jsonOf(t, inboundMsg("odr12315", "CASE-1")))

	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the message never reached the filer")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case <-returned:
		t.Fatal("Run returned with a message in hand")
	default:
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := ctxErr.Load(); got != "<nil>" {
		t.Fatalf("the message in hand was handled with a cancelled context: %v", got)
	}
	if n := streamInfo(t, js, eventstore.StreamInbound).State.Msgs; n != 0 {
		t.Fatalf("the message in hand was not acknowledged (%d left)", n)
	}
}

func TestNewInboundRefusesABadConfig(t *testing.T) {
	ns := natstest.StartServer(t)
	js := ns.JetStream(t)
	filer := filerFunc(func(context.Context, *domain.FileComplaint) (app.FileResult, error) { return app.FileResult{}, nil })
	cases := []struct {
		cfg  adapters.InboundConfig
		want string
	}{
		{adapters.InboundConfig{Concurrency: -1}, "Concurrency"},
		{adapters.InboundConfig{RetryMin: time.Second, RetryMax: time.Millisecond}, "RetryMax"},
		{adapters.InboundConfig{AckWait: time.Second, HandleTimeout: time.Minute}, "HandleTimeout"},
		{adapters.InboundConfig{MaxWait: -time.Second}, "MaxWait"},
	}
	for _, tc := range cases {
		if _, err := adapters.NewInbound(js, filer, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if _, err := adapters.NewInbound(js, nil, adapters.InboundConfig{}); err == nil {
		t.Error("a nil filer was accepted")
	}
}
