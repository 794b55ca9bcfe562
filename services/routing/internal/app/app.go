// Package app runs routing's use cases: it checks who is calling, loads the
// complaint's stream, decides with the pure domain functions and appends with
// optimistic concurrency (eventstore.Decide: a conflicting append reloads
// and decides again, so two claims race and exactly one wins). It reaches
// NATS and Postgres only through the ports below.
package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

// Errors of the use cases; ports maps them to gRPC codes.
var (
	ErrUnauthenticated = errors.New("no identity on the call")
	ErrForbidden       = errors.New("not allowed")
	// ErrBadToken: a page token this service did not issue.
	ErrBadToken = errors.New("bad page token")
)

// EventStore is the complaint streams (kit/eventstore.Store).
type EventStore interface {
	Append(ctx context.Context, complaintID string, expectedSeq uint64, evs ...eventstore.Event) (eventstore.Appended, error)
	Load(ctx context.Context, complaintID string) ([]eventstore.Record, error)
	// LoadAfter reads the events above a sequence: none says a state
	// folded up to it is the complaint's whole history.
	LoadAfter(ctx context.Context, complaintID string, afterSeq uint64) ([]eventstore.Record, error)
}

// Roster is the agents: routing's own table, not complaint events.
type Roster interface {
	// Agent returns one agent with its load, or domain.ErrNotFound.
	Agent(ctx context.Context, id string) (*domain.Agent, error)
	// Upsert stores an agent's profile (name, tier, skills, capacity,
	// shops), keeping its presence; a new agent starts offline.
	Upsert(ctx context.Context, a *domain.Agent, now time.Time) (*domain.Agent, error)
	// SetPresence changes an agent's presence (since now when it changes).
	SetPresence(ctx context.Context, id string, p domain.Presence, now time.Time) (*domain.Agent, error)
	// List returns agents with a skill (any when "") and presence (any when 0).
	List(ctx context.Context, queue string, p domain.Presence) ([]*domain.Agent, error)
	// WithRoom lists online agents below capacity whose queues hold waiting
	// complaints, least loaded first (a bounded number).
	WithRoom(ctx context.Context) ([]string, error)
	// OfflineSince returns agents offline since before t.
	OfflineSince(ctx context.Context, t time.Time) ([]*domain.Agent, error)
	// Pool returns every agent with its load, indexed for assignment.
	Pool(ctx context.Context) (*domain.Pool, error)
}

// QueueQuery selects a page of a queue or of an agent's work.
type QueueQuery struct {
	Queue          string
	Owner          string
	ShopID         string
	UnassignedOnly bool
	PageSize       int
	PageToken      string
	Now            time.Time
}

// Views reads the routing projection.
type Views interface {
	// Page lists open complaints by severity, deadline, age.
	Page(ctx context.Context, q QueueQuery) ([]*routingv1.WorkItem, string, error)
	// QueuePage is Page with the queue's stats, in one round trip.
	QueuePage(ctx context.Context, q QueueQuery) ([]*routingv1.WorkItem, string, *routingv1.QueueStats, error)
	// Stats is a queue at a glance.
	Stats(ctx context.Context, queue, shopID string, now time.Time) (*routingv1.QueueStats, error)
	// Get returns one complaint's work item, or domain.ErrNotFound.
	Get(ctx context.Context, complaintID string, now time.Time) (*routingv1.WorkItem, error)
	// Held lists the open complaints an agent holds.
	Held(ctx context.Context, agentID string) ([]string, error)
}

// Service is routing's application layer.
type Service struct {
	store  EventStore
	roster Roster
	views  Views
	clock  clock.Clock
	policy *policy.Policy

	statsMaxAge time.Duration
	statsMu     sync.Mutex
	stats       map[statsKey]*statsEntry
}

// Deps are the Service's collaborators.
type Deps struct {
	Store  EventStore
	Roster Roster
	Views  Views
	Clock  clock.Clock
	Policy *policy.Policy
	// StatsMaxAge lets queue stats be served up to this old (wall time)
	// while a fresh copy is read in the background; 0 reads them every time.
	StatsMaxAge time.Duration
}

// New returns the Service.
func New(d Deps) (*Service, error) {
	if d.Store == nil || d.Roster == nil || d.Views == nil || d.Clock == nil || d.Policy == nil {
		return nil, errors.New("routing app: store, roster, views, clock and policy are required")
	}
	return &Service{store: d.Store, roster: d.Roster, views: d.Views, clock: d.Clock, policy: d.Policy,
		statsMaxAge: d.StatsMaxAge, stats: map[statsKey]*statsEntry{}}, nil
}

// Policy is the policy the service runs on.
func (s *Service) Policy() *policy.Policy { return s.policy }

// Roles per use case.
var (
	caseRoles    = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin}
	readRoles    = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration}
	managerRoles = []auth.Role{auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin}
	rosterRoles  = []auth.Role{auth.RoleSupervisor, auth.RoleAdmin}
	systemActor  = &complaintv1.Actor{Kind: complaintv1.ActorKind_ACTOR_KIND_SYSTEM, Id: "routing"}
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

// actor turns an identity into the domain's actor with its refund cap: the
// tier's cap for an agent, the supervisor cap for managers.
func (s *Service) actor(id auth.Identity) domain.Actor {
	a := domain.Actor{ID: id.Subject, Manager: id.Is(managerRoles...), Tier: id.Tier}
	if a.Manager {
		a.Tier, a.Cap = 0, s.policy.SupervisorRefundCap
	} else if c, ok := s.policy.RefundCap(id.Tier); ok {
		a.Cap = c
	}
	return a
}

// decideFunc decides on a complaint's work state.
type decideFunc func(w *domain.Work) ([]proto.Message, error)

// Result is what a command appended.
type Result struct {
	ComplaintID string
	Seq         uint64
	Events      []*complaintv1.Event
}

// command runs load → decide → append on a complaint for the caller,
// retried on conflicts. Another shop's complaint does not exist for the caller.
func (s *Service) command(ctx context.Context, id auth.Identity, complaintID string, decide decideFunc) (Result, error) {
	if _, err := uuid.Parse(complaintID); err != nil || eventstore.ValidateComplaintID(complaintID) != nil {
		return Result{}, &domain.ValidationError{Violations: []domain.Violation{{Field: "complaint_id", Reason: "must be a complaint id (UUID)"}}}
	}
	var built []*complaintv1.Event
	recs, err := eventstore.Decide(ctx, s.store, complaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		w, err := fold(history)
		if err != nil {
			return nil, err
		}
		if !w.Exists() || !id.InShop(w.ShopID) {
			return nil, domain.ErrNotFound
		}
		msgs, err := decide(w)
		if err != nil {
			return nil, err
		}
		now := s.clock.Now()
		env := events.Envelope{ComplaintID: complaintID, ShopID: w.ShopID, Actor: events.ActorOf(id), RecordedAt: now}
		built, err = newEvents(env, msgs, nil)
		if err != nil {
			return nil, err
		}
		return encode(built)
	}, eventstore.DecideOptions{})
	if err != nil {
		return Result{}, err
	}
	res := Result{ComplaintID: complaintID, Events: built}
	if len(recs) > 0 {
		res.Seq = recs[len(recs)-1].StreamSeq
	}
	return res, nil
}

func fold(history []eventstore.Record) (*domain.Work, error) {
	w := &domain.Work{}
	for _, r := range history {
		ev, err := events.Decode(r)
		if err != nil {
			return nil, err
		}
		w.Evolve(ev, r.StreamSeq)
	}
	return w, nil
}

// newEvents wraps payloads in envelopes; ids derives each event's id when
// set (reactions), else they are fresh UUIDv7s.
func newEvents(env events.Envelope, msgs []proto.Message, ids func(i int) string) ([]*complaintv1.Event, error) {
	out := make([]*complaintv1.Event, 0, len(msgs))
	for i, m := range msgs {
		ev, err := events.New(env, m)
		if err != nil {
			return nil, err
		}
		if ids != nil {
			ev.EventId = ids(i)
		}
		out = append(out, ev)
	}
	return out, nil
}

func encode(evs []*complaintv1.Event) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, 0, len(evs))
	for _, ev := range evs {
		e, err := events.Encode(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// derivedID is a deterministic UUIDv7-shaped id for the i-th event routing
// appends in reaction to cause: the cause's time bits keep it time-ordered,
// and a redelivered cause yields the same ids, which the stream's duplicate
// window drops.
func derivedID(causeID, salt string, i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "kesu/routing/%s/%s/%d", causeID, salt, i))
	var u uuid.UUID
	copy(u[:], sum[:16])
	if c, err := uuid.Parse(causeID); err == nil {
		copy(u[:6], c[:6])
	}
	u[6] = (u[6] & 0x0f) | 0x70
	u[8] = (u[8] & 0x3f) | 0x80
	return u.String()
}
