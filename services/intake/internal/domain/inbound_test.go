package domain_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	inboundv1 "github.com/kesu315/kesu/proto/gen/go/kesu/inbound/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/policy"
)

const (
	docsDir     = "../../../../docs"
	examplesDir = docsDir + "/examples/inbound"
	policyPath  = "../../../../deploy/config/kesu.yaml"
)

var inboundNow = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

// goodInbound is a complete, valid message from "tmall".
func goodInbound() *inboundv1.InboundComplaint {
	return &inboundv1.InboundComplaint{
		Source:      "tmall",
		ExternalId:  "TM-1",
		Url:         "https://example.tmall.com/d/TM-1",
		ShopId:      "demo-flagship",
		Channel:     complaintv1.Channel_CHANNEL_ONLINE_CHAT,
		Customer:    &inboundv1.Customer{CustomerRef: "buyer-1", Name: "王芳", Phone: "13800001234"},
		OrderId:     "TB-1",
		Items:       []*complaintv1.Item{{SkuId: "SKU-1", ProductName: "面霜", Quantity: 1, UnitPriceFen: 100}},
		Description: "面霜过期了，要求退款。",
		ExpectedRemedies: []complaintv1.RemedyKind{
			complaintv1.RemedyKind_REMEDY_KIND_REFUND,
		},
	}
}

func TestInboundFormatOf(t *testing.T) {
	cases := map[string]domain.InboundFormat{
		"":                                 domain.FormatJSON,
		"application/json":                 domain.FormatJSON,
		"application/json; charset=utf-8":  domain.FormatJSON,
		"application/protobuf":             domain.FormatProtobuf,
		"Application/X-Protobuf":           domain.FormatProtobuf,
		"application/protobuf; proto=kesu": domain.FormatProtobuf,
		"text/plain":                       domain.FormatJSON,
		";;;":                              domain.FormatJSON,
	}
	for ct, want := range cases {
		if got := domain.InboundFormatOf(ct); got != want {
			t.Errorf("InboundFormatOf(%q) = %s, want %s", ct, got, want)
		}
	}
}

func TestDecodeInboundAcceptsBothFormatsAndBothNameStyles(t *testing.T) {
	want := goodInbound()
	bin, err := proto.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		format domain.InboundFormat
		data   []byte
	}{
		{"protobuf", domain.FormatProtobuf, bin},
		{"json proto names", domain.FormatJSON, []byte(`{"source":"tmall","external_id":"TM-1","url":"https://example.tmall.com/d/TM-1",
			"shop_id":"demo-flagship","channel":"CHANNEL_ONLINE_CHAT","customer":{"customer_ref":"buyer-1","name":"王芳","phone":"13800001234"},
			"order_id":"TB-1","items":[{"sku_id":"SKU-1","product_name":"面霜","quantity":1,"unit_price_fen":"100"}],
			"description":"面霜过期了，要求退款。","expected_remedies":["REMEDY_KIND_REFUND"]}`)},
		{"json lowerCamel names and enum numbers", domain.FormatJSON, []byte(`{"source":"tmall","externalId":"TM-1","url":"https://example.tmall.com/d/TM-1",
			"shopId":"demo-flagship","channel":1,"customer":{"customerRef":"buyer-1","name":"王芳","phone":"13800001234"},
			"orderId":"TB-1","items":[{"skuId":"SKU-1","productName":"面霜","quantity":1,"unitPriceFen":100}],
			"description":"面霜过期了，要求退款。","expectedRemedies":[1]}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.DecodeInbound(tc.format, tc.data)
			if err != nil {
				t.Fatalf("DecodeInbound: %v", err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("decoded %v\nwant %v", got, want)
			}
		})
	}
}

func TestDecodeInboundNamesTheBadField(t *testing.T) {
	withUnknown := protowire.AppendTag(nil, 99, protowire.VarintType)
	withUnknown = protowire.AppendVarint(withUnknown, 7)
	nestedUnknown, _ := proto.Marshal(&inboundv1.InboundComplaint{ExternalId: "x"})
	customer := protowire.AppendTag(nil, 42, protowire.BytesType)
	customer = protowire.AppendString(customer, "?")
	nestedUnknown = protowire.AppendTag(nestedUnknown, 6, protowire.BytesType)
	nestedUnknown = protowire.AppendBytes(nestedUnknown, customer)

	cases := []struct {
		name   string
		format domain.InboundFormat
		data   string
		field  string
		reason string
	}{
		{"not JSON", domain.FormatJSON, `not json`, "", "syntax error"},
		{"truncated JSON", domain.FormatJSON, `{"external_id":"a","description":`, "", "unexpected"},
		{"empty payload", domain.FormatJSON, " \n", "", "empty payload"},
		{"unknown field", domain.FormatJSON, `{"external_id":"a","descripton":"x"}`, "descripton", `unknown field "descripton"`},
		{"unknown nested field", domain.FormatJSON, `{"customer":{"phone":"1","mobile":"2"}}`, "customer.mobile", "unknown field"},
		{"wrong type in an item", domain.FormatJSON, `{"items":[{"sku_id":"a"},{"quantity":"many"}]}`, "items[1].quantity", "invalid value"},
		{"unknown enum name", domain.FormatJSON, `{"channel":"CHANNEL_PIGEON"}`, "channel", "invalid value for enum"},
		{"bad timestamp", domain.FormatJSON, `{"occurred_at":"yesterday"}`, "occurred_at", "Timestamp"},
		{"invalid UTF-8 in a value", domain.FormatJSON, "{\"external_id\":\"a\",\"customer\":{\"name\":\"\xe6\x9d\"}}", "customer.name", "not valid UTF-8"},
		{"invalid UTF-8 in an item", domain.FormatJSON, "{\"items\":[{},{\"product_name\":\"ok\"},{\"product_name\":\"\xff\"}]}", "items[2].product_name", "not valid UTF-8"},
		{"truncated protobuf", domain.FormatProtobuf, "\x12\x10abc", "", "cannot parse"},
		{"unknown protobuf field", domain.FormatProtobuf, string(withUnknown), "", "unknown field number 99"},
		{"unknown nested protobuf field", domain.FormatProtobuf, string(nestedUnknown), "customer", "unknown field number 42"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.DecodeInbound(tc.format, []byte(tc.data))
			var de *domain.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("want a DecodeError, got %v", err)
			}
			if de.Field != tc.field || !strings.Contains(de.Reason, tc.reason) || de.Format != tc.format {
				t.Fatalf("got field %q reason %q format %s; want field %q reason containing %q", de.Field, de.Reason, de.Format, tc.field, tc.reason)
			}
			if strings.HasPrefix(de.Reason, "proto:") {
				t.Fatalf("reason keeps the library prefix: %q", de.Reason)
			}
		})
	}
}

func TestInboundSource(t *testing.T) {
	for subject, want := range map[string]string{
		"inbound.complaints.tmall":           "tmall",
		"inbound.complaints.weibo-listening": "weibo-listening",
		"inbound.complaints.odr_12315":       "odr_12315",
	} {
		if got, err := domain.InboundSource(subject); err != nil || got != want {
			t.Errorf("InboundSource(%q) = %q, %v; want %q", subject, got, err, want)
		}
	}
	for _, subject := range []string{
		"inbound.complaints.", "inbound.complaints.tmall.extra", "complaints.x", "inbound.complaints.-x",
		"inbound.complaints." + strings.Repeat("a", domain.MaxSourceLen+1), "inbound.complaints.天猫",
	} {
		_, err := domain.InboundSource(subject)
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || ve.Violations[0].Field != "subject" {
			t.Errorf("InboundSource(%q): want a violation on subject, got %v", subject, err)
		}
	}
}

func TestInboundCommandMapsEveryField(t *testing.T) {
	m := goodInbound()
	m.OrderAmountFen, m.ClaimedAmountFen = 100, 300
	m.ChannelDetails = &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Chat{Chat: &complaintv1.ChatDetails{Platform: "wangwang"}}}
	m.Complainant = &complaintv1.Complainant{Vip: true, Level: "88VIP"}
	m.CustomerType = complaintv1.CustomerType_CUSTOMER_TYPE_QUIET
	m.Language = "zh-Hans"
	m.Customer.Email, m.Customer.Address = "w@example.com", "杭州"
	occurred := inboundNow.Add(-time.Hour)
	m.OccurredAt = domain.Timestamp(occurred)
	m.Source = "" // filled from the subject

	cmd, err := domain.InboundCommand("tmall", m, inboundNow)
	if err != nil {
		t.Fatalf("InboundCommand: %v", err)
	}
	want := &domain.FileComplaint{
		ClientRequestID: "inbound:tmall:TM-1",
		ShopID:          "demo-flagship",
		Channel:         complaintv1.Channel_CHANNEL_ONLINE_CHAT,
		CustomerRef:     "buyer-1",
		Personal: &complaintv1.PersonalData{Name: "王芳", Phone: "13800001234", Email: "w@example.com", Address: "杭州",
			Text: "面霜过期了，要求退款。"},
		OrderID: "TB-1", Items: m.Items, OrderAmountFen: 100, ClaimedAmountFen: 300,
		OccurredAt:       occurred,
		ExternalRef:      &complaintv1.ExternalRef{Source: "tmall", ExternalId: "TM-1", Url: "https://example.tmall.com/d/TM-1"},
		ChannelDetails:   m.ChannelDetails,
		Complainant:      m.Complainant,
		CustomerType:     complaintv1.CustomerType_CUSTOMER_TYPE_QUIET,
		ExpectedRemedies: m.ExpectedRemedies,
		Language:         "zh-Hans",
	}
	if !proto.Equal(cmd.Personal, want.Personal) || !proto.Equal(cmd.ExternalRef, want.ExternalRef) ||
		!cmd.OccurredAt.Equal(want.OccurredAt) {
		t.Fatalf("personal %v ref %v occurred %v", cmd.Personal, cmd.ExternalRef, cmd.OccurredAt)
	}
	cmd.Personal, cmd.ExternalRef, want.Personal, want.ExternalRef = nil, nil, nil, nil
	cmd.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
	if got, w := *cmd, *want; !equalCommands(got, w) {
		t.Fatalf("command\n%+v\nwant\n%+v", got, w)
	}
}

func equalCommands(a, b domain.FileComplaint) bool {
	return a.ClientRequestID == b.ClientRequestID && a.ShopID == b.ShopID && a.Channel == b.Channel &&
		a.CustomerRef == b.CustomerRef && a.OrderID == b.OrderID && len(a.Items) == len(b.Items) &&
		a.OrderAmountFen == b.OrderAmountFen && a.ClaimedAmountFen == b.ClaimedAmountFen &&
		proto.Equal(a.ChannelDetails, b.ChannelDetails) && proto.Equal(a.Complainant, b.Complainant) &&
		a.CustomerType == b.CustomerType && slices.Equal(a.ExpectedRemedies, b.ExpectedRemedies) && a.Language == b.Language
}

func TestInboundRequestIDIsOnePerSourceAndExternalID(t *testing.T) {
	if a, b := domain.InboundRequestID("tmall", "1"), domain.InboundRequestID("jd", "1"); a == b {
		t.Fatalf("two sources share request id %q", a)
	}
	long := strings.Repeat("长", domain.MaxExternalLen)
	id := domain.InboundRequestID("weibo-listening", long)
	if len([]rune(id)) > domain.MaxRequestIDLen || id != domain.InboundRequestID("weibo-listening", long) {
		t.Fatalf("long external id gives %q", id)
	}
	if id == domain.InboundRequestID("weibo-listening", long[:len(long)-3]) {
		t.Fatal("hashed request ids collide")
	}
}

func TestInboundCommandNamesEveryBadField(t *testing.T) {
	cases := []struct {
		name    string
		source  string
		mutate  func(m *inboundv1.InboundComplaint)
		field   string
		reason  string
		exactly bool // the only violation
	}{
		{"source mismatch", "jd", func(m *inboundv1.InboundComplaint) {}, "source", `does not match the subject's source "jd"`, true},
		{"missing external id", "tmall", func(m *inboundv1.InboundComplaint) { m.ExternalId = "" }, "external_id", "required", true},
		{"oversize external id", "tmall", func(m *inboundv1.InboundComplaint) { m.ExternalId = strings.Repeat("x", 257) }, "external_id", "too long", true},
		{"invalid UTF-8 external id", "tmall", func(m *inboundv1.InboundComplaint) { m.ExternalId = "a\xff" }, "external_id", "not valid UTF-8", true},
		{"control character in external id", "tmall", func(m *inboundv1.InboundComplaint) { m.ExternalId = "a\tb" }, "external_id", "control character", true},
		{"relative url", "tmall", func(m *inboundv1.InboundComplaint) { m.Url = "/d/1" }, "url", "absolute URL", true},
		{"missing description", "tmall", func(m *inboundv1.InboundComplaint) { m.Description = "" }, "description", "required", true},
		{"invalid UTF-8 description", "tmall", func(m *inboundv1.InboundComplaint) { m.Description = "过期\xc3\x28" }, "description", "not valid UTF-8", true},
		{"NUL in a product name", "tmall", func(m *inboundv1.InboundComplaint) { m.Items[0].ProductName = "a\x00b" }, "items[0].product_name", "NUL", true},
		{"no customer", "tmall", func(m *inboundv1.InboundComplaint) { m.Customer = nil }, "customer", "customer_ref or phone", true},
		{"bad phone", "tmall", func(m *inboundv1.InboundComplaint) { m.Customer.Phone = "call me" }, "customer.phone", "not a phone number", true},
		{"future occurrence", "tmall", func(m *inboundv1.InboundComplaint) { m.OccurredAt = domain.Timestamp(inboundNow.Add(time.Hour)) }, "occurred_at", "in the future", true},
		{"invalid timestamp", "tmall", func(m *inboundv1.InboundComplaint) {
			m.OccurredAt = domain.Timestamp(inboundNow)
			m.OccurredAt.Nanos = -1
		}, "occurred_at", "out-of-range nanos", true},
		{"missing channel", "tmall", func(m *inboundv1.InboundComplaint) { m.Channel = 0 }, "channel", "required", true},
		{"negative amount", "tmall", func(m *inboundv1.InboundComplaint) { m.ClaimedAmountFen = -1 }, "claimed_amount_fen", "negative", true},
		{"bad shop id", "tmall", func(m *inboundv1.InboundComplaint) { m.ShopId = "../etc" }, "shop_id", "letters, digits", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := goodInbound()
			tc.mutate(m)
			_, err := domain.InboundCommand(tc.source, m, inboundNow)
			var ve *domain.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			found := false
			for _, v := range ve.Violations {
				if v.Field == tc.field && strings.Contains(v.Reason, tc.reason) {
					found = true
				}
				if strings.HasPrefix(v.Field, "external_ref") || v.Field == "client_request_id" {
					t.Errorf("violation names a field the publisher never sent: %+v", v)
				}
			}
			if !found || (tc.exactly && len(ve.Violations) != 1) {
				t.Fatalf("want %s: %q, got %v", tc.field, tc.reason, ve.Violations)
			}
		})
	}
}

func TestInboundCommandReportsEveryProblemAtOnce(t *testing.T) {
	m := &inboundv1.InboundComplaint{Source: "tmall", Customer: &inboundv1.Customer{Email: "nope"}}
	_, err := domain.InboundCommand("tmall", m, inboundNow)
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	var fields []string
	for _, v := range ve.Violations {
		fields = append(fields, v.Field)
	}
	for _, f := range []string{"external_id", "shop_id", "channel", "customer", "customer.email", "description"} {
		if !slices.Contains(fields, f) {
			t.Errorf("no violation on %s: %v", f, ve.Violations)
		}
	}
	if n := strings.Count(strings.Join(fields, ","), "external_id"); n != 1 {
		t.Errorf("external_id reported %d times: %v", n, ve.Violations)
	}
}

// TestInboundExamplesAreValid: every published example decodes, passes
// validation against the shipped policy's shops, and uses only fields the
// schema lists.
func TestInboundExamplesAreValid(t *testing.T) {
	pol, err := policy.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	schema := loadSchema(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := domain.DecodeInbound(domain.FormatJSON, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if m.GetSource() == "" {
				t.Fatal("an example should name its source")
			}
			cmd, err := domain.InboundCommand(m.GetSource(), m, inboundNow)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if err := cmd.Validate(inboundNow, func(id string) bool { _, ok := pol.Shop(id); return ok }); err != nil {
				t.Fatalf("validate with the policy's shops: %v", err)
			}
			var doc any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			checkAgainstSchema(t, schema, schema, doc, "")
		})
	}
}

type jsonSchema map[string]any

func loadSchema(t *testing.T) jsonSchema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(docsDir, "inbound.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s jsonSchema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("inbound.schema.json: %v", err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema is %v, want draft 2020-12", s["$schema"])
	}
	return s
}

// resolve follows a local $ref.
func (root jsonSchema) resolve(t *testing.T, s jsonSchema) jsonSchema {
	t.Helper()
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			t.Fatalf("unsupported $ref %q", ref)
		}
		def, ok := root["$defs"].(map[string]any)[name].(map[string]any)
		if !ok {
			t.Fatalf("$ref %q: no such definition", ref)
		}
		s = def
	}
}

func (root jsonSchema) properties(t *testing.T, s jsonSchema) map[string]any {
	t.Helper()
	props, _ := root.resolve(t, s)["properties"].(map[string]any)
	return props
}

// checkAgainstSchema checks what the schema tests need of an example: every
// member is a listed property and required members are present.
func checkAgainstSchema(t *testing.T, root, s jsonSchema, doc any, path string) {
	t.Helper()
	s = root.resolve(t, s)
	switch v := doc.(type) {
	case map[string]any:
		props := root.properties(t, s)
		required, _ := s["required"].([]any)
		for _, req := range required {
			if _, ok := v[req.(string)]; !ok {
				t.Errorf("%s: required %s missing", path, req)
			}
		}
		for k, val := range v {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("%s.%s: not in the schema", path, k)
				continue
			}
			checkAgainstSchema(t, root, p, val, path+"."+k)
		}
	case []any:
		for _, e := range v {
			checkAgainstSchema(t, root, s["items"].(map[string]any), e, path+"[]")
		}
	case string:
		if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, any(v)) {
			t.Errorf("%s: %q not in the schema's enum", path, v)
		}
	}
}

// TestInboundSchemaMatchesTheProto keeps docs/inbound.schema.json and
// inbound.proto from drifting: each object the schema describes has exactly
// the proto message's fields, and each enum exactly its values (but the
// unspecified zero, which Kesu refuses).
func TestInboundSchemaMatchesTheProto(t *testing.T) {
	root := loadSchema(t)
	if root["additionalProperties"] != false {
		t.Error("the schema must refuse unknown members, as the decoder does")
	}
	seen := map[protoreflect.FullName]bool{}
	var check func(s jsonSchema, md protoreflect.MessageDescriptor, path string)
	check = func(s jsonSchema, md protoreflect.MessageDescriptor, path string) {
		s = root.resolve(t, s)
		switch md.FullName() {
		case "google.protobuf.Timestamp", "google.protobuf.Duration":
			if s["type"] != "string" {
				t.Errorf("%s: a %s is a JSON string", path, md.FullName())
			}
			return
		}
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		if s["additionalProperties"] != false {
			t.Errorf("%s (%s): additionalProperties must be false", path, md.FullName())
		}
		props := root.properties(t, s)
		var want []string
		fields := md.Fields()
		for i := range fields.Len() {
			want = append(want, string(fields.Get(i).Name()))
		}
		got := slices.Sorted(maps.Keys(props))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s): schema properties %v, proto fields %v", path, md.FullName(), got, want)
			return
		}
		for i := range fields.Len() {
			fd := fields.Get(i)
			ps := props[string(fd.Name())].(map[string]any)
			if fd.IsList() {
				if ps["type"] != "array" {
					t.Errorf("%s.%s: repeated field should be an array", path, fd.Name())
					continue
				}
				ps = ps["items"].(map[string]any)
			}
			switch fd.Kind() {
			case protoreflect.MessageKind:
				check(ps, fd.Message(), path+"."+string(fd.Name()))
			case protoreflect.EnumKind:
				checkEnum(t, root.resolve(t, ps), fd.Enum(), path+"."+string(fd.Name()))
			}
		}
	}
	check(root, (&inboundv1.InboundComplaint{}).ProtoReflect().Descriptor(), "")
}

func checkEnum(t *testing.T, s jsonSchema, ed protoreflect.EnumDescriptor, path string) {
	t.Helper()
	var got, want []string
	for _, v := range s["enum"].([]any) {
		got = append(got, v.(string))
	}
	values := ed.Values()
	for i := range values.Len() {
		if values.Get(i).Number() != 0 {
			want = append(want, string(values.Get(i).Name()))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s (%s): schema enum %v, proto values %v", path, ed.FullName(), got, want)
	}
}
