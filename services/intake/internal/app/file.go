package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/backoff"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pii"
)

// ErrCustomerErased: the customer's personal data was erased; new data cannot
// be sealed under their ref.
var ErrCustomerErased = errors.New("customer's personal data was erased; file under a new customer ref")

// errStartNew: the dispute's latest complaint cannot take the contact (closed
// longer ago than the dispute window); the request opens the next one.
var errStartNew = errors.New("dispute holder cannot take the contact")

// Headers a filing's (or folded contact's) first event carries, so the
// complaint stream answers "was this request filed, and with what content"
// without any other index; the projection folds them into intake.requests.
const (
	HeaderRequest     = "Kesu-Request"             // requestKey(shop, client request id)
	HeaderFingerprint = "Kesu-Request-Fingerprint" // fingerprintFile of the request
)

// filing is one FileComplaint request on its way to the stream.
type filing struct {
	cmd         *domain.FileComplaint
	customerRef string
	sealed      *complaintv1.Sealed
	id          auth.Identity
	now         time.Time
	fp          string // fingerprint of the request's content
	req         string // requestKey of (shop, client request id)
}

// FileComplaint opens a complaint, once per (shop, client request id) — or, when
// the customer already has an open complaint about the same order (or one
// closed within the dispute window), adds the request to it as a contact: one
// dispute across channels.
//
// One durable write per filing. The complaint id is not chosen at random but
// derived: from (shop, customer, order, generation) when the request names an
// order, else from (shop, client request id); the event ids are derived from
// the complaint id and the request's fingerprint. So:
//
//   - The append of ComplaintFiled + ComplaintClassified expecting the
//     subject's last sequence 0 is itself the claim of the dispute: of two
//     channels reporting one dispute at the same moment one append lands and
//     the other conflicts and folds into it as ContactAdded (test
//     TestTwoChannelsReportingOneDisputeAtOnceMakeOneComplaint).
//   - A retry of the same request derives the same ids. Inside the stream's
//     duplicate window Nats-Msg-Id drops it; after the window the expectation
//     fails and eventstore finds the request's own events on the subject
//     (Appended.Duplicate). A retry of a request that was folded finds its
//     ContactAdded by the Kesu-Request header while the dispute's complaints
//     are read. Neither depends on the window or on the request log: the
//     guarantee lasts as long as the complaint's events do.
//   - A request id reused with different content is refused
//     (ErrRequestReused) when it lands on the same complaint or dispute (the
//     headers say so), and otherwise when the request log already holds it:
//     intake.requests, which the projection folds from the same headers, so
//     it costs the filing no write. It lags the stream by the projection's
//     lag (milliseconds; longer while the projection is down or rebuilding):
//     a reuse on another order inside that lag files a second complaint.
//
// The seal and the request-log read are Postgres round trips shared by
// concurrent filings (group commit); the append is the one durable write.
func (s *Service) FileComplaint(ctx context.Context, cmd *domain.FileComplaint) (FileResult, error) {
	start := time.Now()
	defer s.steps.since(ctx, StepTotal, start)
	id, err := identity(ctx, fileRoles)
	if err != nil {
		return FileResult{}, err
	}
	if cmd.ShopID != "" && !id.InShop(cmd.ShopID) {
		return FileResult{}, fmt.Errorf("%w: %s may not file for shop %s", ErrForbidden, id.Subject, cmd.ShopID)
	}
	now := s.clock.Now()
	if err := cmd.Validate(now, s.shopKnown); err != nil {
		return FileResult{}, err
	}
	f := filing{cmd: cmd, customerRef: cmd.CustomerRef, id: id, now: now, fp: fingerprintFile(cmd),
		req: requestKey(cmd.ShopID, cmd.ClientRequestID)}
	if f.customerRef == "" {
		f.customerRef = s.customerRefFromPhone(cmd.ShopID, cmd.Personal.GetPhone())
	}
	// Sealing (a Postgres round trip for a new customer) and the request-log
	// read, each shared with concurrent filings, overlap.
	type sealResult struct {
		sealed *complaintv1.Sealed
		err    error
	}
	prepare := time.Now()
	sealing := make(chan sealResult, 1)
	go func() {
		t := time.Now()
		sealed, err := s.seal(ctx, cmd.ShopID, f.customerRef, cmd.Personal)
		s.steps.since(ctx, StepSeal, t)
		sealing <- sealResult{sealed, err}
	}()
	t := time.Now()
	prior, recorded, err := s.filed.Lookup(ctx, f.req)
	s.steps.since(ctx, StepIndexRead, t)
	sr := <-sealing
	s.steps.since(ctx, StepPrepare, prepare)
	if err != nil {
		return FileResult{}, fmt.Errorf("look up request id: %w", err)
	}
	if recorded && prior.Fingerprint != f.fp {
		return FileResult{}, ErrRequestReused
	}
	if sr.err != nil {
		return FileResult{}, sr.err
	}
	f.sealed = sr.sealed
	if cmd.OrderID == "" {
		return s.fileAlone(ctx, f)
	}
	return s.fileDispute(ctx, f)
}

// errTaken: the complaint id is taken by another request's filing.
var errTaken = errors.New("complaint id taken by another filing")

// errLagging: a complaint the leader holds read empty from a replica.
var errLagging = errors.New("complaint conflicted but reads empty")

// fileAlone files a request without an order: its complaint id comes from
// the request id, so the subject holds this request's filing or nothing.
func (s *Service) fileAlone(ctx context.Context, f filing) (FileResult, error) {
	complaintID := requestComplaintID(s.refKey, f.cmd.ShopID, f.cmd.ClientRequestID)
	res, err := s.fileNew(ctx, f, complaintID)
	if !errors.Is(err, errTaken) {
		return res, err
	}
	t := time.Now()
	defer s.steps.since(ctx, StepResolve, t)
	var recs []eventstore.Record
	var bo backoff.Backoff
	for range 8 {
		if recs, err = s.store.Load(ctx, complaintID); err != nil {
			return FileResult{}, fmt.Errorf("load complaint %s: %w", complaintID, err)
		}
		if len(recs) > 0 {
			break
		}
		// The replica that answered lags the leader that said "taken".
		if err := bo.Wait(ctx); err != nil {
			return FileResult{}, err
		}
	}
	res, found, err := answerFrom(f, [][]eventstore.Record{recs})
	if err != nil || found {
		return res, err
	}
	return FileResult{}, fmt.Errorf("complaint %s is held by a filing of another request", complaintID)
}

// fileDispute files a request about an order. The dispute's complaints are
// a chain of derived ids (generations 0, 1, …): a new generation starts only
// when the last one is closed beyond the dispute window. The common case, a
// new dispute, is one append to generation 0.
func (s *Service) fileDispute(ctx context.Context, f filing) (FileResult, error) {
	res, err := s.fileNew(ctx, f, s.disputeComplaintID(f, 0))
	if !errors.Is(err, errTaken) {
		return res, err
	}
	// Bounded: each round either settles or sees another request start the
	// next generation (or a replica catch up), which cannot go on for long.
	var bo backoff.Backoff
	for range 8 {
		t := time.Now()
		chain, err := s.loadDispute(ctx, f)
		if errors.Is(err, errLagging) {
			if werr := bo.Wait(ctx); werr != nil {
				return FileResult{}, werr
			}
			continue
		}
		if err != nil {
			return FileResult{}, err
		}
		res, found, err := answerFrom(f, chain)
		s.steps.since(ctx, StepResolve, t)
		if err != nil || found {
			return res, err
		}
		last := len(chain) - 1
		t = time.Now()
		res, err = s.fold(ctx, s.disputeComplaintID(f, last), f)
		s.steps.since(ctx, StepFold, t)
		if !errors.Is(err, errStartNew) {
			return res, err
		}
		res, err = s.fileNew(ctx, f, s.disputeComplaintID(f, last+1))
		if !errors.Is(err, errTaken) {
			return res, err
		}
	}
	return FileResult{}, fmt.Errorf("dispute of order %s kept changing hands: %w", f.cmd.OrderID, eventstore.ErrConflict)
}

// loadDispute reads the dispute's complaints, generation 0 up to the last
// one filed; it returns at least one (generation 0 exists when called).
func (s *Service) loadDispute(ctx context.Context, f filing) ([][]eventstore.Record, error) {
	var chain [][]eventstore.Record
	for g := 0; ; g++ {
		id := s.disputeComplaintID(f, g)
		recs, err := s.store.Load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("load complaint %s: %w", id, err)
		}
		if len(recs) == 0 {
			if g == 0 {
				// A conflict said it exists: the replica that answered the
				// read lags the leader by a moment.
				return nil, errLagging
			}
			return chain, nil
		}
		chain = append(chain, recs)
	}
}

// answerFrom looks for the request's own events in histories: a retry is
// answered as the first attempt was. The same request id with another
// fingerprint is a reused id.
func answerFrom(f filing, histories [][]eventstore.Record) (FileResult, bool, error) {
	for _, recs := range histories {
		for i, r := range recs {
			if r.Header.Get(HeaderRequest) != f.req {
				continue
			}
			if r.Header.Get(HeaderFingerprint) != f.fp {
				return FileResult{}, false, ErrRequestReused
			}
			evs, err := events.DecodeAll(recs)
			if err != nil {
				return FileResult{}, false, err
			}
			res := FileResult{ComplaintID: r.ComplaintID, Seq: r.StreamSeq, ContactNumber: 1,
				Classification: domain.Fold(evs).Classification}
			if c := evs[i].GetContactAdded(); c != nil {
				res.ContactNumber, res.Folded = int(c.GetContactNumber()), true
			}
			return res, true, nil
		}
	}
	return FileResult{}, false, nil
}

// claimRequest claims a request id in scope and refuses a reused one
// (AddContact, AttachEvidence).
func (s *Service) claimRequest(ctx context.Context, scope, requestID, complaintID string, fp string) (RequestClaim, error) {
	eid, err := uuid.NewV7()
	if err != nil {
		return RequestClaim{}, err
	}
	claim, _, err := s.requests.Claim(ctx, scope, requestID, RequestClaim{ComplaintID: complaintID, EventID: eid.String(), Fingerprint: fp})
	if err != nil {
		return RequestClaim{}, fmt.Errorf("claim request id: %w", err)
	}
	if claim.Fingerprint != fp {
		return RequestClaim{}, ErrRequestReused
	}
	return claim, nil
}

func (s *Service) seal(ctx context.Context, shopID, customerRef string, pd *complaintv1.PersonalData) (*complaintv1.Sealed, error) {
	sealed, err := s.keys.Seal(ctx, shopID, customerRef, pd)
	switch {
	case errors.Is(err, pii.ErrErased):
		return nil, ErrCustomerErased
	case err != nil:
		return nil, fmt.Errorf("seal personal data: %w", err)
	}
	return sealed, nil
}

func (s *Service) classify(cmd *domain.FileComplaint, contacts int, now time.Time) *complaintv1.ComplaintClassified {
	return domain.Classify(s.policy, domain.ClassifyInput{
		ShopID: cmd.ShopID, At: now, Text: cmd.Personal.GetText(), Channel: cmd.Channel,
		Complainant: cmd.Complainant, DeclaredType: cmd.CustomerType, Contacts: contacts,
		ClaimedAmountFen: cmd.ClaimedAmountFen, OrderAmountFen: cmd.OrderAmountFen,
		Followers: cmd.ChannelDetails.GetSocialPost().GetFollowers(),
	})
}

// fileNew appends ComplaintFiled and its classification as one atomic batch
// to complaintID, expecting it new: errTaken when another request's filing
// holds it.
func (s *Service) fileNew(ctx context.Context, f filing, complaintID string) (FileResult, error) {
	filed, occurred, err := domain.DecideFile(domain.Complaint{}, f.cmd, domain.Filing{
		ComplaintID: complaintID, Personal: f.sealed, CustomerRef: f.customerRef, Actor: events.ActorOf(f.id),
	}, f.now)
	if err != nil {
		return FileResult{}, err
	}
	classified := s.classify(f.cmd, 1, f.now)
	eventID := filingEventID(complaintID, "filed", f.fp)
	env := events.Envelope{
		ComplaintID: complaintID, ShopID: f.cmd.ShopID, Actor: events.ActorOf(f.id),
		OccurredAt: occurred, RecordedAt: f.now, CorrelationID: eventID, CausationID: f.cmd.ClientRequestID,
	}
	evs, err := build(env, eventID, f.headers(), filed, classified)
	if err != nil {
		return FileResult{}, err
	}
	t := time.Now()
	appended, err := s.store.Append(ctx, complaintID, 0, evs...)
	s.steps.since(ctx, StepAppend, t)
	switch {
	case errors.Is(err, eventstore.ErrConflict):
		return FileResult{}, errTaken
	case err != nil:
		return FileResult{}, fmt.Errorf("append ComplaintFiled: %w", err)
	}
	return FileResult{ComplaintID: complaintID, Created: !appended.Duplicate, Seq: appended.Seqs[0],
		ContactNumber: 1, Classification: classified}, nil
}

// headers mark the request on its first event.
func (f filing) headers() nats.Header {
	return nats.Header{HeaderRequest: {f.req}, HeaderFingerprint: {f.fp}}
}

// build wraps payloads in envelopes, skipping nil ones; the first gets firstID
// (when given), the request's event id, so a retry is recognised, and hdr.
func build(env events.Envelope, firstID string, hdr nats.Header, payloads ...proto.Message) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, 0, len(payloads))
	for i, p := range payloads {
		if p == nil || !p.ProtoReflect().IsValid() {
			continue
		}
		ev, err := events.New(env, p)
		if err != nil {
			return nil, err
		}
		if firstID != "" {
			ev.EventId = derivedID(firstID, i)
		}
		enc, err := events.Encode(ev)
		if err != nil {
			return nil, err
		}
		if len(out) == 0 && hdr != nil {
			enc.Header = hdr
		}
		out = append(out, enc)
	}
	return out, nil
}

// derivedID gives the i-th event of a request's batch an id of its own that a
// retry of the request derives again (a fresh random id would make the retry a
// different batch, which the store refuses). It keeps the first id's first
// six bytes, so an id that was a time-sortable UUIDv7 stays one.
func derivedID(firstID string, i int) string {
	if i == 0 {
		return firstID
	}
	first, err := uuid.Parse(firstID)
	if err != nil {
		return firstID + "-" + strconv.Itoa(i)
	}
	sum := sha256.Sum256([]byte(firstID + "#" + strconv.Itoa(i)))
	id := first
	copy(id[6:], sum[:10])
	id[6] = first[6]&0xf0 | id[6]&0x0f // keep the version
	id[8] = 0x80 | id[8]&0x3f          // RFC 4122 variant
	return id.String()
}

// Derived ids are UUIDv8 (RFC 9562 "custom"): HMAC-SHA-256 of their inputs
// under the customer-ref key, so they are stable for a request or a dispute
// and reveal neither the customer nor the order.
func derivedUUID(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	var id uuid.UUID
	copy(id[:], m.Sum(nil))
	id[6] = 0x80 | id[6]&0x0f // version 8
	id[8] = 0x80 | id[8]&0x3f // RFC 4122 variant
	return id.String()
}

// requestComplaintID is the complaint a request without an order opens.
func requestComplaintID(key []byte, shopID, requestID string) string {
	return derivedUUID(key, "kesu/intake/request/v1", shopID, requestID)
}

// disputeComplaintID is the complaint of generation g of the dispute of
// (shop, customer, order).
func (s *Service) disputeComplaintID(f filing, g int) string {
	return derivedUUID(s.refKey, "kesu/intake/dispute/v1", f.cmd.ShopID, f.customerRef, f.cmd.OrderID, strconv.Itoa(g))
}

// filingEventID is the id of the first event a request appends to a
// complaint as a filing or as a contact: the same for a retry of the
// request, different for a request with other content, and different per
// complaint and kind, so an attempt that lands elsewhere than the first one
// (another complaint of the dispute; filing where it was folded) is never
// taken for a duplicate of it.
func filingEventID(complaintID, kind, fp string) string {
	return derivedUUID([]byte(complaintID), "kesu/intake/event/v1", kind, fp)
}

// requestKey names (shop, client request id) in event headers.
func requestKey(shopID, requestID string) string {
	sum := sha256.Sum256([]byte(shopID + "\x00" + requestID))
	return hex.EncodeToString(sum[:16])
}

// fold adds a filing to the dispute's complaint holder as a contact;
// errStartNew when the holder is closed beyond the dispute window.
func (s *Service) fold(ctx context.Context, holder string, f filing) (FileResult, error) {
	cmd := f.cmd
	input := contactInput{
		complaintID: holder, requestID: cmd.ClientRequestID, eventID: filingEventID(holder, "contact", f.fp), header: f.headers(),
		channel: cmd.Channel, ref: cmd.ExternalRef, details: cmd.ChannelDetails, sealed: f.sealed, folded: true, occurred: cmd.OccurredAt,
		classify: func(contacts int) *complaintv1.ComplaintClassified { return s.classify(cmd, contacts, f.now) },
	}
	res, err := s.addContact(ctx, input, f.id, f.now)
	if errors.Is(err, domain.ErrClosed) {
		return FileResult{}, errStartNew
	}
	if err != nil {
		return FileResult{}, err
	}
	res.Folded = true
	return res, nil
}

type contactInput struct {
	complaintID, requestID, eventID string
	header                          nats.Header
	channel                         complaintv1.Channel
	ref                             *complaintv1.ExternalRef
	details                         *complaintv1.ChannelDetails
	sealed                          *complaintv1.Sealed
	folded                          bool
	occurred                        time.Time
	classify                        func(contacts int) *complaintv1.ComplaintClassified
}

// addContact appends ContactAdded (with ExternalRefLinked and a new
// classification when they change anything) by load, decide, append, retried on
// conflict. A retry of the same request finds its event in the history and
// appends nothing.
func (s *Service) addContact(ctx context.Context, in contactInput, id auth.Identity, now time.Time) (FileResult, error) {
	var res FileResult
	window := s.policy.Disputes.FoldWindow
	decided, err := eventstore.DecideResult(ctx, s.store, in.complaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		evs, err := events.DecodeAll(history)
		if err != nil {
			return nil, err
		}
		state := domain.Fold(evs)
		if i := slices.IndexFunc(history, func(r eventstore.Record) bool { return r.ID == in.eventID }); i >= 0 {
			res = FileResult{ComplaintID: in.complaintID, Seq: history[i].StreamSeq,
				ContactNumber: int(evs[i].GetContactAdded().GetContactNumber()), Classification: state.Classification}
			return nil, nil
		}
		c, err := domain.DecideContact(state, in.channel, in.ref, in.details, in.sealed, in.requestID, in.folded, now, window)
		if err != nil {
			return nil, err
		}
		merged, changed := domain.MergeClassification(state.Classification, in.classify(state.Contacts+1))
		if !changed {
			merged = nil
		}
		env := events.Envelope{
			ComplaintID: in.complaintID, ShopID: state.ShopID, Actor: events.ActorOf(id), OccurredAt: in.occurred,
			RecordedAt: now, CorrelationID: in.eventID, CausationID: in.requestID,
		}
		var linked proto.Message
		if c.Linked != nil {
			linked = c.Linked
		}
		var classified proto.Message
		if merged != nil {
			classified = merged
		}
		res = FileResult{ComplaintID: in.complaintID, Created: true, ContactNumber: int(c.Added.GetContactNumber()), Classification: merged}
		if merged == nil {
			res.Classification = state.Classification
		}
		return build(env, in.eventID, in.header, c.Added, linked, classified)
	}, eventstore.DecideOptions{})
	if err != nil {
		return FileResult{}, err
	}
	if recs := decided.Records; len(recs) > 0 {
		res.Seq = recs[0].StreamSeq
		// Stored already by an identical request racing this one.
		res.Created = !decided.Duplicate
	}
	return res, nil
}
