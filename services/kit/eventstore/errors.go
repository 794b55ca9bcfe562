package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrConflict means the complaint moved on since the caller loaded it: the
	// expected sequence was stale. Reload, decide again and retry (Decide does).
	// Match with errors.Is; errors.As with *ConflictError gives the details.
	ErrConflict = errors.New("eventstore: conflict: complaint changed since it was loaded")

	// ErrInvalidComplaintID is wrapped by errors for a malformed complaint id.
	ErrInvalidComplaintID = errors.New("eventstore: invalid complaint id")

	// ErrInvalidEvent is wrapped by errors for an event that cannot be stored
	// (missing id or type, reserved header, duplicate id within one append).
	ErrInvalidEvent = errors.New("eventstore: invalid event")

	// ErrNoEvents is returned by Append when called without events.
	ErrNoEvents = errors.New("eventstore: append: no events")

	// ErrTooManyEvents is returned when one append exceeds the server's atomic
	// batch limit (MaxEventsPerAppend).
	ErrTooManyEvents = errors.New("eventstore: append: too many events for one atomic batch")

	// ErrDuplicateEvent means an event id of the append is already stored, but
	// not as this append: event ids were reused for different events.
	ErrDuplicateEvent = errors.New("eventstore: event id already stored elsewhere")

	// ErrStoreFull means the stream refused the write because its MaxBytes
	// guard is reached (Discard: new). Writes fail until an operator acts.
	ErrStoreFull = errors.New("eventstore: stream is full")

	// ErrUnavailable means the stream stayed unreachable (no leader, no
	// responders, timeouts) through every retry.
	ErrUnavailable = errors.New("eventstore: stream unavailable")

	// ErrInvalidRecord is wrapped by errors for a stored message that does not
	// carry the event contract (wrong subject, bad header).
	ErrInvalidRecord = errors.New("eventstore: invalid stored record")

	// ErrInvalidConfig is wrapped by errors for a bad stream Config.
	ErrInvalidConfig = errors.New("eventstore: invalid config")

	// ErrIncompleteRead means a load saw a gap in the server's reply stream
	// (for example a slow consumer dropped messages) and gave up retrying.
	ErrIncompleteRead = errors.New("eventstore: incomplete read")
)

// ConflictError is the typed form of ErrConflict.
type ConflictError struct {
	ComplaintID string
	// Expected is the sequence the append expected as the complaint's last.
	Expected uint64
	// Actual is the complaint's last stream sequence when the server said it
	// (single node answers carry it); 0 when unknown.
	Actual uint64
}

// Error says which complaint conflicted and on which expectation.
func (e *ConflictError) Error() string {
	if e.Actual != 0 {
		return fmt.Sprintf("eventstore: conflict on complaint %s: expected last sequence %d, stream has %d",
			e.ComplaintID, e.Expected, e.Actual)
	}
	return fmt.Sprintf("eventstore: conflict on complaint %s: expected last sequence %d is no longer the last",
		e.ComplaintID, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) hold for every ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
