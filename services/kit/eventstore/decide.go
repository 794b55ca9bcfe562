package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kesu315/kesu/services/kit/backoff"
)

// Log is what Decide needs of a store: *Store, or a service's narrower port
// to it.
type Log interface {
	Load(ctx context.Context, complaintID string) ([]Record, error)
	Append(ctx context.Context, complaintID string, expectedSeq uint64, events ...Event) (Appended, error)
}

// DecideFunc turns a complaint's history into the events a command produces.
// It must be a pure function of the history (and the command it closes
// over): Decide may call it several times.
type DecideFunc func(history []Record) ([]Event, error)

// DecideOptions bounds Decide's retries; zero fields take the defaults.
type DecideOptions struct {
	// MaxAttempts is how many load-decide-append rounds to try; default 10.
	MaxAttempts int
	// MaxBackoff caps the jittered wait between rounds; default 256ms.
	MaxBackoff time.Duration
}

// Decide runs load -> decide -> append on one complaint until the append
// lands: it appends with the last record's StreamSeq as the expectation and,
// on ErrConflict, reloads and decides again (bounded attempts, jittered
// backoff, stops when ctx ends). It returns the appended records (Stored is
// zero: the acknowledgement does not carry the server time; Load has it).
// A decision of zero events appends nothing and returns (nil, nil). An error
// from decide is returned as it is.
//
// Event ids: decide usually makes fresh ids, so each round's events are new
// events and the ids differ across rounds; that is right, because a round
// that conflicted stored nothing. Within one round the ids never change, so
// the retries Append makes on a lost acknowledgement cannot store an event
// twice. A decide that derives ids from the command (same decision, same
// ids) additionally makes a whole repeated command idempotent.
func Decide(ctx context.Context, s Log, complaintID string, decide DecideFunc, opts DecideOptions) ([]Record, error) {
	d, err := DecideResult(ctx, s, complaintID, decide, opts)
	return d.Records, err
}

// Decided is what DecideResult reports.
type Decided struct {
	// Records are the appended records, as Decide returns them.
	Records []Record
	// Duplicate is true when the decided events were stored already, by an
	// earlier identical decision (same event ids) that raced this one or
	// whose acknowledgement was lost: this call stored nothing. A command
	// deriving its event ids from itself uses it to answer "created" once.
	Duplicate bool
}

// DecideResult is Decide that also says whether the append was a duplicate
// (Appended.Duplicate of the final append).
func DecideResult(ctx context.Context, s Log, complaintID string, decide DecideFunc, opts DecideOptions) (Decided, error) {
	if s == nil || decide == nil {
		return Decided{}, errors.New("eventstore: decide: nil store or decide function")
	}
	if err := ValidateComplaintID(complaintID); err != nil {
		return Decided{}, err
	}
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = 10
	}
	var bo backoff.Backoff
	if opts.MaxBackoff > 0 {
		bo.Max = opts.MaxBackoff
	}
	var lastErr error
	for range attempts {
		history, err := s.Load(ctx, complaintID)
		if err != nil {
			return Decided{}, err
		}
		events, err := decide(history)
		if err != nil {
			return Decided{}, err
		}
		if len(events) == 0 {
			return Decided{}, nil
		}
		var expected uint64
		if len(history) > 0 {
			expected = history[len(history)-1].StreamSeq
		}
		app, err := s.Append(ctx, complaintID, expected, events...)
		if err == nil {
			return Decided{Records: appendedRecords(app, events), Duplicate: app.Duplicate}, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Decided{}, err
		}
		lastErr = err
		if werr := bo.Wait(ctx); werr != nil {
			return Decided{}, fmt.Errorf("eventstore: decide on complaint %s: %w (last: %w)", complaintID, werr, lastErr)
		}
	}
	return Decided{}, fmt.Errorf("eventstore: decide on complaint %s: gave up after %d attempts: %w", complaintID, attempts, lastErr)
}

func appendedRecords(app Appended, events []Event) []Record {
	subject := complaintPrefix + app.ComplaintID
	recs := make([]Record, len(events))
	for i, ev := range events {
		recs[i] = Record{Event: ev, ComplaintID: app.ComplaintID, Subject: subject}
		if i < len(app.Seqs) {
			recs[i].StreamSeq = app.Seqs[i]
		}
	}
	return recs
}
