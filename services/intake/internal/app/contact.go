package app

import (
	"context"
	"fmt"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

// loadState reads a complaint and checks the caller may act on it.
func (s *Service) loadState(ctx context.Context, id auth.Identity, complaintID string) (domain.Complaint, error) {
	recs, err := s.store.Load(ctx, complaintID)
	if err != nil {
		return domain.Complaint{}, fmt.Errorf("load complaint %s: %w", complaintID, err)
	}
	evs, err := events.DecodeAll(recs)
	if err != nil {
		return domain.Complaint{}, err
	}
	state := domain.Fold(evs)
	if state.Status == domain.StatusNone || !id.InShop(state.ShopID) {
		return domain.Complaint{}, domain.ErrNotFound
	}
	return state, nil
}

// AddContact records another contact on a complaint, from any channel.
func (s *Service) AddContact(ctx context.Context, cmd *domain.AddContact) (FileResult, error) {
	id, err := identity(ctx, fileRoles)
	if err != nil {
		return FileResult{}, err
	}
	now := s.clock.Now()
	if err := cmd.Validate(now); err != nil {
		return FileResult{}, err
	}
	state, err := s.loadState(ctx, id, cmd.ComplaintID)
	if err != nil {
		return FileResult{}, err
	}
	claim, err := s.claimRequest(ctx, "c-"+cmd.ComplaintID, cmd.ClientRequestID, cmd.ComplaintID, fingerprint(&intakev1.AddContactRequest{
		ClientRequestId: cmd.ClientRequestID, ComplaintId: cmd.ComplaintID, Channel: cmd.Channel,
		Message: cmd.Personal.GetText(), ExternalRef: cmd.ExternalRef, ChannelDetails: cmd.ChannelDetails,
		OccurredAt: domain.Timestamp(cmd.OccurredAt),
	}))
	if err != nil {
		return FileResult{}, err
	}
	sealed, err := s.seal(ctx, state.ShopID, state.CustomerRef, cmd.Personal)
	if err != nil {
		return FileResult{}, err
	}
	text := cmd.Personal.GetText()
	return s.addContact(ctx, contactInput{
		complaintID: cmd.ComplaintID, requestID: cmd.ClientRequestID, eventID: claim.EventID, channel: cmd.Channel,
		ref: cmd.ExternalRef, details: cmd.ChannelDetails, sealed: sealed, occurred: cmd.OccurredAt,
		classify: func(contacts int) *complaintv1.ComplaintClassified {
			return domain.Classify(s.policy, domain.ClassifyInput{
				ShopID: state.ShopID, At: now, Text: text, Channel: cmd.Channel, Contacts: contacts,
				Followers: cmd.ChannelDetails.GetSocialPost().GetFollowers(),
			})
		},
	}, id, now)
}

// EvidenceResult is what AttachEvidence returns.
type EvidenceResult struct {
	ComplaintID, EvidenceID string
	Seq                     uint64
	Created                 bool
}

// AttachEvidence records a piece of evidence on a complaint: its metadata and
// content hash; the bytes stay in the merchant's object store.
func (s *Service) AttachEvidence(ctx context.Context, cmd *domain.AttachEvidence) (EvidenceResult, error) {
	id, err := identity(ctx, fileRoles)
	if err != nil {
		return EvidenceResult{}, err
	}
	if err := cmd.Validate(); err != nil {
		return EvidenceResult{}, err
	}
	state, err := s.loadState(ctx, id, cmd.ComplaintID)
	if err != nil {
		return EvidenceResult{}, err
	}
	claim, err := s.claimRequest(ctx, "c-"+cmd.ComplaintID, cmd.ClientRequestID, cmd.ComplaintID, fingerprint(&intakev1.AttachEvidenceRequest{
		ClientRequestId: cmd.ClientRequestID, ComplaintId: cmd.ComplaintID, Kind: cmd.Kind, MediaType: cmd.MediaType,
		SizeBytes: cmd.SizeBytes, Sha256: cmd.SHA256, StorageUri: cmd.StorageURI, FileName: cmd.FileName, Caption: cmd.Caption,
	}))
	if err != nil {
		return EvidenceResult{}, err
	}
	var pd *complaintv1.PersonalData
	if cmd.FileName != "" || cmd.Caption != "" {
		pd = &complaintv1.PersonalData{Text: joinNonEmpty(cmd.FileName, cmd.Caption)}
	}
	sealed, err := s.seal(ctx, state.ShopID, state.CustomerRef, pd)
	if err != nil {
		return EvidenceResult{}, err
	}
	now := s.clock.Now()
	res := EvidenceResult{ComplaintID: cmd.ComplaintID, EvidenceID: claim.EventID, Created: true}
	recs, err := eventstore.Decide(ctx, s.store, cmd.ComplaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		for _, r := range history {
			if r.ID == claim.EventID {
				res.Seq, res.Created = r.StreamSeq, false
				return nil, nil
			}
		}
		evs, err := events.DecodeAll(history)
		if err != nil {
			return nil, err
		}
		ev, err := domain.DecideEvidence(domain.Fold(evs), cmd, claim.EventID, sealed)
		if err != nil {
			return nil, err
		}
		return build(events.Envelope{ComplaintID: cmd.ComplaintID, ShopID: state.ShopID, Actor: events.ActorOf(id),
			RecordedAt: now, CorrelationID: claim.EventID, CausationID: cmd.ClientRequestID}, claim.EventID, nil, ev)
	}, eventstore.DecideOptions{})
	if err != nil {
		return EvidenceResult{}, err
	}
	if len(recs) > 0 {
		res.Seq = recs[0].StreamSeq
	}
	return res, nil
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n" + b
}

// FindComplaints searches a shop's complaints. A phone finds the customer the
// way filing derived the ref from it.
func (s *Service) FindComplaints(ctx context.Context, q Query, phone string) ([]*intakev1.Complaint, string, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, "", err
	}
	var vs []domain.Violation
	if q.ShopID == "" {
		vs = append(vs, domain.Violation{Field: "shop_id", Reason: "required"})
	} else if !id.InShop(q.ShopID) {
		return nil, "", fmt.Errorf("%w: %s may not read shop %s", ErrForbidden, id.Subject, q.ShopID)
	}
	if q.PageSize < 0 || q.PageSize > 200 {
		vs = append(vs, domain.Violation{Field: "page_size", Reason: fmt.Sprintf("%d: use 1 to 200 (0 for the default 50)", q.PageSize)})
	}
	if !q.FiledFrom.IsZero() && !q.FiledTo.IsZero() && q.FiledTo.Before(q.FiledFrom) {
		vs = append(vs, domain.Violation{Field: "filed_to", Reason: "before filed_from"})
	}
	if len(vs) > 0 {
		return nil, "", &domain.ValidationError{Violations: vs}
	}
	if q.PageSize == 0 {
		q.PageSize = 50
	}
	if q.CustomerRef == "" && phone != "" {
		q.CustomerRef = s.customerRefFromPhone(q.ShopID, phone)
	}
	return s.views.Find(ctx, q)
}

// EraseResult is what EraseCustomer returns.
type EraseResult struct {
	CustomerRef string
	Updated     int
}

// EraseCustomer destroys the customer's key — every sealed field of theirs, in
// every event, backup and replay, becomes unreadable at once — then records
// PersonalDataErased on each of their complaints so every projection shows
// "erased". Idempotent: a second call records nothing new.
func (s *Service) EraseCustomer(ctx context.Context, shopID, customerRef, phone, reason string) (EraseResult, error) {
	id, err := identity(ctx, eraseRoles)
	if err != nil {
		return EraseResult{}, err
	}
	if err := domain.ValidateErase(shopID, customerRef, phone, reason); err != nil {
		return EraseResult{}, err
	}
	if !id.InShop(shopID) {
		return EraseResult{}, fmt.Errorf("%w: %s may not act for shop %s", ErrForbidden, id.Subject, shopID)
	}
	if customerRef == "" {
		customerRef = s.customerRefFromPhone(shopID, phone)
	}
	keyID, err := s.keys.Erase(ctx, shopID, customerRef)
	if err != nil {
		return EraseResult{}, err
	}
	ids, err := s.views.OfCustomer(ctx, shopID, customerRef)
	if err != nil {
		return EraseResult{}, err
	}
	now := s.clock.Now()
	res := EraseResult{CustomerRef: customerRef}
	for _, cid := range ids {
		recs, err := eventstore.Decide(ctx, s.store, cid, func(history []eventstore.Record) ([]eventstore.Event, error) {
			evs, err := events.DecodeAll(history)
			if err != nil {
				return nil, err
			}
			p := domain.DecideErase(domain.Fold(evs), keyID, reason)
			if p == nil {
				return nil, nil
			}
			return build(events.Envelope{ComplaintID: cid, ShopID: shopID, Actor: events.ActorOf(id), RecordedAt: now}, "", nil, p)
		}, eventstore.DecideOptions{})
		if err != nil {
			return res, fmt.Errorf("record erasure on %s: %w", cid, err)
		}
		if len(recs) > 0 {
			res.Updated++
		}
	}
	return res, nil
}
