// Package app runs the escalation service's use cases: reading clocks, manual
// escalation and de-escalation, recomputing deadlines after a policy change and
// watching war-room alerts. It checks who is calling, validates, decides with
// the pure domain functions and talks to NATS and Postgres only through the
// ports below.
package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Errors of the use cases; ports maps them to gRPC codes.
var (
	ErrUnauthenticated = errors.New("no identity on the call")
	ErrForbidden       = errors.New("not allowed")
)

// InvalidError lists the bad fields of a request.
type InvalidError struct {
	Fields [][2]string // field, reason
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid request: %v", e.Fields) }

func (e *InvalidError) add(field, reason string) {
	e.Fields = append(e.Fields, [2]string{field, reason})
}

func (e *InvalidError) err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Change is one clock whose instants a recompute changes.
type Change struct {
	Old, New *domain.Clock
}

// RecomputeResult is what a recompute found (and applied).
type RecomputeResult struct {
	Complaints int
	Changed    int
	// Skipped counts complaints the projection was still catching up with;
	// a later recompute handles them.
	Skipped int
	Changes []Change
	Applied bool
	Digest  string
}

// AlertFilter selects the alerts a watcher sees.
type AlertFilter struct {
	Shops []string
	Kinds []alertsv1.AlertKind
	Since time.Time
}

// ClockStore reads the clocks projection and recomputes it.
type ClockStore interface {
	Get(ctx context.Context, complaintID string) (*domain.Complaint, error)
	Running(ctx context.Context, shopID string, dueBefore time.Time, limit int) ([]*domain.Clock, error)
	Recompute(ctx context.Context, shopID string, p *policy.Policy, apply bool, maxChanges int) (RecomputeResult, error)
	SetPolicyDigest(ctx context.Context, digest string) error
}

// Alerts is the ALERTS stream.
type Alerts interface {
	Publish(ctx context.Context, a *alertsv1.Alert) error
	Watch(ctx context.Context, f AlertFilter, send func(*alertsv1.Alert, uint64) error) error
}

// Service is the escalation application layer.
type Service struct {
	store  eventstore.Log
	clocks ClockStore
	alerts Alerts
	policy *policy.Policy
	clock  clock.Clock
}

// New returns the service.
func New(store eventstore.Log, clocks ClockStore, al Alerts, p *policy.Policy, c clock.Clock) *Service {
	return &Service{store: store, clocks: clocks, alerts: al, policy: p, clock: c}
}

// Policy is the policy the service runs with.
func (s *Service) Policy() *policy.Policy { return s.policy }

func identity(ctx context.Context, roles ...auth.Role) (auth.Identity, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Identity{}, ErrUnauthenticated
	}
	if !id.Is(roles...) {
		return id, fmt.Errorf("%w: role %s may not do this", ErrForbidden, id.Role)
	}
	return id, nil
}

func checkComplaintID(inv *InvalidError, id string) {
	if _, err := uuid.Parse(id); err != nil || eventstore.ValidateComplaintID(id) != nil {
		inv.add("complaint_id", "must be a complaint id (UUID)")
	}
}

// GetClocks returns a complaint's clocks.
func (s *Service) GetClocks(ctx context.Context, complaintID string) (*domain.Complaint, error) {
	id, err := identity(ctx, auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleBI)
	if err != nil {
		return nil, err
	}
	inv := &InvalidError{}
	checkComplaintID(inv, complaintID)
	if err := inv.err(); err != nil {
		return nil, err
	}
	c, err := s.clocks.Get(ctx, complaintID)
	if err != nil {
		return nil, err
	}
	if !id.InShop(c.ShopID) {
		return nil, domain.ErrNotFound // another shop's complaint does not exist for this caller
	}
	return c, nil
}

// ListDeadlines lists a shop's running clocks, soonest due first.
func (s *Service) ListDeadlines(ctx context.Context, shopID string, dueBefore time.Time, pageSize int) ([]*domain.Clock, error) {
	id, err := identity(ctx, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin)
	if err != nil {
		return nil, err
	}
	inv := &InvalidError{}
	if _, ok := s.policy.Shop(shopID); !ok {
		inv.add("shop_id", fmt.Sprintf("unknown shop %q", shopID))
	}
	if pageSize < 0 || pageSize > 500 {
		inv.add("page_size", "must be 1..500 (0 = 100)")
	}
	if err := inv.err(); err != nil {
		return nil, err
	}
	if !id.InShop(shopID) {
		return nil, fmt.Errorf("%w: shop %s is outside the caller's shops", ErrForbidden, shopID)
	}
	if pageSize == 0 {
		pageSize = 100
	}
	return s.clocks.Running(ctx, shopID, dueBefore, pageSize)
}

// MoveResult is where a manual move took the complaint.
type MoveResult struct {
	From, To, Queue string
	Seq             uint64
}

// Move escalates (up) or de-escalates a complaint by hand, with a reason.
func (s *Service) Move(ctx context.Context, complaintID, to string, up bool, reason string) (MoveResult, error) {
	roles := []auth.Role{auth.RoleSupervisor, auth.RoleAdmin}
	if up {
		roles = append(roles, auth.RolePR)
	}
	id, err := identity(ctx, roles...)
	if err != nil {
		return MoveResult{}, err
	}
	inv := &InvalidError{}
	checkComplaintID(inv, complaintID)
	if r := domain.ValidateReason(reason); r != "" {
		inv.add("reason", r)
	}
	if to != "" {
		if _, ok := s.policy.Level(to); !ok {
			ids := make([]string, 0, len(s.policy.Escalation.Levels))
			for _, l := range s.policy.Escalation.Levels {
				ids = append(ids, l.ID)
			}
			inv.add("to_level", fmt.Sprintf("unknown level %q: want one of %v", to, ids))
		}
	}
	if err := inv.err(); err != nil {
		return MoveResult{}, err
	}
	now := s.clock.Now()
	var step *domain.Step
	var shop string
	recs, err := eventstore.Decide(ctx, s.store, complaintID, func(history []eventstore.Record) ([]eventstore.Event, error) {
		evs, err := events.DecodeAll(history)
		if err != nil {
			return nil, err
		}
		c := domain.Fold(complaintID, evs, nil, s.policy)
		if c.ShopID == "" {
			return nil, domain.ErrNotFound
		}
		if !id.InShop(c.ShopID) {
			return nil, domain.ErrNotFound
		}
		shop = c.ShopID
		payload, st, err := domain.Manual(c, s.policy, to, up, reason)
		if err != nil {
			return nil, err
		}
		step = st
		kind := complaintv1.ActorKind_ACTOR_KIND_SUPERVISOR
		ev, err := events.New(events.Envelope{
			ComplaintID: complaintID, ShopID: c.ShopID, RecordedAt: now,
			Actor: &complaintv1.Actor{Kind: kind, Id: id.Subject, Role: string(id.Role)},
		}, payload)
		if err != nil {
			return nil, err
		}
		e, err := events.Encode(ev)
		if err != nil {
			return nil, err
		}
		return []eventstore.Event{e}, nil
	}, eventstore.DecideOptions{})
	if err != nil {
		return MoveResult{}, err
	}
	res := MoveResult{From: step.From.ID, To: step.To.ID, Queue: step.To.Queue}
	if len(recs) > 0 {
		res.Seq = recs[len(recs)-1].StreamSeq
		verb, verbEn := "人工升级", "escalated by hand"
		if !up {
			verb, verbEn = "人工降级", "de-escalated by hand"
		}
		_ = s.alerts.Publish(ctx, &alertsv1.Alert{
			AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_ESCALATED, recs[0].ID), Kind: alertsv1.AlertKind_ALERT_KIND_ESCALATED,
			ShopId: shop, ComplaintId: complaintID, Level: domain.LevelEnum(s.policy, step.To.ID), Queue: step.To.Queue,
			RaisedAt: timestamppb.New(now), Source: "escalation",
			SummaryZh: fmt.Sprintf("%s：%s → %s", verb, step.From.Name.ZhCN, step.To.Name.ZhCN),
			SummaryEn: fmt.Sprintf("%s: %s → %s", verbEn, step.From.Name.En, step.To.Name.En),
		})
	}
	return res, nil
}

// Recompute recomputes open complaints' deadlines. A candidate policy (YAML)
// may only be dry-run: the service applies the policy it was started with.
func (s *Service) Recompute(ctx context.Context, shopID string, dryRun bool, policyYAML string, maxChanges int) (RecomputeResult, error) {
	roles := []auth.Role{auth.RoleAdmin}
	if dryRun {
		roles = append(roles, auth.RoleSupervisor)
	}
	id, err := identity(ctx, roles...)
	if err != nil {
		return RecomputeResult{}, err
	}
	inv := &InvalidError{}
	if shopID != "" {
		if _, ok := s.policy.Shop(shopID); !ok {
			inv.add("shop_id", fmt.Sprintf("unknown shop %q", shopID))
		}
	}
	if maxChanges < 0 || maxChanges > 100000 {
		inv.add("max_changes", "must be 0..100000 (0 = 1000)")
	}
	p := s.policy
	if policyYAML != "" {
		if !dryRun {
			inv.add("policy_yaml", "a candidate policy can only be dry-run: deploy the file and restart to apply it")
		} else if cand, err := policy.Parse([]byte(policyYAML)); err != nil {
			inv.add("policy_yaml", err.Error())
		} else {
			p = cand
		}
	}
	if err := inv.err(); err != nil {
		return RecomputeResult{}, err
	}
	if shopID != "" && !id.InShop(shopID) || shopID == "" && len(id.Shops) > 0 {
		return RecomputeResult{}, fmt.Errorf("%w: shop outside the caller's shops", ErrForbidden)
	}
	if maxChanges == 0 {
		maxChanges = 1000
	}
	res, err := s.clocks.Recompute(ctx, shopID, p, !dryRun, maxChanges)
	if err != nil {
		return res, err
	}
	res.Applied, res.Digest = !dryRun, p.Digest
	if !dryRun && shopID == "" {
		if err := s.clocks.SetPolicyDigest(ctx, p.Digest); err != nil {
			return res, err
		}
	}
	return res, nil
}

// WatchAlerts streams alerts to send until ctx ends.
func (s *Service) WatchAlerts(ctx context.Context, shopID string, kinds []alertsv1.AlertKind, since time.Time, send func(*alertsv1.Alert, uint64) error) error {
	id, err := identity(ctx, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin)
	if err != nil {
		return err
	}
	inv := &InvalidError{}
	if shopID != "" {
		if _, ok := s.policy.Shop(shopID); !ok {
			inv.add("shop_id", fmt.Sprintf("unknown shop %q", shopID))
		}
	}
	for i, k := range kinds {
		if _, ok := alertsv1.AlertKind_name[int32(k)]; !ok || k == alertsv1.AlertKind_ALERT_KIND_UNSPECIFIED {
			inv.add(fmt.Sprintf("kinds[%d]", i), "unknown alert kind")
		}
	}
	if err := inv.err(); err != nil {
		return err
	}
	f := AlertFilter{Kinds: slices.Compact(slices.Sorted(slices.Values(kinds))), Since: since}
	switch {
	case shopID != "":
		if !id.InShop(shopID) {
			return fmt.Errorf("%w: shop %s is outside the caller's shops", ErrForbidden, shopID)
		}
		f.Shops = []string{shopID}
	default:
		f.Shops = id.Shops
	}
	return s.alerts.Watch(ctx, f, send)
}

// RecomputeIfPolicyChanged is the start-up recompute: when the policy's
// digest differs from the one the deadlines were computed with, every open
// complaint is recomputed. The digest is recorded only once no complaint was
// skipped, so a recompute cut short by a catching-up projection runs again.
func (s *Service) RecomputeIfPolicyChanged(ctx context.Context, stored string) (RecomputeResult, bool, error) {
	if stored == s.policy.Digest {
		return RecomputeResult{}, false, nil
	}
	res, err := s.clocks.Recompute(ctx, "", s.policy, true, 0)
	if err != nil || res.Skipped > 0 {
		return res, true, err
	}
	return res, true, s.clocks.SetPolicyDigest(ctx, s.policy.Digest)
}
