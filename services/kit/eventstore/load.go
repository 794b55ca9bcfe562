package eventstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/backoff"
)

// Headers the server adds to direct-get replies.
const (
	headerStatus      = "Status"
	headerDescription = "Description"
	headerNumPending  = "Nats-Num-Pending"
	headerSequence    = "Nats-Sequence"
	headerTimeStamp   = "Nats-Time-Stamp"
	headerSubject     = "Nats-Subject"
)

// errPageGap marks a direct-get page whose replies skipped one (a slow
// consumer drop); the page is asked for again.
var errPageGap = fmt.Errorf("%w: gap in direct get replies", ErrIncompleteRead)

// maxPageBytes keeps one page well inside the client's pending limits.
const maxPageBytes = 8 << 20

// Load returns the complaint's whole history in stream order. An unknown
// complaint has an empty history (empty slice, nil error). It reads with
// batched direct gets (any replica answers, no consumer is created); on a
// cluster a replica may lag a moment behind the leader, which is safe for
// deciding: an append on a stale history conflicts.
func (s *Store) Load(ctx context.Context, complaintID string) ([]Record, error) {
	return s.LoadAfter(ctx, complaintID, 0)
}

// LoadAfter returns the complaint's events with a stream sequence above
// afterSeq, e.g. to catch up a history already held.
func (s *Store) LoadAfter(ctx context.Context, complaintID string, afterSeq uint64) ([]Record, error) {
	subject, err := ComplaintSubject(complaintID)
	if err != nil {
		return nil, err
	}
	records := []Record{}
	next := afterSeq + 1
	var bo backoff.Backoff
	retries := 0
	for {
		page, more, err := s.loadPage(ctx, subject, next)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("eventstore: load complaint %s: %w", complaintID, ctx.Err())
			}
			if isTransient(err) && retries < s.opts.MaxRetries {
				retries++
				if werr := bo.Wait(ctx); werr != nil {
					return nil, fmt.Errorf("eventstore: load complaint %s: %w", complaintID, werr)
				}
				continue
			}
			if isTransient(err) {
				return nil, fmt.Errorf("%w: load complaint %s after %d retries: %w", ErrUnavailable, complaintID, retries, err)
			}
			return nil, fmt.Errorf("eventstore: load complaint %s: %w", complaintID, err)
		}
		records = append(records, page...)
		if !more || len(page) == 0 {
			return records, nil
		}
		next = page[len(page)-1].StreamSeq + 1
	}
}

// loadPage asks for up to LoadBatch events on subject from sequence from on,
// and reads replies until the end-of-batch marker. more reports that the
// server holds further events.
func (s *Store) loadPage(ctx context.Context, subject string, from uint64) (page []Record, more bool, err error) {
	req, err := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{from, subject, s.opts.LoadBatch, maxPageBytes})
	if err != nil {
		return nil, false, err
	}
	actx, cancel := s.attemptContext(ctx)
	defer cancel()

	// A plain inbox: a response-mux inbox would also match the mux wildcard.
	// Its channel holds a whole page and the end-of-batch status, so nothing
	// is dropped however late it is read; a sync subscription would allocate
	// nats.go's default 64 Ki-slot channel (512 KiB) for every load.
	inbox := s.nc.NewInbox()
	replies := make(chan *nats.Msg, s.opts.LoadBatch+1)
	sub, err := s.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, false, fmt.Errorf("subscribe for direct get: %w", err)
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest(s.directGetSub, inbox, req); err != nil {
		return nil, false, fmt.Errorf("direct get request: %w", err)
	}

	wantPending := int64(-1)
	for {
		var m *nats.Msg
		select {
		case m = <-replies:
		case <-actx.Done():
			return nil, false, actx.Err()
		}
		if status := m.Header.Get(headerStatus); status != "" {
			switch status {
			case "404": // nothing (more) on the subject from `from` on
				return page, false, nil
			case "204": // end of batch
				np, perr := strconv.ParseInt(m.Header.Get(headerNumPending), 10, 64)
				if perr != nil {
					return nil, false, fmt.Errorf("direct get end of batch without %s (server older than 2.11?)", headerNumPending)
				}
				return page, np > 0, nil
			case "503":
				return nil, false, nats.ErrNoResponders
			default:
				return nil, false, fmt.Errorf("direct get on %s: status %s %s", s.stream, status, m.Header.Get(headerDescription))
			}
		}
		np, perr := strconv.ParseInt(m.Header.Get(headerNumPending), 10, 64)
		if perr != nil {
			return nil, false, fmt.Errorf("direct get reply without %s (server older than 2.11?)", headerNumPending)
		}
		if wantPending >= 0 && np != wantPending {
			return nil, false, errPageGap
		}
		wantPending = np - 1
		seq, serr := strconv.ParseUint(m.Header.Get(headerSequence), 10, 64)
		if serr != nil {
			return nil, false, fmt.Errorf("%w: direct get reply with sequence %q", ErrInvalidRecord, m.Header.Get(headerSequence))
		}
		ts, terr := time.Parse(time.RFC3339Nano, m.Header.Get(headerTimeStamp))
		if terr != nil {
			return nil, false, fmt.Errorf("%w: direct get reply for sequence %d with time %q", ErrInvalidRecord, seq, m.Header.Get(headerTimeStamp))
		}
		rec, rerr := newRecord(m.Header.Get(headerSubject), seq, ts, m.Header, m.Data)
		if rerr != nil {
			return nil, false, rerr
		}
		if rec.Subject != subject || (len(page) > 0 && seq <= page[len(page)-1].StreamSeq) {
			return nil, false, fmt.Errorf("%w: direct get for %s returned %s at sequence %d out of order", ErrInvalidRecord, subject, rec.Subject, seq)
		}
		page = append(page, rec)
	}
}

// RecordFromMsg builds a Record from a message a JetStream consumer
// delivered, for projections.
func RecordFromMsg(msg jetstream.Msg) (Record, error) {
	if msg == nil {
		return Record{}, fmt.Errorf("%w: nil message", ErrInvalidRecord)
	}
	md, err := msg.Metadata()
	if err != nil {
		return Record{}, fmt.Errorf("%w: message on %s has no JetStream metadata: %w", ErrInvalidRecord, msg.Subject(), err)
	}
	return newRecord(msg.Subject(), md.Sequence.Stream, md.Timestamp, msg.Headers(), msg.Data())
}

// RecordFromRawMsg builds a Record from a stored message read with a get
// (jetstream.Stream.GetMsg, jetstreamext.GetBatch).
func RecordFromRawMsg(msg *jetstream.RawStreamMsg) (Record, error) {
	if msg == nil {
		return Record{}, fmt.Errorf("%w: nil message", ErrInvalidRecord)
	}
	return newRecord(msg.Subject, msg.Sequence, msg.Time, msg.Header, msg.Data)
}

func newRecord(subject string, seq uint64, stored time.Time, h nats.Header, data []byte) (Record, error) {
	id, err := ComplaintIDFromSubject(subject)
	if err != nil {
		return Record{}, err
	}
	ev := Event{
		ID:   h.Get(HeaderMsgID),
		Type: h.Get(HeaderEventType),
		Data: data,
	}
	if ev.ID == "" {
		return Record{}, fmt.Errorf("%w: %s sequence %d has no %s header", ErrInvalidRecord, subject, seq, HeaderMsgID)
	}
	if ev.Type == "" {
		return Record{}, fmt.Errorf("%w: %s sequence %d has no %s header", ErrInvalidRecord, subject, seq, HeaderEventType)
	}
	schema := h.Get(HeaderSchema)
	if ev.Schema, err = strconv.Atoi(schema); err != nil || ev.Schema < 0 {
		return Record{}, fmt.Errorf("%w: %s sequence %d has %s %q, want a non-negative integer", ErrInvalidRecord, subject, seq, HeaderSchema, schema)
	}
	for k, vs := range h {
		if isReservedHeader(k) || k == headerStatus || k == headerDescription {
			continue
		}
		if ev.Header == nil {
			ev.Header = nats.Header{}
		}
		ev.Header[k] = append([]string(nil), vs...)
	}
	return Record{Event: ev, ComplaintID: id, Subject: subject, StreamSeq: seq, Stored: stored.UTC()}, nil
}
