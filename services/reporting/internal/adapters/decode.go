package adapters

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
)

// eventDecoder decodes a rebuild's events into one reused message.
//
// proto.Unmarshal resets the message it is given and allocates every part
// of it again for each event: the payload's oneof wrapper (through
// reflection), the payload, the actor, two timestamps. That was most of a
// rebuild's Go time and most of its garbage, and with a million complaints'
// facts live every collection has a large heap to mark. This decoder parses
// the envelope itself and merges the payload into a message kept per
// payload type, so an event allocates its strings and little else.
//
// It returns exactly what proto.Unmarshal returns for the same bytes: when
// it meets anything it does not expect (an envelope field it does not know,
// a wire type other than the schema's, malformed bytes) it hands the event
// to proto.Unmarshal instead. A test compares the two on every event type.
type eventDecoder struct {
	ev                 complaintv1.Event
	occurred, recorded timestamppb.Timestamp
	actor              complaintv1.Actor
	payloads           []payloadSlot // by the payload's field number in Event
	// slow is the message proto.Unmarshal decodes into, apart from ev so
	// that ev never holds unknown fields the fast path would have to clear.
	slow complaintv1.Event
	// names keeps one copy of the envelope strings that repeat from event
	// to event (shop, actor id and role): most events then allocate only
	// their own id and their payload's strings.
	names map[string]string
}

// maxNames bounds names: customer refs, one per complaint, would grow it
// without end; the shops, agents and roles come first and stay.
const maxNames = 4096

// name is string(b), shared with earlier events when it was seen before.
func (d *eventDecoder) name(b []byte) string {
	if s, ok := d.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.names) < maxNames {
		d.names[s] = s
	}
	return s
}

type payloadSlot struct {
	wrapper any           // the oneof wrapper, e.g. *complaintv1.Event_ComplaintFiled, holding msg
	msg     proto.Message // the payload, reset before each event that carries it
	typ     string        // events.TypeOf of an event carrying it
}

var mergeOptions = proto.UnmarshalOptions{Merge: true}

func newEventDecoder() *eventDecoder {
	d := &eventDecoder{names: map[string]string{}}
	m := d.ev.ProtoReflect()
	fields := m.Descriptor().Oneofs().ByName("payload").Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() == nil {
			continue
		}
		for int(fd.Number()) >= len(d.payloads) {
			d.payloads = append(d.payloads, payloadSlot{})
		}
		msg := m.NewField(fd).Message()
		m.Set(fd, protoreflect.ValueOfMessage(msg))
		d.payloads[fd.Number()] = payloadSlot{wrapper: any(d.ev.Payload), msg: msg.Interface(), typ: string(fd.Message().Name())}
	}
	d.ev.Payload = nil
	return d
}

// setOneof stores a wrapper kept as any back into the oneof field, whose
// interface type the generated package does not export.
func setOneof[T any](dst *T, v any) { *dst = v.(T) }

// decode decodes one stored event and returns it with its type name. The
// message is reused by the next call: copy out what is kept. complaintID is
// the complaint the record says the event is about: the event's own
// complaint_id shares it when they are equal, as they are but for a damaged
// stream.
func (d *eventDecoder) decode(data []byte, complaintID string) (*complaintv1.Event, string, error) {
	if typ, ok := d.fast(data, complaintID); ok {
		return &d.ev, typ, nil
	}
	if err := proto.Unmarshal(data, &d.slow); err != nil {
		return nil, "", err
	}
	return &d.slow, events.TypeOf(&d.slow), nil
}

// Envelope field numbers of complaintv1.Event (events.proto); the payload
// oneof's numbers come from the descriptor.
const (
	fieldEventID       = 1
	fieldComplaintID   = 2
	fieldShopID        = 3
	fieldOccurredAt    = 4
	fieldRecordedAt    = 5
	fieldActor         = 6
	fieldCorrelationID = 7
	fieldCausationID   = 8
)

// fast decodes the envelope by hand and the payload with proto's merge into
// the kept message. ok is false when the event needs proto.Unmarshal.
func (d *eventDecoder) fast(b []byte, complaintID string) (typ string, ok bool) {
	ev := &d.ev
	ev.EventId, ev.ComplaintId, ev.ShopId, ev.CorrelationId, ev.CausationId = "", "", "", "", ""
	ev.OccurredAt, ev.RecordedAt, ev.Actor, ev.Payload = nil, nil, nil, nil
	payload := -1 // the field number of the payload set so far
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || wt != protowire.BytesType {
			// Every field of the envelope is length-delimited; anything
			// else is a field this decoder does not know.
			return "", false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		switch num {
		case fieldEventID:
			ev.EventId = string(v)
		case fieldComplaintID:
			if string(v) == complaintID {
				ev.ComplaintId = complaintID
			} else {
				ev.ComplaintId = string(v)
			}
		case fieldShopID:
			ev.ShopId = d.name(v)
		case fieldCorrelationID:
			ev.CorrelationId = string(v)
		case fieldCausationID:
			ev.CausationId = string(v)
		case fieldOccurredAt:
			if ev.OccurredAt == nil {
				d.occurred.Seconds, d.occurred.Nanos = 0, 0
				ev.OccurredAt = &d.occurred
			}
			if !mergeTimestamp(ev.OccurredAt, v) {
				return "", false
			}
		case fieldRecordedAt:
			if ev.RecordedAt == nil {
				d.recorded.Seconds, d.recorded.Nanos = 0, 0
				ev.RecordedAt = &d.recorded
			}
			if !mergeTimestamp(ev.RecordedAt, v) {
				return "", false
			}
		case fieldActor:
			if ev.Actor == nil {
				d.actor.Kind, d.actor.Id, d.actor.Role, d.actor.Tier = 0, "", "", 0
				ev.Actor = &d.actor
			}
			if !d.mergeActor(ev.Actor, v) {
				return "", false
			}
		default:
			if int(num) >= len(d.payloads) || d.payloads[num].msg == nil {
				return "", false
			}
			slot := &d.payloads[num]
			// A oneof keeps the last member set; the same member again
			// merges into it, as proto.Unmarshal does.
			if payload != int(num) {
				proto.Reset(slot.msg)
				setOneof(&ev.Payload, slot.wrapper)
				payload = int(num)
			}
			if err := mergeOptions.Unmarshal(v, slot.msg); err != nil {
				return "", false
			}
		}
	}
	if payload < 0 {
		return "", true
	}
	return d.payloads[payload].typ, true
}

// mergeTimestamp merges an encoded google.protobuf.Timestamp into t.
func mergeTimestamp(t *timestamppb.Timestamp, b []byte) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || wt != protowire.VarintType {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch num {
		case 1:
			t.Seconds = int64(v)
		case 2:
			t.Nanos = int32(v)
		default:
			return false
		}
	}
	return true
}

// mergeActor merges an encoded complaintv1.Actor into a.
func (d *eventDecoder) mergeActor(a *complaintv1.Actor, b []byte) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 4) && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if num == 1 {
				a.Kind = complaintv1.ActorKind(int32(v))
			} else {
				a.Tier = int32(v)
			}
		case (num == 2 || num == 3) && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if num == 2 {
				a.Id = d.name(v)
			} else {
				a.Role = d.name(v)
			}
		default:
			return false
		}
	}
	return true
}
