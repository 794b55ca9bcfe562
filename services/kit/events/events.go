// Package events turns the protobuf event envelope (kesu.complaint.v1.Event) into
// what the event store moves, and back. It is the one place that knows how an
// event's type header and schema version are derived from the envelope, so every
// service writes and reads the same headers (DESIGN.md §2).
package events

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

// SchemaVersion is the payload version written in Kesu-Schema. Bump it only when a
// payload's meaning changes in a way old readers must upcast; adding fields does
// not need a bump (protobuf readers ignore unknown fields).
const SchemaVersion = 1

// ErrNoPayload is returned for an envelope whose oneof payload is not set.
var ErrNoPayload = errors.New("event has no payload")

// ErrTypeMismatch is returned when a stored event's type header disagrees with
// the payload it carries: the stream has been written by something that does not
// follow the contract.
var ErrTypeMismatch = errors.New("event type header does not match payload")

var payloadField = (&complaintv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")

// TypeOf returns the event type name, e.g. "ComplaintFiled": the message name of
// the payload set in the envelope, or "" when none is set.
func TypeOf(ev *complaintv1.Event) string {
	fd := ev.ProtoReflect().WhichOneof(payloadField)
	if fd == nil {
		return ""
	}
	return string(fd.Message().Name())
}

// Envelope holds the envelope fields shared by the events of one command.
type Envelope struct {
	ComplaintID   string
	ShopID        string
	Actor         *complaintv1.Actor
	OccurredAt    time.Time
	RecordedAt    time.Time
	CorrelationID string
	CausationID   string
}

// New builds an envelope around payload with a fresh UUIDv7 event id. payload
// must be one of the event messages of events.proto.
func New(env Envelope, payload proto.Message) (*complaintv1.Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new event id: %w", err)
	}
	occurred := env.OccurredAt
	if occurred.IsZero() {
		occurred = env.RecordedAt
	}
	ev := &complaintv1.Event{
		EventId:       id.String(),
		ComplaintId:   env.ComplaintID,
		ShopId:        env.ShopID,
		OccurredAt:    timestamppb.New(occurred),
		RecordedAt:    timestamppb.New(env.RecordedAt),
		Actor:         env.Actor,
		CorrelationId: env.CorrelationID,
		CausationId:   env.CausationID,
	}
	if err := setPayload(ev, payload); err != nil {
		return nil, err
	}
	return ev, nil
}

func setPayload(ev *complaintv1.Event, payload proto.Message) error {
	if payload == nil {
		return ErrNoPayload
	}
	want := payload.ProtoReflect().Descriptor().FullName()
	fields := payloadField.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message().FullName() == want {
			ev.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(payload.ProtoReflect()))
			return nil
		}
	}
	return fmt.Errorf("%s is not an event payload of kesu.complaint.v1.Event", want)
}

// Encode turns an envelope into the store's Event: id, type, schema and bytes.
func Encode(ev *complaintv1.Event) (eventstore.Event, error) {
	typ := TypeOf(ev)
	if typ == "" {
		return eventstore.Event{}, fmt.Errorf("encode event %s: %w", ev.GetEventId(), ErrNoPayload)
	}
	if ev.GetEventId() == "" {
		return eventstore.Event{}, fmt.Errorf("encode %s: event_id is empty", typ)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return eventstore.Event{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return eventstore.Event{ID: ev.GetEventId(), Type: typ, Schema: SchemaVersion, Data: data}, nil
}

// Decode parses a stored record back into the envelope, checking that the type
// header names the payload it carries. Records written with a newer schema than
// this reader knows are still decoded: unknown fields are kept, not lost.
func Decode(rec eventstore.Record) (*complaintv1.Event, error) {
	ev := &complaintv1.Event{}
	if err := proto.Unmarshal(rec.Data, ev); err != nil {
		return nil, fmt.Errorf("decode event at stream seq %d: %w", rec.StreamSeq, err)
	}
	typ := TypeOf(ev)
	if typ == "" {
		return nil, fmt.Errorf("decode event at stream seq %d (type %q): %w", rec.StreamSeq, rec.Type, ErrNoPayload)
	}
	if rec.Type != "" && rec.Type != typ {
		return nil, fmt.Errorf("decode event at stream seq %d: header %q, payload %q: %w", rec.StreamSeq, rec.Type, typ, ErrTypeMismatch)
	}
	return ev, nil
}

// DecodeAll decodes a whole history, stopping at the first bad record.
func DecodeAll(recs []eventstore.Record) ([]*complaintv1.Event, error) {
	out := make([]*complaintv1.Event, 0, len(recs))
	for _, r := range recs {
		ev, err := Decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
