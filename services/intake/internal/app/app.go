// Package app runs intake's use cases: it checks who is calling, validates,
// seals personal data, decides with the pure domain functions and appends to the
// complaint's stream. It talks to NATS and Postgres only through the ports below.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pii"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Errors of the use cases; ports maps them to gRPC codes.
var (
	ErrUnauthenticated = errors.New("no identity on the call")
	ErrForbidden       = errors.New("not allowed")
	// ErrRequestReused: the client request id was used before for a different complaint.
	ErrRequestReused = errors.New("client_request_id already used for a different request")
)

// EventStore is the complaint streams (kit/eventstore.Store).
type EventStore interface {
	Append(ctx context.Context, complaintID string, expectedSeq uint64, evs ...eventstore.Event) (eventstore.Appended, error)
	Load(ctx context.Context, complaintID string) ([]eventstore.Record, error)
}

// RequestClaim is what the idempotency index remembers of a request.
type RequestClaim struct {
	ComplaintID string `json:"complaint_id"`
	EventID     string `json:"event_id"`
	Fingerprint string `json:"fingerprint"`
}

// RequestIndex remembers client request ids, atomically: of two concurrent
// claims for one key exactly one creates it and the other gets the winner's
// (AddContact, AttachEvidence).
type RequestIndex interface {
	// Claim stores c under (shop, request id) unless a claim is there already, and
	// returns the claim that holds the key and whether it was created now.
	Claim(ctx context.Context, shopID, requestID string, c RequestClaim) (RequestClaim, bool, error)
}

// RequestLog is FileComplaint's record of the request ids it filed, folded
// by the projection from the Kesu-Request headers of the complaint stream
// (so it costs the filing no write). FileComplaint does not depend on it for
// idempotency (the complaint stream answers retries): it only refuses a
// request id reused for different content on another order.
type RequestLog interface {
	// Lookup returns the filing recorded under the request key, if any
	// (EventID is not recorded).
	Lookup(ctx context.Context, requestKey string) (RequestClaim, bool, error)
}

// Keyring seals and opens personal data (kit/pii.Keyring).
type Keyring interface {
	Seal(ctx context.Context, shopID, customerRef string, pd *complaintv1.PersonalData) (*complaintv1.Sealed, error)
	Open(ctx context.Context, s *complaintv1.Sealed) (*complaintv1.PersonalData, error)
	// Erase destroys the customer's key and returns its id.
	Erase(ctx context.Context, shopID, customerRef string) (string, error)
}

// Complaints reads the intake projection.
type Complaints interface {
	// Get returns the complaint view with its sealed personal data, or domain.ErrNotFound.
	Get(ctx context.Context, complaintID string) (*intakev1.Complaint, *complaintv1.Sealed, error)
	// Find returns a page of a shop's complaints, newest first, and the next page's token.
	Find(ctx context.Context, q Query) ([]*intakev1.Complaint, string, error)
	// OfCustomer lists the ids of every complaint of a customer of a shop.
	OfCustomer(ctx context.Context, shopID, customerRef string) ([]string, error)
}

// Query filters FindComplaints; zero fields match everything.
type Query struct {
	ShopID, CustomerRef, OrderID string
	ExternalRef                  *complaintv1.ExternalRef
	Status                       intakev1.ComplaintStatus
	FiledFrom, FiledTo           time.Time
	PageSize                     int
	PageToken                    string
}

// Service is intake's application layer.
type Service struct {
	store    EventStore
	requests RequestIndex
	filed    RequestLog
	keys     Keyring
	views    Complaints
	clock    clock.Clock
	policy   *policy.Policy
	refKey   []byte
	steps    *stepTimer
}

// Deps are the Service's collaborators.
type Deps struct {
	Store    EventStore
	Requests RequestIndex
	Filed    RequestLog
	Keys     Keyring
	Views    Complaints
	Clock    clock.Clock
	Policy   *policy.Policy
	// CustomerRefKey keys the HMAC that turns a phone number into a customer ref
	// when the caller has no buyer id (the hotline), so the ref is stable but
	// does not reveal the number.
	CustomerRefKey []byte
	// MeterProvider gets the per-step histogram; default the global one.
	MeterProvider metric.MeterProvider
}

// New returns the Service.
func New(d Deps) (*Service, error) {
	if d.Store == nil || d.Requests == nil || d.Filed == nil || d.Keys == nil || d.Views == nil || d.Clock == nil || d.Policy == nil {
		return nil, errors.New("intake app: store, requests, filed, keys, views, clock and policy are required")
	}
	if len(d.CustomerRefKey) < 16 {
		return nil, errors.New("intake app: customer ref key must be at least 16 bytes")
	}
	return &Service{store: d.Store, requests: d.Requests, filed: d.Filed, keys: d.Keys, views: d.Views,
		clock: d.Clock, policy: d.Policy, refKey: d.CustomerRefKey, steps: newStepTimer(d.MeterProvider)}, nil
}

func (s *Service) shopKnown(id string) bool {
	_, ok := s.policy.Shop(id)
	return ok
}

// Roles allowed per use case. Personal data is shown in the clear only to the
// people who handle the customer; integrations and BI get masked values.
var (
	fileRoles     = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleIntegration}
	eraseRoles    = []auth.Role{auth.RoleAdmin}
	readRoles     = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration}
	personalRoles = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin}
)

func identity(ctx context.Context, allowed []auth.Role) (auth.Identity, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, ErrUnauthenticated
	}
	if !id.Is(allowed...) {
		return auth.Identity{}, fmt.Errorf("%w: role %s", ErrForbidden, id.Role)
	}
	return id, nil
}

// FileResult is what filing returns.
type FileResult struct {
	ComplaintID    string
	Created        bool
	Seq            uint64
	Folded         bool
	ContactNumber  int
	Classification *complaintv1.ComplaintClassified
}

// customerRefFromPhone derives a stable pseudonymous ref from the digits of a
// phone number, so "138 0000 1234" and "+86 13800001234" are one customer.
func (s *Service) customerRefFromPhone(shopID, phone string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	digits = strings.TrimPrefix(digits, "86")
	m := hmac.New(sha256.New, s.refKey)
	m.Write([]byte(shopID + "\x00" + digits))
	return "tel-" + hex.EncodeToString(m.Sum(nil)[:12])
}

// fingerprint identifies a request's content, so a reused request id with other
// content is refused instead of answered with the wrong complaint.
func fingerprintFile(cmd *domain.FileComplaint) string {
	req := &intakev1.FileComplaintRequest{
		ClientRequestId: cmd.ClientRequestID, ShopId: cmd.ShopID, Channel: cmd.Channel,
		Customer: &intakev1.Customer{
			CustomerRef: cmd.CustomerRef, Name: cmd.Personal.GetName(), Phone: cmd.Personal.GetPhone(),
			Email: cmd.Personal.GetEmail(), Address: cmd.Personal.GetAddress(),
		},
		OrderId: cmd.OrderID, Items: cmd.Items, OrderAmountFen: cmd.OrderAmountFen,
		ClaimedAmountFen: cmd.ClaimedAmountFen, Description: cmd.Personal.GetText(),
		OccurredAt: domain.Timestamp(cmd.OccurredAt), ExternalRef: cmd.ExternalRef,
		ChannelDetails: cmd.ChannelDetails, Complainant: cmd.Complainant, CustomerType: cmd.CustomerType,
		ExpectedRemedies: cmd.ExpectedRemedies, Language: cmd.Language,
	}
	return fingerprint(req)
}

// fingerprint hashes a request message deterministically.
func fingerprint(m proto.Message) string {
	// Marshalling a request that was decoded (or built from one) cannot fail.
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// GetComplaint returns the projection's view, with personal data opened for the
// roles that may see it and masked for the others.
func (s *Service) GetComplaint(ctx context.Context, complaintID string) (*intakev1.Complaint, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, err
	}
	view, sealed, err := s.views.Get(ctx, complaintID)
	if err != nil {
		return nil, err
	}
	if !id.InShop(view.GetShopId()) {
		// Same answer as a missing complaint: another shop's complaints do not exist for this caller.
		return nil, domain.ErrNotFound
	}
	if view.GetPersonalDataErased() {
		return view, nil
	}
	pd, err := s.keys.Open(ctx, sealed)
	switch {
	case errors.Is(err, pii.ErrErased):
		view.PersonalDataErased = true
		return view, nil
	case err != nil:
		return nil, err
	}
	view.Personal = s.present(id, pd)
	return view, nil
}

func (s *Service) present(id auth.Identity, pd *complaintv1.PersonalData) *complaintv1.PersonalData {
	if pd == nil {
		return nil
	}
	if id.Is(personalRoles...) {
		return pd
	}
	return pii.Mask(pd)
}

// TimelineEntry is one event of a complaint's history, decoded.
type TimelineEntry struct {
	Event    *complaintv1.Event
	Type     string
	Seq      uint64
	Summary  string
	Personal *complaintv1.PersonalData
	Erased   bool
}

// Timeline reads the complaint's whole history from its stream: the record of
// truth, not a projection, so it is complete the moment an event is appended.
func (s *Service) Timeline(ctx context.Context, complaintID string, lang domain.Lang) ([]TimelineEntry, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, err
	}
	recs, err := s.store.Load(ctx, complaintID)
	if err != nil {
		return nil, fmt.Errorf("load complaint %s: %w", complaintID, err)
	}
	if len(recs) == 0 {
		return nil, domain.ErrNotFound
	}
	evs, err := events.DecodeAll(recs)
	if err != nil {
		return nil, err
	}
	if !id.InShop(evs[0].GetShopId()) {
		return nil, domain.ErrNotFound
	}
	// Once the history records an erasure nothing is opened, whatever a key
	// cache somewhere still holds.
	erased := domain.Fold(evs).Erased
	out := make([]TimelineEntry, 0, len(recs))
	for i, r := range recs {
		ev := evs[i]
		e := TimelineEntry{Event: ev, Type: r.Type, Seq: r.StreamSeq, Summary: domain.Summarize(ev, lang)}
		if sealed := SealedOf(ev); sealed != nil && erased {
			e.Erased = true
		} else if sealed != nil {
			pd, err := s.keys.Open(ctx, sealed)
			switch {
			case errors.Is(err, pii.ErrErased):
				e.Erased = true
			case err != nil:
				return nil, err
			default:
				e.Personal = s.present(id, pd)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// SealedOf returns the sealed personal data an event carries, if any.
func SealedOf(ev *complaintv1.Event) *complaintv1.Sealed {
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		return p.ComplaintFiled.GetPersonal()
	case *complaintv1.Event_ContactAdded:
		return p.ContactAdded.GetPersonal()
	case *complaintv1.Event_EvidenceAttached:
		return p.EvidenceAttached.GetPersonal()
	case *complaintv1.Event_AgentResponded:
		return p.AgentResponded.GetPersonal()
	case *complaintv1.Event_SatisfactionRecorded:
		return p.SatisfactionRecorded.GetPersonal()
	}
	return nil
}
