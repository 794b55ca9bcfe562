// Package eventstore keeps every complaint as an append-only stream of events in
// NATS JetStream: one subject per complaint (complaints.<complaint_id>) on the
// COMPLAINTS stream, appended with optimistic concurrency on the subject's last
// stream sequence (DESIGN.md §2).
//
// The store is payload-agnostic: it moves encoded event bytes and the headers of
// the contract. The protobuf envelope lives in the proto module and is encoded by
// the caller, so the store can be tested and benchmarked on its own.
package eventstore

import (
	"time"

	"github.com/nats-io/nats.go"
)

// Header names of the event contract (DESIGN.md §2).
const (
	HeaderMsgID       = "Nats-Msg-Id"     // the event id; JetStream drops a duplicate within the window
	HeaderEventType   = "Kesu-Event-Type" // e.g. "ComplaintFiled"
	HeaderSchema      = "Kesu-Schema"     // payload version, for upcasting
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Event is one event to append: its id, type, payload version and encoded payload.
// Header carries extra headers to store with it (trace context); the contract
// headers above are set by the store from the fields.
type Event struct {
	ID     string
	Type   string
	Schema int
	Data   []byte
	Header nats.Header
}

// Record is an event as stored: the Event plus where and when the stream put it.
type Record struct {
	Event
	ComplaintID string
	Subject     string
	// StreamSeq is the event's sequence in the COMPLAINTS stream. The last
	// record's StreamSeq is the expectation for the next Append on the complaint.
	StreamSeq uint64
	// Stored is the server's timestamp for the message.
	Stored time.Time
}
