package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

// DefaultCapacity is the capacity of an agent who enrols by going online
// without being on the roster.
const DefaultCapacity = 6

// validAgentID: what an agent id (a token's subject) may look like.
func validAgentID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.@", c)) {
			return false
		}
	}
	return true
}

func (s *Service) checkAgent(a *domain.Agent) error {
	var v []domain.Violation
	if !validAgentID(a.ID) {
		v = append(v, domain.Violation{Field: "agent.agent_id", Reason: "required: letters, digits, '-', '_', '.', '@' (at most 64)"})
	}
	if _, ok := s.policy.Tier(a.Tier); !ok {
		v = append(v, domain.Violation{Field: "agent.tier", Reason: fmt.Sprintf("must be a tier 1–%d", len(s.policy.Tiers))})
	}
	if len(a.Skills) == 0 {
		v = append(v, domain.Violation{Field: "agent.skills", Reason: "must list at least one queue"})
	}
	for i, q := range a.Skills {
		if _, ok := s.policy.Queue(q); !ok {
			v = append(v, domain.Violation{Field: fmt.Sprintf("agent.skills[%d]", i), Reason: fmt.Sprintf("unknown queue %q", q)})
		}
	}
	if a.Capacity < 1 || a.Capacity > 1000 {
		v = append(v, domain.Violation{Field: "agent.capacity", Reason: "must be 1–1000"})
	}
	for i, sh := range a.Shops {
		if _, ok := s.policy.Shop(sh); !ok {
			v = append(v, domain.Violation{Field: fmt.Sprintf("agent.shops[%d]", i), Reason: fmt.Sprintf("unknown shop %q", sh)})
		}
	}
	if len([]rune(a.Name)) > 100 {
		v = append(v, domain.Violation{Field: "agent.name", Reason: "at most 100 characters"})
	}
	if len(v) > 0 {
		return &domain.ValidationError{Violations: v}
	}
	return nil
}

// UpsertAgent adds or changes an agent's profile.
func (s *Service) UpsertAgent(ctx context.Context, a *domain.Agent) (*domain.Agent, error) {
	if _, err := identity(ctx, rosterRoles); err != nil {
		return nil, err
	}
	if err := s.checkAgent(a); err != nil {
		return nil, err
	}
	return s.roster.Upsert(ctx, a, s.clock.Now())
}

// SeedRoster stores the policy file's agents (start-up): profile from the
// file, presence kept.
func (s *Service) SeedRoster(ctx context.Context) error {
	for _, ra := range s.policy.Roster.Agents {
		a := &domain.Agent{ID: ra.ID, Name: ra.Name, Tier: ra.Tier, Skills: ra.Skills, Capacity: ra.Capacity, Shops: ra.Shops}
		if _, err := s.roster.Upsert(ctx, a, s.clock.Now()); err != nil {
			return fmt.Errorf("roster agent %s: %w", ra.ID, err)
		}
	}
	return nil
}

// SetPresence sets an agent online, away or offline. An agent not on the
// roster enrols by going online with the tier and skills of their token.
// Going online fills the agent's room from their queues.
func (s *Service) SetPresence(ctx context.Context, agentID string, p domain.Presence) (*domain.Agent, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return nil, err
	}
	if p < domain.PresenceOnline || p > domain.PresenceOffline {
		return nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "presence", Reason: "must be online, away or offline"}}}
	}
	if agentID == "" {
		agentID = id.Subject
	}
	if agentID != id.Subject && !id.Is(managerRoles...) {
		return nil, &domain.PermissionError{Reason: "NOT_SELF", Msg: "an agent sets only their own presence"}
	}
	now := s.clock.Now()
	a, err := s.roster.SetPresence(ctx, agentID, p, now)
	if errors.Is(err, domain.ErrNotFound) && agentID == id.Subject && id.Role == auth.RoleAgent {
		enrol := &domain.Agent{ID: id.Subject, Tier: id.Tier, Skills: id.Skills, Capacity: DefaultCapacity, Shops: id.Shops}
		if verr := s.checkAgent(enrol); verr != nil {
			return nil, &domain.NotFoundError{Kind: "agent", Name: agentID}
		}
		if _, err = s.roster.Upsert(ctx, enrol, now); err != nil {
			return nil, err
		}
		a, err = s.roster.SetPresence(ctx, agentID, p, now)
	}
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &domain.NotFoundError{Kind: "agent", Name: agentID}
	}
	if err != nil {
		return nil, err
	}
	if p == domain.PresenceOnline {
		if n, err := s.Fill(ctx, a.ID); err != nil {
			return nil, err
		} else if n > 0 {
			return s.roster.Agent(ctx, a.ID)
		}
	}
	return a, nil
}

// Fill assigns waiting complaints of an online agent's queues to them, most
// urgent first, until their room is used. It returns how many it assigned.
func (s *Service) Fill(ctx context.Context, agentID string) (int, error) {
	n := 0
	a, err := s.roster.Agent(ctx, agentID)
	if err != nil {
		return 0, err
	}
	for _, q := range a.Skills {
		items, _, err := s.views.Page(ctx, QueueQuery{Queue: q, UnassignedOnly: true, PageSize: 20, Now: s.clock.Now()})
		if err != nil {
			return n, err
		}
		for _, it := range items {
			if a.Presence != domain.PresenceOnline || a.Load >= a.CapacityIn(s.policy, q) {
				break
			}
			if !a.Fits(q, int(it.GetTierRequired()), it.GetShopId()) {
				continue
			}
			res, err := s.command(ctx, auth.Identity{Subject: "routing", Role: auth.RoleAdmin}, it.GetComplaintId(), func(w *domain.Work) ([]proto.Message, error) {
				if w.Status != domain.StatusOpen || w.Owner != "" || w.Queue != q {
					return nil, nil
				}
				return []proto.Message{&complaintv1.ComplaintAssigned{AgentId: a.ID, Queue: q,
					Mode: complaintv1.AssignmentMode_ASSIGNMENT_MODE_AUTO, AgentTier: int32(a.Tier)}}, nil
			})
			if err != nil {
				return n, err
			}
			if len(res.Events) > 0 { // else someone took it meanwhile
				a.Load++
				n++
			}
		}
	}
	return n, nil
}

// SweepOffline releases the unstarted work of agents offline for longer
// than the grace period; the reactor then re-assigns it. It returns how many
// complaints went back to their queues.
func (s *Service) SweepOffline(ctx context.Context) (int, error) {
	now := s.clock.Now()
	grace := s.policy.Roster.OfflineGrace
	agents, err := s.roster.OfflineSince(ctx, now.Add(-grace))
	if err != nil {
		return 0, err
	}
	n := 0
	sys := auth.Identity{Subject: "routing", Role: auth.RoleAdmin}
	for _, a := range agents {
		held, err := s.views.Held(ctx, a.ID)
		if err != nil {
			return n, err
		}
		for _, cid := range held {
			res, err := s.command(ctx, sys, cid, func(w *domain.Work) ([]proto.Message, error) {
				return domain.ReleaseUnstarted(w, a, grace, now), nil
			})
			if err != nil {
				return n, err
			}
			if len(res.Events) > 0 {
				n++
			}
		}
	}
	return n, nil
}

// FillWaiting gives waiting complaints to online agents with room: work
// freed by a resolution or a release flows to the next complaint without
// anyone claiming it. It returns how many it assigned.
func (s *Service) FillWaiting(ctx context.Context) (int, error) {
	ids, err := s.roster.WithRoom(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		k, err := s.Fill(ctx, id)
		if err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// RunSweeper sweeps on the service's clock (so the accelerated clock of a
// season simulation releases work as fast as its agents go offline).
func (s *Service) RunSweeper(ctx context.Context, log *slog.Logger) error {
	every := min(max(s.policy.Roster.OfflineGrace/5, time.Second), time.Minute)
	for {
		if err := clock.Sleep(ctx, s.clock, every); err != nil {
			return nil
		}
		if _, err := s.SweepOffline(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "offline sweep failed", "err", err)
		}
		if _, err := s.FillWaiting(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "filling agents with room failed", "err", err)
		}
	}
}

// ListAgents lists the roster.
func (s *Service) ListAgents(ctx context.Context, queue string, p domain.Presence) ([]*domain.Agent, error) {
	if _, err := identity(ctx, readRoles); err != nil {
		return nil, err
	}
	return s.roster.List(ctx, queue, p)
}

// ---- reads

func (s *Service) checkQueue(q string) error {
	if _, ok := s.policy.Queue(q); !ok {
		return &domain.ValidationError{Violations: []domain.Violation{{Field: "queue", Reason: fmt.Sprintf("unknown queue %q", q)}}}
	}
	return nil
}

// pageSize checks and defaults a page size.
func pageSize(n int32) (int, error) {
	switch {
	case n == 0:
		return 50, nil
	case n < 0 || n > 500:
		return 0, &domain.ValidationError{Violations: []domain.Violation{{Field: "page_size", Reason: "must be 1–500"}}}
	}
	return int(n), nil
}

// ListQueue pages through a queue; the first page carries the queue's stats.
func (s *Service) ListQueue(ctx context.Context, queue, shopID string, unassigned bool, size int32, token string) ([]*routingv1.WorkItem, *routingv1.QueueStats, string, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, nil, "", err
	}
	if err := s.checkQueue(queue); err != nil {
		return nil, nil, "", err
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, nil, "", err
	}
	if shopID != "" && !id.InShop(shopID) {
		return nil, nil, "", fmt.Errorf("%w: shop %s", ErrForbidden, shopID)
	}
	if shopID == "" && len(id.Shops) == 1 {
		shopID = id.Shops[0]
	}
	if shopID == "" && len(id.Shops) > 1 {
		// The stats would count other shops' complaints.
		return nil, nil, "", &domain.ValidationError{Violations: []domain.Violation{{Field: "shop_id", Reason: "required for a caller scoped to several shops"}}}
	}
	now := s.clock.Now()
	q := QueueQuery{Queue: queue, ShopID: shopID, UnassignedOnly: unassigned, PageSize: n, PageToken: token, Now: now}
	if token != "" {
		items, next, err := s.views.Page(ctx, q)
		return visible(id, items), nil, next, err
	}
	if s.statsMaxAge > 0 {
		items, next, err := s.views.Page(ctx, q)
		if err != nil {
			return nil, nil, "", err
		}
		st, err := s.queueStats(ctx, queue, shopID, now)
		return visible(id, items), st, next, err
	}
	items, next, st, err := s.views.QueuePage(ctx, q)
	if err != nil {
		return nil, nil, "", err
	}
	return visible(id, items), st, next, nil
}

func visible(id auth.Identity, items []*routingv1.WorkItem) []*routingv1.WorkItem {
	if len(id.Shops) == 0 {
		return items
	}
	return slices.DeleteFunc(items, func(it *routingv1.WorkItem) bool { return !id.InShop(it.GetShopId()) })
}

// QueueOverview is every queue's stats.
func (s *Service) QueueOverview(ctx context.Context, shopID string) ([]*routingv1.QueueStats, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, err
	}
	if shopID != "" && !id.InShop(shopID) {
		return nil, fmt.Errorf("%w: shop %s", ErrForbidden, shopID)
	}
	if shopID == "" && len(id.Shops) == 1 {
		shopID = id.Shops[0]
	}
	if shopID == "" && len(id.Shops) > 1 {
		return nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "shop_id", Reason: "required for a caller scoped to several shops"}}}
	}
	now := s.clock.Now()
	out := make([]*routingv1.QueueStats, 0, len(s.policy.Queues))
	for _, q := range s.policy.Queues {
		st, err := s.queueStats(ctx, q.ID, shopID, now)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// MyWork pages through an agent's open complaints.
func (s *Service) MyWork(ctx context.Context, agentID string, size int32, token string) ([]*routingv1.WorkItem, string, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return nil, "", err
	}
	if agentID == "" {
		agentID = id.Subject
	}
	if agentID != id.Subject && !id.Is(managerRoles...) {
		return nil, "", &domain.PermissionError{Reason: "NOT_SELF", Msg: "an agent sees only their own work"}
	}
	n, err := pageSize(size)
	if err != nil {
		return nil, "", err
	}
	items, next, err := s.views.Page(ctx, QueueQuery{Owner: agentID, PageSize: n, PageToken: token, Now: s.clock.Now()})
	return visible(id, items), next, err
}

// GetWork returns one complaint's work state.
func (s *Service) GetWork(ctx context.Context, complaintID string) (*routingv1.WorkItem, error) {
	id, err := identity(ctx, readRoles)
	if err != nil {
		return nil, err
	}
	if _, err := uuid.Parse(complaintID); err != nil {
		return nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "complaint_id", Reason: "must be a complaint id (UUID)"}}}
	}
	it, err := s.views.Get(ctx, complaintID, s.clock.Now())
	if err != nil {
		return nil, err
	}
	if !id.InShop(it.GetShopId()) {
		return nil, domain.ErrNotFound
	}
	return it, nil
}

type statsKey struct{ queue, shop string }

type statsEntry struct {
	st         *routingv1.QueueStats
	read       time.Time // wall time
	refreshing bool
}

// queueStats serves a queue's stats from a snapshot at most statsMaxAge old
// (wall time), reading a fresh one in the background when it is older: the
// at-risk count of a deep queue counts thousands of index entries, and a
// supervisor's screen does not need it fresher than a second, while the page
// of complaints under it is always read fresh.
func (s *Service) queueStats(ctx context.Context, queue, shop string, now time.Time) (*routingv1.QueueStats, error) {
	if s.statsMaxAge <= 0 {
		return s.views.Stats(ctx, queue, shop, now)
	}
	k := statsKey{queue, shop}
	s.statsMu.Lock()
	e := s.stats[k]
	if e != nil {
		if time.Since(e.read) > s.statsMaxAge && !e.refreshing {
			e.refreshing = true
			go s.refreshStats(context.WithoutCancel(ctx), k)
		}
		st := proto.Clone(e.st).(*routingv1.QueueStats)
		s.statsMu.Unlock()
		return st, nil
	}
	s.statsMu.Unlock()
	st, err := s.views.Stats(ctx, queue, shop, now)
	if err != nil {
		return nil, err
	}
	s.statsMu.Lock()
	s.stats[k] = &statsEntry{st: proto.Clone(st).(*routingv1.QueueStats), read: time.Now()}
	s.statsMu.Unlock()
	return st, nil
}

func (s *Service) refreshStats(ctx context.Context, k statsKey) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := s.views.Stats(ctx, k.queue, k.shop, s.clock.Now())
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	e := s.stats[k]
	e.refreshing = false
	if err == nil {
		e.st, e.read = st, time.Now()
	}
}
