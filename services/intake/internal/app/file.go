package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pii"
)

// ErrCustomerErased: the customer's personal data was erased; new data cannot
// be sealed under their ref.
var ErrCustomerErased = errors.New("customer's personal data was erased; file under a new customer ref")

// errStartNew: the dispute's holder cannot take the contact (closed long ago,
// or never filed); the request opens a complaint of its own.
var errStartNew = errors.New("dispute holder cannot take the contact")

// FileComplaint opens a complaint, once per (shop, client request id) — or, when
// the customer already has an open complaint about the same order (or one
// closed within the dispute window), adds the request to it as a contact: one
// dispute across channels.
//
// The client request id is claimed first, with the complaint id and event id
// chosen for it. A retry after any failure finds the claim and appends the
// same event again: the stream's expectation and Nats-Msg-Id make that store
// nothing twice, so neither a lost reply nor a crash between two steps can
// file a complaint twice or lose one. The dispute is claimed the same way, so
// two channels reporting one dispute at the same moment yield one complaint.
func (s *Service) FileComplaint(ctx context.Context, cmd *domain.FileComplaint) (FileResult, error) {
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
	customerRef := cmd.CustomerRef
	if customerRef == "" {
		customerRef = s.customerRefFromPhone(cmd.ShopID, cmd.Personal.GetPhone())
	}
	// Sealing (a Postgres round trip for a new customer) and the request-id
	// claim (a JetStream write) do not depend on each other: overlap them.
	type sealResult struct {
		sealed *complaintv1.Sealed
		err    error
	}
	sealing := make(chan sealResult, 1)
	go func() {
		sealed, err := s.seal(ctx, cmd.ShopID, customerRef, cmd.Personal)
		sealing <- sealResult{sealed, err}
	}()
	claim, err := s.claimRequest(ctx, cmd.ShopID, cmd.ClientRequestID, "", fingerprintFile(cmd))
	sr := <-sealing
	if err != nil {
		return FileResult{}, err
	}
	if sr.err != nil {
		return FileResult{}, sr.err
	}
	sealed := sr.sealed
	if cmd.OrderID == "" {
		return s.fileNew(ctx, cmd, claim, customerRef, sealed, id, now)
	}
	// Bounded: each round either settles or sees another request move the
	// dispute, which cannot go on for long.
	for range 5 {
		holder, rev, _, err := s.disputes.Claim(ctx, cmd.ShopID, customerRef, cmd.OrderID, claim.ComplaintID)
		if err != nil {
			return FileResult{}, fmt.Errorf("claim dispute: %w", err)
		}
		if holder == claim.ComplaintID {
			return s.fileNew(ctx, cmd, claim, customerRef, sealed, id, now)
		}
		res, err := s.fold(ctx, holder, cmd, claim, sealed, id, now)
		if !errors.Is(err, errStartNew) {
			return res, err
		}
		ok, err := s.disputes.Replace(ctx, cmd.ShopID, customerRef, cmd.OrderID, claim.ComplaintID, rev)
		if err != nil {
			return FileResult{}, fmt.Errorf("take over dispute: %w", err)
		}
		if ok {
			return s.fileNew(ctx, cmd, claim, customerRef, sealed, id, now)
		}
	}
	return FileResult{}, fmt.Errorf("dispute of order %s kept changing hands: %w", cmd.OrderID, eventstore.ErrConflict)
}

// claimRequest claims a request id in scope and refuses a reused one.
func (s *Service) claimRequest(ctx context.Context, scope, requestID, complaintID string, fp string) (RequestClaim, error) {
	if complaintID == "" {
		cid, err := uuid.NewV7()
		if err != nil {
			return RequestClaim{}, err
		}
		complaintID = cid.String()
	}
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

// fileNew appends ComplaintFiled and its classification as one atomic batch.
func (s *Service) fileNew(ctx context.Context, cmd *domain.FileComplaint, claim RequestClaim, customerRef string,
	sealed *complaintv1.Sealed, id auth.Identity, now time.Time) (FileResult, error) {
	filed, occurred, err := domain.DecideFile(domain.Complaint{}, cmd, domain.Filing{
		ComplaintID: claim.ComplaintID, Personal: sealed, CustomerRef: customerRef, Actor: actorOf(id),
	}, now)
	if err != nil {
		return FileResult{}, err
	}
	classified := s.classify(cmd, 1, now)
	env := events.Envelope{
		ComplaintID: claim.ComplaintID, ShopID: cmd.ShopID, Actor: actorOf(id),
		OccurredAt: occurred, RecordedAt: now, CorrelationID: claim.EventID, CausationID: cmd.ClientRequestID,
	}
	evs, err := build(env, claim.EventID, filed, classified)
	if err != nil {
		return FileResult{}, err
	}
	// A new complaint has no history, so the decision needs no load: the stream
	// refuses the append (expected sequence 0) if it was filed already.
	appended, err := s.store.Append(ctx, claim.ComplaintID, 0, evs...)
	switch {
	case errors.Is(err, eventstore.ErrConflict):
		// Filed by an earlier attempt of this request; answer as it would have.
		return s.earlierFiling(ctx, claim.ComplaintID)
	case err != nil:
		return FileResult{}, fmt.Errorf("append ComplaintFiled: %w", err)
	}
	return FileResult{ComplaintID: claim.ComplaintID, Created: !appended.Duplicate, Seq: appended.Seqs[0],
		ContactNumber: 1, Classification: classified}, nil
}

func (s *Service) earlierFiling(ctx context.Context, complaintID string) (FileResult, error) {
	recs, err := s.store.Load(ctx, complaintID)
	if err != nil {
		return FileResult{}, fmt.Errorf("load complaint %s: %w", complaintID, err)
	}
	evs, err := events.DecodeAll(recs)
	if err != nil {
		return FileResult{}, err
	}
	if len(evs) == 0 || evs[0].GetComplaintFiled() == nil {
		return FileResult{}, fmt.Errorf("complaint %s: conflict on filing but no ComplaintFiled", complaintID)
	}
	return FileResult{ComplaintID: complaintID, Seq: recs[0].StreamSeq, ContactNumber: 1,
		Classification: domain.Fold(evs).Classification}, nil
}

// build wraps payloads in envelopes, skipping nil ones; the first gets firstID
// (when given), the request's claimed event id, so a retry is recognised.
func build(env events.Envelope, firstID string, payloads ...proto.Message) ([]eventstore.Event, error) {
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
		out = append(out, enc)
	}
	return out, nil
}

// derivedID gives the i-th event of a request's batch an id of its own that a
// retry of the request derives again (a fresh random id would make the retry a
// different batch, which the store refuses). It keeps the first id's
// millisecond timestamp, so it is still a time-sortable UUIDv7.
func derivedID(firstID string, i int) string {
	if i == 0 {
		return firstID
	}
	first, err := uuid.Parse(firstID)
	if err != nil {
		return firstID + "-" + strconv.Itoa(i)
	}
	sum := sha256.Sum256([]byte(firstID + "#" + strconv.Itoa(i)))
	var id uuid.UUID
	copy(id[:6], first[:6])
	copy(id[6:], sum[:10])
	id[6] = 0x70 | id[6]&0x0f // version 7
	id[8] = 0x80 | id[8]&0x3f // RFC 4122 variant
	return id.String()
}

// fold adds a filing to the complaint holding the dispute as a contact.
func (s *Service) fold(ctx context.Context, holder string, cmd *domain.FileComplaint, claim RequestClaim,
	sealed *complaintv1.Sealed, id auth.Identity, now time.Time) (FileResult, error) {
	// The holder may be a concurrent request's complaint that is not appended
	// yet: wait for it a little, then take over (its request may have died).
	var recs []eventstore.Record
	deadline := now.Add(s.filedWait)
	for {
		var err error
		recs, err = s.store.Load(ctx, holder)
		if err != nil {
			return FileResult{}, fmt.Errorf("load complaint %s: %w", holder, err)
		}
		if len(recs) > 0 || !clock.Wall().Now().Before(deadline) {
			break
		}
		if err := clock.Sleep(ctx, clock.Wall(), 20*time.Millisecond); err != nil {
			return FileResult{}, err
		}
	}
	if len(recs) == 0 {
		return FileResult{}, errStartNew
	}
	input := contactInput{
		complaintID: holder, requestID: cmd.ClientRequestID, eventID: claim.EventID, channel: cmd.Channel,
		ref: cmd.ExternalRef, details: cmd.ChannelDetails, sealed: sealed, folded: true, occurred: cmd.OccurredAt,
		classify: func(contacts int) *complaintv1.ComplaintClassified { return s.classify(cmd, contacts, now) },
	}
	res, err := s.addContact(ctx, input, id, now)
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
	recs, err := eventstore.Decide(ctx, s.store, in.complaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
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
			ComplaintID: in.complaintID, ShopID: state.ShopID, Actor: actorOf(id), OccurredAt: in.occurred,
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
		return build(env, in.eventID, c.Added, linked, classified)
	}, eventstore.DecideOptions{})
	if err != nil {
		return FileResult{}, err
	}
	if len(recs) > 0 {
		res.Seq = recs[0].StreamSeq
	}
	return res, nil
}
