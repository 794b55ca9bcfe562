package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

// target is the agent a claim is for: the caller, or the agent a manager names.
func (s *Service) target(ctx context.Context, id auth.Identity, agentID string) (*domain.Agent, error) {
	if agentID == "" {
		agentID = id.Subject
	}
	if agentID != id.Subject && !id.Is(managerRoles...) {
		return nil, &domain.PermissionError{Reason: "NOT_SELF", Msg: "an agent acts only for themselves"}
	}
	a, err := s.roster.Agent(ctx, agentID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, &domain.NotFoundError{Kind: "agent", Name: agentID}
	}
	return a, err
}

// Claim takes an unassigned complaint for the caller (or, for a manager,
// for the agent named).
func (s *Service) Claim(ctx context.Context, complaintID, agentID string) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	t, err := s.target(ctx, id, agentID)
	if err != nil {
		return Result{}, err
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.Claim(w, s.policy, a, t)
	})
}

// Release gives a complaint back to its queue.
func (s *Service) Release(ctx context.Context, complaintID, reason string) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.Release(w, a, reason)
	})
}

// Transfer passes a complaint to another agent and/or queue.
func (s *Service) Transfer(ctx context.Context, complaintID, toAgent, toQueue, reason string) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	var t *domain.Agent
	if toAgent != "" {
		if t, err = s.roster.Agent(ctx, toAgent); errors.Is(err, domain.ErrNotFound) {
			return Result{}, &domain.NotFoundError{Kind: "agent", Name: toAgent}
		} else if err != nil {
			return Result{}, err
		}
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.Transfer(w, s.policy, a, t, toQueue, reason)
	})
}

// Respond records a reply to the customer.
func (s *Service) Respond(ctx context.Context, complaintID string, channel complaintv1.Channel) (Result, *complaintv1.AgentResponded, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, nil, err
	}
	a := s.actor(id)
	res, err := s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.Respond(w, a, channel, s.clock.Now())
	})
	if err != nil {
		return res, nil, err
	}
	return res, res.Events[0].GetAgentResponded(), nil
}

// MakePromise records a promise; within is relative to now.
func (s *Service) MakePromise(ctx context.Context, complaintID, description string, due time.Time, within time.Duration) (Result, *complaintv1.PromiseMade, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, nil, err
	}
	if !due.IsZero() && within != 0 {
		return Result{}, nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "within", Reason: "give due_at or within, not both"}}}
	}
	a := s.actor(id)
	pid := uuid.Must(uuid.NewV7()).String()
	res, err := s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		now := s.clock.Now()
		d := due
		if within != 0 {
			d = now.Add(within)
		}
		return domain.MakePromise(w, a, pid, description, d, now)
	})
	if err != nil {
		return res, nil, err
	}
	return res, res.Events[0].GetPromiseMade(), nil
}

// ProposeRemedy offers a remedy; it reports whether it was approved at once.
func (s *Service) ProposeRemedy(ctx context.Context, complaintID string, kind complaintv1.RemedyKind, amountFen int64, note string) (Result, string, bool, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, "", false, err
	}
	a := s.actor(id)
	rid := uuid.Must(uuid.NewV7()).String()
	res, err := s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.ProposeRemedy(w, a, string(id.Role), rid, kind, amountFen, note)
	})
	if err != nil {
		return res, "", false, err
	}
	return res, rid, len(res.Events) > 1, nil
}

// ApproveRemedy approves a remedy within the caller's cap.
func (s *Service) ApproveRemedy(ctx context.Context, complaintID, remedyID string) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	if remedyID == "" {
		return Result{}, &domain.ValidationError{Violations: []domain.Violation{{Field: "remedy_id", Reason: "required"}}}
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.ApproveRemedy(w, a, string(id.Role), remedyID)
	})
}

// RejectRemedy rejects a remedy.
func (s *Service) RejectRemedy(ctx context.Context, complaintID, remedyID, reason string) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	if remedyID == "" {
		return Result{}, &domain.ValidationError{Violations: []domain.Violation{{Field: "remedy_id", Reason: "required"}}}
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.RejectRemedy(w, a, remedyID, reason)
	})
}

// Resolve records the outcome.
func (s *Service) Resolve(ctx context.Context, complaintID string, outcome complaintv1.ResolutionOutcome, remedyID, summary string, retention complaintv1.Retention) (Result, error) {
	id, err := identity(ctx, caseRoles)
	if err != nil {
		return Result{}, err
	}
	a := s.actor(id)
	return s.command(ctx, id, complaintID, func(w *domain.Work) ([]proto.Message, error) {
		return domain.Resolve(w, a, outcome, remedyID, summary, retention)
	})
}

// Triggers reports whether routing reacts to an event.
func Triggers(ev *complaintv1.Event) bool {
	switch ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintClassified, *complaintv1.Event_ContactAdded, *complaintv1.Event_ComplaintEscalated,
		*complaintv1.Event_ComplaintReopened, *complaintv1.Event_ComplaintUnassigned, *complaintv1.Event_ComplaintTransferred:
		return true
	}
	return false
}

// Prepared is a reaction decided on the projection's state of a complaint,
// its loads reserved in the pool, not yet appended.
type Prepared struct {
	cause    *complaintv1.Event
	expected uint64
	built    []*complaintv1.Event
	evs      []eventstore.Event
	pool     *domain.Pool
	undo     func()
}

// Prepare decides cause's reaction on known, the projection's state of the
// complaint (its history up to known.LastSeq, cause included), with before,
// the status just before the cause, and reserves its loads in pool. It
// returns nil when known cannot be decided on. Preparing is cheap and in
// memory: a projection prepares its batch's reactions in stream order (the
// oldest gets the free slot) and appends them concurrently.
func (s *Service) Prepare(cause *complaintv1.Event, known *domain.Work, before domain.Status, pool *domain.Pool) *Prepared {
	if known == nil || known.LastSeq == 0 || known.ComplaintID != cause.GetComplaintId() {
		return nil
	}
	w := *known // React applies its decision to the state it is given
	pool.Lock()
	msgs := domain.React(&w, before, cause, s.policy, pool)
	undo := pool.Reserve(msgs)
	pool.Unlock()
	pr := &Prepared{cause: cause, expected: known.LastSeq, pool: pool, undo: undo}
	if len(msgs) == 0 {
		// Nothing to do on this state; AppendPrepared checks it is current.
		pr.giveBack()
		return pr
	}
	env := events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, Actor: systemActor, RecordedAt: s.clock.Now(),
		CorrelationID: cause.GetCorrelationId(), CausationID: cause.GetEventId()}
	salt := fmt.Sprint(known.LastSeq) // as React derives them: same cause, same state, same ids
	built, err := newEvents(env, msgs, func(i int) string { return derivedID(cause.GetEventId(), salt, i) })
	if err == nil {
		pr.evs, err = encode(built)
	}
	if err != nil {
		pr.giveBack()
		return nil
	}
	pr.built = built
	return pr
}

// Tail is what a complaint's stream holds after sequence after, for
// CarryForward.
func (s *Service) Tail(ctx context.Context, complaintID string, after uint64) ([]eventstore.Record, error) {
	return s.store.LoadAfter(ctx, complaintID, after)
}

// CarryForward is known (a complaint's state up to known.LastSeq) with
// tail, the events its stream holds after that, folded into a copy: the
// state its whole history gives, from a short read. known is left as it is.
func (s *Service) CarryForward(known *domain.Work, tail []eventstore.Record) (*domain.Work, error) {
	w := known.Clone()
	for _, r := range tail {
		if r.StreamSeq <= w.LastSeq {
			continue
		}
		ev, err := events.Decode(r)
		if err != nil {
			return nil, err
		}
		w.Evolve(ev, r.StreamSeq)
	}
	return w, nil
}

// foldAround folds a complaint's history and notes its status just before
// the cause: what a reaction decides on.
func foldAround(history []eventstore.Record, cause *complaintv1.Event) (*domain.Work, domain.Status, error) {
	w := &domain.Work{}
	before := domain.StatusNone
	for _, r := range history {
		ev, err := events.Decode(r)
		if err != nil {
			return nil, before, err
		}
		if ev.GetEventId() == cause.GetEventId() {
			before = w.Status
		}
		w.Evolve(ev, r.StreamSeq)
	}
	return w, before, nil
}

// Expected is the complaint's sequence the reaction was decided on: its
// events follow it directly when the append lands.
func (pr *Prepared) Expected() uint64 { return pr.expected }

func (pr *Prepared) giveBack() {
	if pr.undo == nil {
		return
	}
	pr.pool.Lock()
	pr.undo()
	pr.pool.Unlock()
	pr.undo = nil
}

// AppendPrepared appends a prepared reaction expecting the sequence it was
// decided on (a prepared "nothing" is checked against the stream instead),
// and returns the events appended with their stream sequences. If it
// lands, the decision was made on exactly the history it extends, and the
// history load React makes is saved. retry reports that it
// did not land because the complaint moved on: its loads are given back and
// the caller runs React. This very reaction found stored already (a batch
// redelivered after a crash) appends and returns nothing, as React would.
func (s *Service) AppendPrepared(ctx context.Context, pr *Prepared) (out []*complaintv1.Event, seqs []uint64, retry bool, err error) {
	if len(pr.evs) == 0 {
		// Decided nothing: right only if nothing followed the state decided
		// on (a later event could call for a move); one short read says so.
		more, err := s.store.LoadAfter(ctx, pr.cause.GetComplaintId(), pr.expected)
		if err != nil {
			return nil, nil, false, fmt.Errorf("react to %s on %s: %w", events.TypeOf(pr.cause), pr.cause.GetComplaintId(), err)
		}
		return nil, nil, len(more) > 0, nil
	}
	app, err := s.store.Append(ctx, pr.cause.GetComplaintId(), pr.expected, pr.evs...)
	switch {
	case err == nil && app.Duplicate:
		// Its loads come with its events when the projection folds them.
		pr.giveBack()
		return nil, nil, false, nil
	case err == nil:
		return pr.built, app.Seqs, false, nil
	case errors.Is(err, eventstore.ErrConflict):
		pr.giveBack()
		return nil, nil, true, nil
	default:
		pr.giveBack()
		return nil, nil, false, fmt.Errorf("react to %s on %s: %w", events.TypeOf(pr.cause), pr.cause.GetComplaintId(), err)
	}
}

// ReactOn is Prepare, AppendPrepared and, when either says so, React, for one
// reaction: the steps the projection runs in rounds over a batch, one at a
// time (the redelivery test drives it).
func (s *Service) ReactOn(ctx context.Context, cause *complaintv1.Event, known *domain.Work, before domain.Status, pool *domain.Pool) ([]*complaintv1.Event, uint64, error) {
	if pr := s.Prepare(cause, known, before, pool); pr != nil {
		out, seqs, retry, err := s.AppendPrepared(ctx, pr)
		if !retry {
			var last uint64
			if len(seqs) > 0 {
				last = seqs[len(seqs)-1]
			}
			return out, last, err
		}
	}
	return s.React(ctx, cause, pool)
}

// React appends routing's reaction to cause (a stored event of another
// service, or routing's own unassignments and transfers) and returns the
// events appended. pool is the roster with current loads, shared by
// concurrent reactions: the loads of what is appended are taken in it.
func (s *Service) React(ctx context.Context, cause *complaintv1.Event, pool *domain.Pool) ([]*complaintv1.Event, uint64, error) {
	var built []*complaintv1.Event
	// The loads a decision takes are reserved in the pool at once, and given
	// back if the decision is not what ends up appended.
	var undo func()
	release := func() {
		if undo != nil {
			pool.Lock()
			undo()
			pool.Unlock()
			undo = nil
		}
	}
	recs, err := eventstore.Decide(ctx, s.store, cause.GetComplaintId(), func(history []eventstore.Record) ([]eventstore.Event, error) {
		release()
		built = nil
		w, before, err := foldAround(history, cause)
		if err != nil {
			return nil, err
		}
		pool.Lock()
		msgs := domain.React(w, before, cause, s.policy, pool)
		undo = pool.Reserve(msgs)
		pool.Unlock()
		if len(msgs) == 0 {
			return nil, nil
		}
		env := events.Envelope{ComplaintID: w.ComplaintID, ShopID: w.ShopID, Actor: systemActor, RecordedAt: s.clock.Now(),
			CorrelationID: cause.GetCorrelationId(), CausationID: cause.GetEventId()}
		// Ids derive from the cause and the state decided on: the same
		// reaction to the same state is the same event.
		salt := fmt.Sprint(w.LastSeq)
		if built, err = newEvents(env, msgs, func(i int) string { return derivedID(cause.GetEventId(), salt, i) }); err != nil {
			return nil, err
		}
		return encode(built)
	}, eventstore.DecideOptions{})
	if err != nil {
		release()
		return nil, 0, fmt.Errorf("react to %s on %s: %w", events.TypeOf(cause), cause.GetComplaintId(), err)
	}
	if len(recs) == 0 {
		release()
		return nil, 0, nil
	}
	return built, recs[len(recs)-1].StreamSeq, nil
}
