// Package app runs followup's use cases and reactions: it checks who is
// calling, loads the complaint's history, decides with the pure domain
// functions and appends with optimistic concurrency (eventstore.Decide).
package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/domain"
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
	ErrUnknownShop     = errors.New("unknown shop")
	ErrUnknownSeason   = errors.New("no such season for the shop")
)

// Keyring seals comments and erases customers' keys (kit/pii.Keyring).
type Keyring interface {
	Seal(ctx context.Context, shopID, customerRef string, pd *complaintv1.PersonalData) (*complaintv1.Sealed, error)
	Erase(ctx context.Context, shopID, customerRef string) (string, error)
}

// SweepItem is one complaint of the sweep, with what grouping needs.
type SweepItem struct {
	Item  *followupv1.SweepItem
	Owner string
	Level complaintv1.EscalationLevel
}

// Views reads the followup projection.
type Views interface {
	Get(ctx context.Context, complaintID string) (*followupv1.FollowUp, error)
	Queue(ctx context.Context, shopID string, dueBefore time.Time, pageSize int, token string) ([]*followupv1.FollowUp, string, error)
	// Unclosed lists a shop's complaints filed in [from, to) that are not closed.
	Unclosed(ctx context.Context, shopID string, from, to time.Time) ([]SweepItem, error)
	Retention(ctx context.Context, shopID string, from, to time.Time) (*followupv1.RetentionResponse, error)
	// ByRef finds the complaint another system knows under ref.
	ByRef(ctx context.Context, ref *complaintv1.ExternalRef) (string, error)
}

// Service is followup's application layer.
type Service struct {
	store  eventstore.Log
	keys   Keyring
	views  Views
	clock  clock.Clock
	policy *policy.Policy
}

// Deps are the Service's collaborators.
type Deps struct {
	Store  eventstore.Log
	Keys   Keyring
	Views  Views
	Clock  clock.Clock
	Policy *policy.Policy
}

// New returns the Service.
func New(d Deps) (*Service, error) {
	if d.Store == nil || d.Keys == nil || d.Views == nil || d.Clock == nil || d.Policy == nil {
		return nil, errors.New("followup app: store, keys, views, clock and policy are required")
	}
	return &Service{store: d.Store, keys: d.Keys, views: d.Views, clock: d.Clock, policy: d.Policy}, nil
}

// Roles per use case.
var (
	ReadRoles         = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin}
	AttemptRoles      = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin}
	SatisfactionRoles = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleIntegration}
	ManualRoles       = []auth.Role{auth.RoleSupervisor, auth.RoleAdmin}
	ReportRoles       = []auth.Role{auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleBI}
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

// systemActor is who appends the reactions.
var systemActor = &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "followup"}

func decode(recs []eventstore.Record) ([]domain.Event, error) {
	out := make([]domain.Event, 0, len(recs))
	for _, r := range recs {
		ev, err := events.Decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, domain.Event{Seq: r.StreamSeq, Ev: ev})
	}
	return out, nil
}

// load folds a complaint from its stream.
func (s *Service) load(ctx context.Context, complaintID string) (*domain.Complaint, error) {
	if eventstore.ValidateComplaintID(complaintID) != nil {
		return nil, domain.ErrNotFound
	}
	recs, err := s.store.Load(ctx, complaintID)
	if err != nil {
		return nil, fmt.Errorf("load complaint %s: %w", complaintID, err)
	}
	evs, err := decode(recs)
	if err != nil {
		return nil, err
	}
	c := domain.Fold(evs)
	if !c.Filed {
		return nil, domain.ErrNotFound
	}
	return c, nil
}

// decideFn decides on the folded complaint (and its raw events).
type decideFn func(c *domain.Complaint, evs []domain.Event, now time.Time) ([]domain.Out, error)

// env is what every event of one command shares.
type env struct {
	actor       *complaintv1.Actor
	correlation string
	occurred    time.Time
}

// decide loads, decides and appends, retrying on a conflict.
func (s *Service) decide(ctx context.Context, complaintID string, e env, fn decideFn) ([]eventstore.Record, error) {
	if eventstore.ValidateComplaintID(complaintID) != nil {
		return nil, domain.ErrNotFound
	}
	return eventstore.Decide(ctx, s.store, complaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		evs, err := decode(history)
		if err != nil {
			return nil, err
		}
		c := domain.Fold(evs)
		if !c.Filed {
			return nil, domain.ErrNotFound
		}
		now := s.clock.Now()
		outs, err := fn(c, evs, now)
		if err != nil || len(outs) == 0 {
			return nil, err
		}
		return s.encode(c, e, now, outs)
	}, eventstore.DecideOptions{})
}

func (s *Service) encode(c *domain.Complaint, e env, now time.Time, outs []domain.Out) ([]eventstore.Event, error) {
	res := make([]eventstore.Event, 0, len(outs))
	var first string
	for _, o := range outs {
		cause := o.Causation
		if cause == "" {
			cause = first
		}
		corr := e.correlation
		if corr == "" {
			corr = cause
		}
		ev, err := events.New(events.Envelope{ComplaintID: c.ID, ShopID: c.ShopID, Actor: e.actor,
			OccurredAt: e.occurred, RecordedAt: now, CorrelationID: corr, CausationID: cause}, o.Payload)
		if err != nil {
			return nil, err
		}
		if first == "" {
			first = ev.GetEventId()
		}
		enc, err := events.Encode(ev)
		if err != nil {
			return nil, err
		}
		res = append(res, enc)
	}
	return res, nil
}

func lastSeq(recs []eventstore.Record) uint64 {
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].StreamSeq
}

// seal seals a comment with the customer's key; an erased customer's
// comment is dropped (never stored in the clear).
func (s *Service) seal(ctx context.Context, c *domain.Complaint, a *domain.Answer) error {
	if a == nil || a.Comment == "" {
		return nil
	}
	if c.Erased || c.CustomerRef == "" {
		a.Comment = ""
		return nil
	}
	sealed, err := s.keys.Seal(ctx, c.ShopID, c.CustomerRef, &complaintv1.PersonalData{Text: a.Comment})
	switch {
	case errors.Is(err, pii.ErrErased):
		a.Comment = ""
		return nil
	case err != nil:
		return err
	}
	a.Sealed = sealed
	return nil
}

// shopScoped loads a complaint the caller may see.
func (s *Service) shopScoped(ctx context.Context, id auth.Identity, complaintID string) (*domain.Complaint, error) {
	c, err := s.load(ctx, complaintID)
	if err != nil {
		return nil, err
	}
	if !id.InShop(c.ShopID) {
		return nil, domain.ErrNotFound
	}
	return c, nil
}
