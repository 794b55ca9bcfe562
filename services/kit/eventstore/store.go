package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/kesu315/kesu/services/kit/backoff"
)

// Headers of the JetStream protocol the store sets or reads.
const (
	headerExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"
	headerBatchID             = "Nats-Batch-Id"
	headerBatchSeq            = "Nats-Batch-Sequence"
	headerBatchCommit         = "Nats-Batch-Commit"
)

// MaxEventsPerAppend is the server's default atomic batch limit.
const MaxEventsPerAppend = 1000

// JetStream API error codes the store acts on (server errors.json).
const (
	codeWrongLastSequence         = 10071 // single node: "wrong last sequence: N"
	codeWrongLastSequenceConstant = 10164 // clustered: another write on the subject is in flight, or stale
	codeExpectedLastSeqNotReady   = 10163 // transient
	codeClusterNotAvailable       = 10008 // transient
	codeClusterIncomplete         = 10004 // transient
	codeDuplicateInProcess        = 10158 // the same Msg-Id is being stored right now: transient
	codeBatchIncomplete           = 10176 // batch abandoned (limit of open batches, timeout): retry whole
	codeBatchDuplicateMessage     = 10201 // an event id of the batch is already stored
	codeStreamStoreFailed         = 10077 // e.g. "maximum bytes exceeded" with Discard: new
	codeAccountResourcesExceeded  = 10002
	codeStorageResourcesExceeded  = 10047
	codeNoMessageFound            = 10037
)

// StoreOptions tunes a Store; zero fields take the defaults.
type StoreOptions struct {
	// Stream is the complaints stream name; default StreamComplaints.
	Stream string
	// AttemptTimeout bounds one publish or one read page when ctx has a later
	// (or no) deadline; default 5s. A timed-out append is retried with the
	// same event ids, so it is never stored twice.
	AttemptTimeout time.Duration
	// MaxRetries bounds retries of transient failures (no leader yet, no
	// responders, timeouts) per call; default 12 (about 3s of backoff).
	MaxRetries int
	// LoadBatch is how many events one direct-get page asks for; default 1000.
	LoadBatch int
}

// Store appends complaint events with optimistic concurrency and loads
// complaint histories (DESIGN.md §2). It is safe for concurrent use; many
// goroutines appending through one Store share its connection without
// waiting for each other.
type Store struct {
	nc           *nats.Conn
	stream       string
	directGetSub string // $JS.API.DIRECT.GET.<stream>: answered by any replica
	msgGetSub    string // $JS.API.STREAM.MSG.GET.<stream>: answered by the leader
	opts         StoreOptions
}

// New returns a Store writing through nc. js supplies the JetStream API
// prefix or domain (nil means the default $JS.API); if nc is nil, js's
// connection is used.
func New(nc *nats.Conn, js jetstream.JetStream, opts StoreOptions) (*Store, error) {
	if nc == nil && js != nil {
		nc = js.Conn()
	}
	if nc == nil {
		return nil, errors.New("eventstore: new store: no NATS connection (nc and js are nil)")
	}
	if opts.Stream == "" {
		opts.Stream = StreamComplaints
	}
	if err := validateToken(opts.Stream); err != nil {
		return nil, fmt.Errorf("eventstore: new store: StoreOptions.Stream %q %s", opts.Stream, err.Error())
	}
	if opts.AttemptTimeout < 0 || opts.MaxRetries < 0 || opts.LoadBatch < 0 {
		return nil, fmt.Errorf("eventstore: new store: StoreOptions has a negative field: %+v", opts)
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 5 * time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 12
	}
	if opts.LoadBatch == 0 {
		opts.LoadBatch = 1000
	}
	prefix := jetstream.DefaultAPIPrefix
	if js != nil {
		jo := js.Options()
		switch {
		case jo.APIPrefix != "":
			prefix = jo.APIPrefix
			if !strings.HasSuffix(prefix, ".") {
				prefix += "."
			}
		case jo.Domain != "":
			prefix = "$JS." + jo.Domain + ".API."
		}
	}
	return &Store{
		nc:           nc,
		stream:       opts.Stream,
		directGetSub: prefix + "DIRECT.GET." + opts.Stream,
		msgGetSub:    prefix + "STREAM.MSG.GET." + opts.Stream,
		opts:         opts,
	}, nil
}

// Appended reports a successful Append.
type Appended struct {
	ComplaintID string
	// Seqs are the stream sequences of the appended events, in order.
	Seqs []uint64
	// Duplicate is true when the events were already stored by an earlier
	// attempt with the same event ids (a retry): nothing new was stored and
	// Seqs are where they were stored then.
	Duplicate bool
}

// Last is the stream sequence of the last appended event: the expectation
// for the next Append on the complaint.
func (a Appended) Last() uint64 {
	if len(a.Seqs) == 0 {
		return 0
	}
	return a.Seqs[len(a.Seqs)-1]
}

// Append stores events at the end of the complaint's stream if its last
// stream sequence is still expectedSeq (0 for a new complaint). Several
// events are one atomic batch: all are stored or none. A conflict returns a
// *ConflictError (errors.Is ErrConflict), whether the server answered as a
// single node or a cluster does. Transient failures are retried inside with
// the same event ids; an append whose events turn out to be stored already
// (a retry after a lost acknowledgement) succeeds with Duplicate set.
func (s *Store) Append(ctx context.Context, complaintID string, expectedSeq uint64, events ...Event) (Appended, error) {
	subject, err := ComplaintSubject(complaintID)
	if err != nil {
		return Appended{}, err
	}
	if err := validateEvents(events); err != nil {
		return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, err)
	}
	msgs := buildMsgs(subject, expectedSeq, events)

	var bo backoff.Backoff
	transient, inFlight := 0, 0
	for {
		ack, err := s.publish(ctx, msgs)
		if err == nil {
			if ack.Duplicate {
				return Appended{ComplaintID: complaintID, Seqs: []uint64{ack.Seq}, Duplicate: true}, nil
			}
			return Appended{ComplaintID: complaintID, Seqs: consecutive(ack.Seq, len(events))}, nil
		}
		if ctx.Err() != nil {
			return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, ctx.Err())
		}
		code := apiCode(err)
		switch {
		case code == codeWrongLastSequence || code == codeWrongLastSequenceConstant || code == codeBatchDuplicateMessage:
			// The answer alone cannot tell "someone else wrote" from "our
			// earlier attempt was stored" (a single node checks the
			// expectation before duplicates), so look at what follows the
			// expectation on the leader.
			found, next, lerr := s.findStored(ctx, subject, expectedSeq, events)
			if lerr != nil {
				if isTransient(lerr) && transient < s.opts.MaxRetries {
					transient++
					if werr := bo.Wait(ctx); werr != nil {
						return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, werr)
					}
					continue
				}
				return Appended{}, fmt.Errorf("eventstore: append to complaint %s: check for an earlier identical append: %w", complaintID, lerr)
			}
			if found != nil {
				return Appended{ComplaintID: complaintID, Seqs: found, Duplicate: true}, nil
			}
			if code == codeBatchDuplicateMessage && next == 0 && inFlight < s.opts.MaxRetries {
				// On a cluster the duplicate window knows a racing append's
				// ids as soon as it is proposed, before it can be read: with
				// nothing after the expectation yet, ask again once it has
				// settled (then it is found above as our own append, or the
				// ids really were used for other events).
				inFlight++
				if werr := bo.Wait(ctx); werr != nil {
					return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, werr)
				}
				continue
			}
			if code == codeBatchDuplicateMessage {
				return Appended{}, fmt.Errorf("%w: complaint %s: an event id of this append was stored before as another event: %w",
					ErrDuplicateEvent, complaintID, err)
			}
			if code == codeWrongLastSequenceConstant && next == 0 && inFlight < s.opts.MaxRetries {
				// Clustered streams refuse an expectation while another
				// write on the subject is proposed but not yet applied, and
				// briefly after their own acknowledgement. Nothing follows
				// the expectation yet, so ask again: the answer becomes a
				// definite success or conflict once that write settles.
				inFlight++
				if werr := bo.Wait(ctx); werr != nil {
					return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, werr)
				}
				continue
			}
			return Appended{}, &ConflictError{ComplaintID: complaintID, Expected: expectedSeq, Actual: actualFromError(err, next)}
		case isStoreFull(err):
			return Appended{}, fmt.Errorf("%w: append to complaint %s: %w", ErrStoreFull, complaintID, err)
		case isTransient(err):
			if transient >= s.opts.MaxRetries {
				return Appended{}, fmt.Errorf("%w: append to complaint %s after %d retries: %w", ErrUnavailable, complaintID, transient, err)
			}
			transient++
			if werr := bo.Wait(ctx); werr != nil {
				return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, werr)
			}
		default:
			return Appended{}, fmt.Errorf("eventstore: append to complaint %s: %w", complaintID, err)
		}
	}
}

// pubAck is the server's answer to a publish or a batch commit.
type pubAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Stream    string              `json:"stream"`
	Seq       uint64              `json:"seq"`
	Duplicate bool                `json:"duplicate,omitempty"`
	Batch     string              `json:"batch,omitempty"`
	Count     int                 `json:"count,omitempty"`
}

// publish sends one event as a plain request, several as an atomic batch: the
// first n-1 messages are fire-and-forget (the server stages them) and only
// the commit waits for the answer, so a batch costs one round trip. A new
// batch id per attempt keeps a retry clear of a half-received earlier one.
func (s *Store) publish(ctx context.Context, msgs []*nats.Msg) (pubAck, error) {
	actx, cancel := s.attemptContext(ctx)
	defer cancel()
	last := msgs[len(msgs)-1]
	var batchID string
	if len(msgs) > 1 {
		batchID = nuid.Next()
		for i, m := range msgs {
			m.Header.Set(headerBatchID, batchID)
			m.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		}
		last.Header.Set(headerBatchCommit, "1")
		for _, m := range msgs[:len(msgs)-1] {
			if err := s.nc.PublishMsg(m); err != nil {
				return pubAck{}, fmt.Errorf("publish batch message: %w", err)
			}
		}
	}
	resp, err := s.nc.RequestMsgWithContext(actx, last)
	if err != nil {
		return pubAck{}, err
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return pubAck{}, fmt.Errorf("decode publish acknowledgement %q: %w", resp.Data, err)
	}
	if ack.Error != nil {
		return pubAck{}, ack.Error
	}
	if ack.Stream != s.stream {
		return pubAck{}, fmt.Errorf("acknowledged by stream %q, not %q: is another stream bound to %s?", ack.Stream, s.stream, last.Subject)
	}
	if batchID != "" && !ack.Duplicate && (ack.Batch != batchID || ack.Count != len(msgs)) {
		return pubAck{}, fmt.Errorf("batch acknowledgement for batch %q of %d, sent %q of %d", ack.Batch, ack.Count, batchID, len(msgs))
	}
	return ack, nil
}

// findStored looks on the stream leader (direct gets may lag on a cluster)
// at the events that follow expectedSeq on subject. If they are this
// append's events, it returns their sequences. Otherwise next is the
// sequence of the first event after the expectation, 0 if there is none.
func (s *Store) findStored(ctx context.Context, subject string, expectedSeq uint64, events []Event) (seqs []uint64, next uint64, err error) {
	from := expectedSeq + 1
	for i, ev := range events {
		sm, err := s.leaderGetNext(ctx, subject, from)
		if err != nil {
			return nil, 0, err
		}
		if sm == nil {
			if i > 0 {
				return nil, 0, fmt.Errorf("%w: complaint subject %s holds only %d of the %d events of an atomic append", ErrIncompleteRead, subject, i, len(events))
			}
			return nil, 0, nil
		}
		if i == 0 {
			next = sm.seq
		}
		if sm.msgID != ev.ID {
			if i > 0 {
				return nil, 0, fmt.Errorf("%w: event %d of the append (%s) is followed by %q at sequence %d", ErrDuplicateEvent, i, events[0].ID, sm.msgID, sm.seq)
			}
			return nil, next, nil
		}
		seqs = append(seqs, sm.seq)
		from = sm.seq + 1
	}
	return seqs, next, nil
}

type leaderMsg struct {
	seq   uint64
	msgID string
}

// leaderGetNext returns the first message on subject at or after seq, nil if
// there is none, using the leader-only message get API.
func (s *Store) leaderGetNext(ctx context.Context, subject string, seq uint64) (*leaderMsg, error) {
	req, err := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj"`
	}{seq, subject})
	if err != nil {
		return nil, err
	}
	actx, cancel := s.attemptContext(ctx)
	defer cancel()
	resp, err := s.nc.RequestWithContext(actx, s.msgGetSub, req)
	if err != nil {
		return nil, err
	}
	var r struct {
		Error   *jetstream.APIError `json:"error,omitempty"`
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs,omitempty"`
		} `json:"message,omitempty"`
	}
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return nil, fmt.Errorf("decode message get response: %w", err)
	}
	if r.Error != nil {
		if r.Error.ErrorCode == codeNoMessageFound {
			return nil, nil
		}
		return nil, r.Error
	}
	if r.Message == nil {
		return nil, errors.New("message get response without message")
	}
	m := &leaderMsg{seq: r.Message.Seq}
	if len(r.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(r.Message.Header)
		if err != nil {
			return nil, fmt.Errorf("decode headers of sequence %d: %w", r.Message.Seq, err)
		}
		m.msgID = h.Get(HeaderMsgID)
	}
	return m, nil
}

// attemptContext bounds one round trip by AttemptTimeout unless ctx ends
// sooner, so a lost reply costs one attempt and not the caller's whole budget.
func (s *Store) attemptContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= s.opts.AttemptTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.AttemptTimeout)
}

func validateEvents(events []Event) error {
	if len(events) == 0 {
		return ErrNoEvents
	}
	if len(events) > MaxEventsPerAppend {
		return fmt.Errorf("%w: %d events, at most %d", ErrTooManyEvents, len(events), MaxEventsPerAppend)
	}
	var seen map[string]int // only batches can repeat an id; most appends are one event
	if len(events) > 1 {
		seen = make(map[string]int, len(events))
	}
	for i, ev := range events {
		if err := validateHeaderValue(ev.ID); err != nil {
			return fmt.Errorf("%w: events[%d].ID %s", ErrInvalidEvent, i, err)
		}
		if j, dup := seen[ev.ID]; dup {
			return fmt.Errorf("%w: events[%d].ID %q repeats events[%d].ID", ErrInvalidEvent, i, ev.ID, j)
		}
		if seen != nil {
			seen[ev.ID] = i
		}
		if err := validateHeaderValue(ev.Type); err != nil {
			return fmt.Errorf("%w: events[%d].Type %s", ErrInvalidEvent, i, err)
		}
		if ev.Schema < 0 {
			return fmt.Errorf("%w: events[%d].Schema %d is negative", ErrInvalidEvent, i, ev.Schema)
		}
		for k, vs := range ev.Header {
			if isReservedHeader(k) {
				return fmt.Errorf("%w: events[%d].Header %q is set by the store or the server", ErrInvalidEvent, i, k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					return fmt.Errorf("%w: events[%d].Header %q has a line break in its value", ErrInvalidEvent, i, k)
				}
			}
		}
	}
	return nil
}

func validateHeaderValue(v string) error {
	if v == "" {
		return errors.New("is empty")
	}
	if len(v) > maxIDLen {
		return fmt.Errorf("is %d bytes, longer than %d", len(v), maxIDLen)
	}
	for i, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q has a control character at byte %d", v, i)
		}
	}
	return nil
}

// isReservedHeader reports headers the event contract or JetStream owns:
// letting a caller set them would bypass the concurrency check or dedup.
func isReservedHeader(k string) bool {
	return len(k) >= 5 && strings.EqualFold(k[:5], "Nats-") ||
		strings.EqualFold(k, HeaderEventType) || strings.EqualFold(k, HeaderSchema)
}

func buildMsgs(subject string, expectedSeq uint64, events []Event) []*nats.Msg {
	msgs := make([]*nats.Msg, len(events))
	for i, ev := range events {
		h := make(nats.Header, len(ev.Header)+6)
		for k, vs := range ev.Header {
			h[k] = append([]string(nil), vs...)
		}
		h.Set(HeaderMsgID, ev.ID)
		h.Set(HeaderEventType, ev.Type)
		h.Set(HeaderSchema, strconv.Itoa(ev.Schema))
		if i == 0 {
			h.Set(headerExpectedLastSubjSeq, strconv.FormatUint(expectedSeq, 10))
		}
		msgs[i] = &nats.Msg{Subject: subject, Header: h, Data: ev.Data}
	}
	return msgs
}

// consecutive lists n sequences ending at last: an atomic batch is stored
// without other messages in between.
func consecutive(last uint64, n int) []uint64 {
	seqs := make([]uint64, n)
	for i := range n {
		seqs[i] = last - uint64(n-1-i)
	}
	return seqs
}

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// actualFromError reads N from a single node's "wrong last sequence: N";
// otherwise it falls back to the first sequence seen after the expectation.
func actualFromError(err error, next uint64) uint64 {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == codeWrongLastSequence {
		if i := strings.LastIndexByte(apiErr.Description, ' '); i >= 0 {
			if n, perr := strconv.ParseUint(apiErr.Description[i+1:], 10, 64); perr == nil {
				return n
			}
		}
	}
	return next
}

func isStoreFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case codeAccountResourcesExceeded, codeStorageResourcesExceeded:
		return true
	case codeStreamStoreFailed:
		return strings.Contains(apiErr.Description, "maximum")
	}
	return false
}

// isTransient reports failures that a retry of the same request can cure:
// no stream leader or responder yet, a lost reply, a write on the same
// message id still in flight, a batch the server dropped.
func isTransient(err error) bool {
	switch {
	case errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, errPageGap):
		return true
	}
	switch apiCode(err) {
	case codeExpectedLastSeqNotReady, codeClusterNotAvailable, codeClusterIncomplete,
		codeDuplicateInProcess, codeBatchIncomplete:
		return true
	}
	return false
}
