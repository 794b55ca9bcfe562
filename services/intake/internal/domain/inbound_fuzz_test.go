package domain_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
)

// FuzzDecodeInbound: whatever a publisher sends, decoding and validating
// never panics, every refusal is a DecodeError or a ValidationError (so it is
// dead-lettered, not retried for ever), and a message that is accepted
// survives a JSON and a protobuf round trip unchanged.
func FuzzDecodeInbound(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.json"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"external_id":"x"}`, `{"customer":{"phone":"1"}}`,
		`{"items":[{"quantity":-1}],"channel":3}`, `{"occurred_at":"9999-12-31T23:59:59Z"}`,
		"{\"description\":\"\xff\"}", `{"description":"\ud800"}`, `{"channel_details":{"hotline":{"call_duration":"-1s"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same bytes as a protobuf payload: nothing may panic either.
		if _, err := domain.DecodeInbound(domain.FormatProtobuf, data); err != nil {
			var de *domain.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("protobuf: refusal is not a DecodeError: %v", err)
			}
		}

		m, err := domain.DecodeInbound(domain.FormatJSON, data)
		if err != nil {
			var de *domain.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("refusal is not a DecodeError: %v", err)
			}
			return
		}
		source := m.GetSource()
		if source == "" {
			source = "fuzz"
		}
		cmd, err := domain.InboundCommand(source, m, inboundNow)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("refusal is not a ValidationError with violations: %v", err)
			}
			return
		}
		if cmd.ClientRequestID == "" || cmd.ExternalRef.GetSource() != source {
			t.Fatalf("accepted command lacks its identity: %q %v", cmd.ClientRequestID, cmd.ExternalRef)
		}

		j, err := protojson.Marshal(m)
		if err != nil {
			t.Fatalf("accepted message does not re-encode as JSON: %v", err)
		}
		again, err := domain.DecodeInbound(domain.FormatJSON, j)
		if err != nil {
			t.Fatalf("re-encoded JSON %s does not decode: %v", j, err)
		}
		if !proto.Equal(m, again) {
			t.Fatalf("JSON round trip changed the message:\n%v\n%v", m, again)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatalf("accepted message does not re-encode as protobuf: %v", err)
		}
		again, err = domain.DecodeInbound(domain.FormatProtobuf, b)
		if err != nil {
			t.Fatalf("re-encoded protobuf does not decode: %v", err)
		}
		if !proto.Equal(m, again) {
			t.Fatalf("protobuf round trip changed the message:\n%v\n%v", m, again)
		}
		if cmd2, err := domain.InboundCommand(source, again, inboundNow); err != nil || cmd2.ClientRequestID != cmd.ClientRequestID {
			t.Fatalf("round-tripped message files differently: %v", err)
		}
	})
}

// FuzzValidateFileComplaint: Validate never panics on any field values, and
// whatever it accepts is valid UTF-8 in every string, however deeply held.
func FuzzValidateFileComplaint(f *testing.F) {
	f.Add("req-1", "demo-flagship", int32(1), "buyer-1", "王芳", "+86 138 0000 1234", "w@example.com", "杭州",
		"面霜过期了", "TB-1", "SKU-1", "面霜", int32(1), int64(100), int64(100), int64(300),
		"tmall", "TM-1", "https://example.com/1", "88VIP", "zh-Hans", int32(1), int32(1), "ww-1", int64(-3600), uint8(1))
	f.Add("", "", int32(0), "", "", "", "", "", "", "", "", "", int32(0), int64(0), int64(0), int64(0),
		"", "", "", "", "", int32(0), int32(0), "", int64(0), uint8(0))
	f.Add("r\xff", "s", int32(99), "c", "\xc3\x28", "1", "@", "a", "\xed\xa0\x80", "o", "s", "p", int32(-1), int64(-1), int64(1<<40), int64(-5),
		"s", "e\xff", "u", "l\xfe", "xx", int32(-7), int32(9), "d\xff", int64(1<<40), uint8(7))
	f.Fuzz(func(t *testing.T, requestID, shop string, channel int32, customerRef, name, phone, email, address,
		text, orderID, sku, productName string, qty int32, price, orderAmount, claimed int64,
		source, externalID, url, level, lang string, remedy, customerType int32, detail string, occurredSec int64, detailKind uint8) {
		cmd := &domain.FileComplaint{
			ClientRequestID: requestID,
			ShopID:          shop,
			Channel:         complaintv1.Channel(channel),
			CustomerRef:     customerRef,
			Personal:        &complaintv1.PersonalData{Name: name, Phone: phone, Email: email, Address: address, Text: text},
			OrderID:         orderID,
			Items: []*complaintv1.Item{
				{SkuId: sku, ProductId: sku, ProductName: productName, Quantity: qty, UnitPriceFen: price},
			},
			OrderAmountFen:   orderAmount,
			ClaimedAmountFen: claimed,
			OccurredAt:       inboundNow.Add(time.Duration(occurredSec%(1<<33)) * time.Second),
			ExternalRef:      &complaintv1.ExternalRef{Source: source, ExternalId: externalID, Url: url},
			ChannelDetails:   channelDetails(detailKind, detail, occurredSec),
			Complainant:      &complaintv1.Complainant{Level: level, Vip: qty%2 == 0},
			CustomerType:     complaintv1.CustomerType(customerType),
			ExpectedRemedies: []complaintv1.RemedyKind{complaintv1.RemedyKind(remedy)},
			Language:         lang,
		}
		if err := cmd.Validate(inboundNow, nil); err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("refusal is not a ValidationError with violations: %v", err)
			}
			for _, v := range ve.Violations {
				if v.Field == "" || v.Reason == "" {
					t.Fatalf("violation without a field or a reason: %+v", v)
				}
			}
			return
		}
		for _, s := range []string{cmd.ClientRequestID, cmd.ShopID, cmd.CustomerRef, cmd.OrderID, cmd.Language} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
		}
		for _, m := range []proto.Message{cmd.Personal, cmd.Items[0], cmd.ExternalRef, cmd.ChannelDetails, cmd.Complainant} {
			assertUTF8(t, m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()))
		}
	})
}

// channelDetails puts the fuzzed text into one of the channel kinds.
func channelDetails(kind uint8, s string, n int64) *complaintv1.ChannelDetails {
	switch kind % 9 {
	case 0:
		return nil
	case 1:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Chat{Chat: &complaintv1.ChatDetails{Platform: s, SessionId: s}}}
	case 2:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Hotline{Hotline: &complaintv1.HotlineDetails{
			CallId: s, Line: s, CallDuration: durationpb.New(time.Duration(n))}}}
	case 3:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Email{Email: &complaintv1.EmailDetails{MessageId: s}}}
	case 4:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_PlatformDispute{PlatformDispute: &complaintv1.PlatformDisputeDetails{Platform: s, DisputeId: s}}}
	case 5:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Odr{Odr: &complaintv1.OdrDetails{CaseNumber: s}}}
	case 6:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_ConsumerAssociation{ConsumerAssociation: &complaintv1.ConsumerAssociationDetails{Organisation: s, CaseNumber: s}}}
	case 7:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_SocialPost{SocialPost: &complaintv1.SocialPostDetails{
			Platform: s, PostUrl: s, ComplaintNumber: s, Followers: n}}}
	default:
		return &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_InStore{InStore: &complaintv1.InStoreDetails{StoreId: s}}}
	}
}

func assertUTF8(t *testing.T, m protoreflect.Message, path string) {
	t.Helper()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			for i := range v.List().Len() {
				e := v.List().Get(i)
				switch fd.Kind() {
				case protoreflect.StringKind:
					if !utf8.ValidString(e.String()) {
						t.Fatalf("accepted invalid UTF-8 in %s[%d]: %q", p, i, e.String())
					}
				case protoreflect.MessageKind:
					assertUTF8(t, e.Message(), p)
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.ValidString(v.String()) {
				t.Fatalf("accepted invalid UTF-8 in %s: %q", p, v.String())
			}
		case fd.Kind() == protoreflect.MessageKind:
			assertUTF8(t, v.Message(), p)
		}
		return true
	})
}
