package adapters

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
)

// populate sets every field of m, recursively, to a value derived from
// seed: nothing is left at its default, so a decoder that drops or mixes up
// a field shows.
func populate(m protoreflect.Message, seed int, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil && !fd.ContainingOneof().IsSynthetic() {
			continue // the caller picks the oneof member
		}
		n := seed*31 + int(fd.Number())
		switch {
		case fd.IsMap():
			if depth > 0 {
				continue
			}
			mp := m.Mutable(fd).Map()
			mp.Set(scalar(fd.MapKey(), n).MapKey(), mapValue(mp, fd.MapValue(), n, depth))
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := range 2 {
				if fd.Message() != nil {
					if depth > 2 {
						break
					}
					e := l.NewElement()
					populate(e.Message(), n+j, depth+1)
					l.Append(e)
				} else {
					l.Append(scalar(fd, n+j))
				}
			}
		case fd.Message() != nil:
			if depth > 2 {
				continue
			}
			populate(m.Mutable(fd).Message(), n, depth+1)
		default:
			m.Set(fd, scalar(fd, n))
		}
	}
}

func mapValue(mp protoreflect.Map, fd protoreflect.FieldDescriptor, n, depth int) protoreflect.Value {
	if fd.Message() != nil {
		v := mp.NewValue()
		populate(v.Message(), n, depth+1)
		return v
	}
	return scalar(fd, n)
}

// scalar is a non-default value of a scalar field; negative numbers take
// the ten-byte varints.
func scalar(fd protoreflect.FieldDescriptor, n int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if vals.Len() < 2 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n + 1))
		}
		return protoreflect.ValueOfEnum(vals.Get(1 + n%(vals.Len()-1)).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-n - 1))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(-n-1) << 33)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n + 1))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n+1) << 40)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.25)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d 投诉", fd.Name(), n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(n), 0, 0xff})
	}
	panic(fmt.Sprintf("populate: kind %v of %s", fd.Kind(), fd.FullName()))
}

// everyEventType is one fully populated event per payload type, plus the
// sparse events a live stream mostly holds.
func everyEventType(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	od := (&complaintv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	for i := range od.Fields().Len() {
		fd := od.Fields().Get(i)
		ev := &complaintv1.Event{}
		m := ev.ProtoReflect()
		populate(m, i, 0)
		populate(m.Mutable(fd).Message(), i+100, 1)
		out["full "+string(fd.Message().Name())] = mustMarshal(t, ev)
		sparse := &complaintv1.Event{EventId: "0190f1c2-3b4a-7c5d-8e6f-0123456789ab", ComplaintId: "0190f1c2-3b4a-7c5d-8e6f-0123456789ac"}
		sparse.ProtoReflect().Mutable(fd)
		out["sparse "+string(fd.Message().Name())] = mustMarshal(t, sparse)
	}
	return out
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oddEvents are encodings proto.Marshal never writes but a decoder must
// read as proto.Unmarshal does: repeated fields, merged messages, oneof
// members replacing each other, unknown fields, wrong wire types, garbage.
func oddEvents(t *testing.T) map[string][]byte {
	t.Helper()
	filed := mustMarshal(t, &complaintv1.ComplaintFiled{OrderId: "O-1", ClaimedAmountFen: 9900, Personal: &complaintv1.Sealed{KeyId: "k"}})
	filed2 := mustMarshal(t, &complaintv1.ComplaintFiled{CustomerRef: "c-2", Items: []*complaintv1.Item{{SkuId: "SKU-1"}}})
	closed := mustMarshal(t, &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	const closedField = 84                // complaint_closed
	ts := func(sec, nanos int64) []byte { // zeros left out, as Marshal does
		var b []byte
		if sec != 0 {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(sec))
		}
		if nanos != 0 {
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(nanos))
		}
		return b
	}
	// Appending to a clipped slice copies it: the cases share their prefixes.
	str := func(b []byte, num protowire.Number, s string) []byte {
		b = protowire.AppendTag(b[:len(b):len(b)], num, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	msg := func(b []byte, num protowire.Number, m []byte) []byte {
		b = protowire.AppendTag(b[:len(b):len(b)], num, protowire.BytesType)
		return protowire.AppendBytes(b, m)
	}
	var actor []byte
	actor = protowire.AppendTag(actor, 1, protowire.VarintType)
	actor = protowire.AppendVarint(actor, uint64(complaintv1.ActorKind_ACTOR_KIND_AGENT))
	actor = str(actor, 2, "agent-1")
	actor = str(actor, 3, "agent")
	actor = protowire.AppendTag(actor, 4, protowire.VarintType)
	actor = protowire.AppendVarint(actor, uint64(0xffffffffffffffff)) // int32 -1 as ten bytes
	var actor2 []byte
	actor2 = str(actor2, 2, "agent-2")
	var actorUnknown []byte
	actorUnknown = str(actorUnknown, 9, "?")
	var tsUnknown []byte
	tsUnknown = protowire.AppendTag(tsUnknown, 3, protowire.VarintType)
	tsUnknown = protowire.AppendVarint(tsUnknown, 1)
	var unknownVarint []byte
	unknownVarint = protowire.AppendTag(unknownVarint, 99, protowire.VarintType)
	unknownVarint = protowire.AppendVarint(unknownVarint, 7)
	var wrongWire []byte
	wrongWire = protowire.AppendTag(wrongWire, 20, protowire.VarintType) // complaint_filed as a varint
	wrongWire = protowire.AppendVarint(wrongWire, 1)
	var payloadUnknown []byte
	payloadUnknown = append(payloadUnknown, filed...)
	payloadUnknown = str(payloadUnknown, 999, "from a newer schema")

	base := str(nil, 1, "0190f1c2-3b4a-7c5d-8e6f-0123456789ab")
	base = str(base, 2, "0190f1c2-3b4a-7c5d-8e6f-0123456789ac")
	base = str(base, 3, "shop")
	return map[string][]byte{
		"empty":                        {},
		"envelope only":                base,
		"repeated strings, last wins":  str(str(base, 3, "other-shop"), 7, "corr"),
		"timestamp twice merges":       msg(msg(msg(base, 4, ts(100, 5)), 4, ts(0, 7)), 5, ts(-62135596800, 0)),
		"empty timestamp and actor":    msg(msg(msg(base, 4, nil), 6, nil), 21, nil),
		"actor twice merges":           msg(msg(msg(base, 6, actor), 6, actor2), 61, nil),
		"actor with only an id":        msg(msg(base, 6, actor2), 61, nil),
		"timestamp with only nanos":    msg(msg(base, 4, ts(0, 9)), closedField, closed),
		"payload twice merges":         msg(msg(base, 20, filed), 20, filed2),
		"payload replaced":             msg(msg(base, 20, filed), closedField, closed),
		"payload replaced and back":    msg(msg(msg(base, 20, filed), closedField, closed), 20, filed2),
		"unknown envelope field":       append(msg(base, 20, filed), unknownVarint...),
		"payload with an odd member":   msg(base, 80, closed), // ComplaintClosed read as FollowUpScheduled
		"unknown envelope bytes field": str(msg(base, 20, filed), 98, "x"),
		"unknown field in payload":     msg(base, 20, payloadUnknown),
		"unknown field in actor":       msg(msg(base, 6, actorUnknown), 20, filed),
		"unknown field in timestamp":   msg(msg(base, 4, tsUnknown), 20, filed),
		"payload with wrong wire type": append(base[:len(base):len(base)], wrongWire...),
		"truncated":                    msg(base, 20, filed)[:len(base)+5],
		"length past the end":          append(base[:len(base):len(base)], 0x0a, 0x7f, 'a'),
		"garbage tag":                  {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"bad payload bytes":            msg(base, 20, []byte{0x0a, 0x05, 'a'}),
	}
}

// TestEventDecoderEqualsUnmarshal decodes every event type, fully
// populated and sparse, and the odd encodings, with one decoder in several
// orders (so one event's fields cannot leak into the next), and compares
// each result with proto.Unmarshal's: same message, same type, same error.
func TestEventDecoderEqualsUnmarshal(t *testing.T) {
	cases := everyEventType(t)
	for name, b := range oddEvents(t) {
		cases[name] = b
	}
	var names []string
	for name := range cases {
		names = append(names, name)
	}
	d := newEventDecoder()
	check := func(name string) {
		t.Helper()
		data := cases[name]
		want := &complaintv1.Event{}
		wantErr := proto.Unmarshal(data, want)
		// The record's complaint: the event's own, or another (a damaged stream).
		hint := want.GetComplaintId()
		if len(name)%2 == 0 {
			hint = "0190f1c2-3b4a-7c5d-8e6f-0123456789ff"
		}
		got, typ, err := d.decode(data, hint)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%s: error %v, proto.Unmarshal's %v", name, err, wantErr)
		}
		if err != nil {
			return
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%s: decoded\n%v\nproto.Unmarshal\n%v", name, got, want)
		}
		if typ != events.TypeOf(want) {
			t.Fatalf("%s: type %q, want %q", name, typ, events.TypeOf(want))
		}
	}
	for range 3 {
		for _, name := range names { // map order: a different order each round
			check(name)
		}
		for i := len(names) - 1; i >= 0; i-- {
			check(names[i])
		}
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases: the payload oneof was not enumerated", len(cases))
	}
}

// TestEventDecoderKnowsTheEnvelope fails when events.proto gains an
// envelope field the decoder does not parse: it would still decode right
// (through proto.Unmarshal) but every event carrying it would lose the
// fast path. Teach eventDecoder.fast the field, then add it here.
func TestEventDecoderKnowsTheEnvelope(t *testing.T) {
	known := map[protowire.Number]string{
		fieldEventID: "event_id", fieldComplaintID: "complaint_id", fieldShopID: "shop_id",
		fieldOccurredAt: "occurred_at", fieldRecordedAt: "recorded_at", fieldActor: "actor",
		fieldCorrelationID: "correlation_id", fieldCausationID: "causation_id",
	}
	fields := (&complaintv1.Event{}).ProtoReflect().Descriptor().Fields()
	seen := 0
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.ContainingOneof() != nil {
			if fd.Message() == nil || fd.Kind() != protoreflect.MessageKind {
				t.Errorf("payload member %s is not a message", fd.Name())
			}
			continue
		}
		if known[fd.Number()] != string(fd.Name()) {
			t.Errorf("envelope field %d %s: the decoder knows %q", fd.Number(), fd.Name(), known[fd.Number()])
		}
		seen++
	}
	if seen != len(known) {
		t.Errorf("the envelope has %d fields, the decoder knows %d", seen, len(known))
	}
	if n := (&complaintv1.Actor{}).ProtoReflect().Descriptor().Fields().Len(); n != 4 {
		t.Errorf("Actor has %d fields, mergeActor knows 4", n)
	}
}
