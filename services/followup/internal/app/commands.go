package app

import (
	"context"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/followup/internal/domain"
	"github.com/kesu315/kesu/services/kit/events"
)

// AttemptResult is what RecordAttempt did.
type AttemptResult struct {
	domain.Result
	Seq uint64
}

// RecordAttempt records a follow-up call attempt by the calling agent.
func (s *Service) RecordAttempt(ctx context.Context, complaintID string, cmd *domain.Attempt) (AttemptResult, error) {
	id, err := identity(ctx, AttemptRoles)
	if err != nil {
		return AttemptResult{}, err
	}
	if err := cmd.Validate(s.policy.FollowUp.Satisfaction); err != nil {
		return AttemptResult{}, err
	}
	c, err := s.shopScoped(ctx, id, complaintID)
	if err != nil {
		return AttemptResult{}, err
	}
	if err := s.seal(ctx, c, cmd.Answer); err != nil {
		return AttemptResult{}, err
	}
	cmd.AgentID = id.Subject
	if cmd.Channel == complaintv1.Channel_CHANNEL_UNSPECIFIED {
		cmd.Channel = complaintv1.Channel_CHANNEL_HOTLINE_400 // a call, unless told otherwise
	}
	var res domain.Result
	recs, err := s.decide(ctx, complaintID, env{actor: events.ActorOf(id)}, func(c *domain.Complaint, _ []domain.Event, now time.Time) ([]domain.Out, error) {
		outs, r, err := domain.DecideAttempt(c, cmd, s.policy.FollowUp, now)
		res = r
		return outs, err
	})
	if err != nil {
		return AttemptResult{}, err
	}
	return AttemptResult{Result: res, Seq: lastSeq(recs)}, nil
}

// SatisfactionCmd is a satisfaction answer for a complaint.
type SatisfactionCmd struct {
	ComplaintID string
	domain.Satisfaction
	// OccurredAt is when the customer answered (zero: now).
	OccurredAt time.Time
	// Correlation ties the events to an inbound message.
	Correlation string
}

// RecordSatisfaction records an answer from a call or a survey; a repeat of
// a recorded survey appends nothing and reports Created = false.
func (s *Service) RecordSatisfaction(ctx context.Context, cmd *SatisfactionCmd) (AttemptResult, error) {
	id, err := identity(ctx, SatisfactionRoles)
	if err != nil {
		return AttemptResult{}, err
	}
	if err := cmd.Validate(s.policy.FollowUp.Satisfaction); err != nil {
		return AttemptResult{}, err
	}
	c, err := s.shopScoped(ctx, id, cmd.ComplaintID)
	if err != nil {
		return AttemptResult{}, err
	}
	if _, seen := c.Surveys[domain.SurveyKey(cmd.Survey)]; !seen {
		if err := s.seal(ctx, c, cmd.Answer); err != nil {
			return AttemptResult{}, err
		}
	}
	var res domain.Result
	recs, err := s.decide(ctx, cmd.ComplaintID, env{actor: events.ActorOf(id), correlation: cmd.Correlation, occurred: cmd.OccurredAt},
		func(c *domain.Complaint, _ []domain.Event, now time.Time) ([]domain.Out, error) {
			outs, r, err := domain.DecideSatisfaction(c, &cmd.Satisfaction, s.policy.FollowUp, now)
			res = r
			return outs, err
		})
	if err != nil {
		return AttemptResult{}, err
	}
	return AttemptResult{Result: res, Seq: lastSeq(recs)}, nil
}

// Reopen reopens a resolved or closed complaint by hand.
func (s *Service) Reopen(ctx context.Context, complaintID, reason string) (uint64, error) {
	id, err := identity(ctx, ManualRoles)
	if err != nil {
		return 0, err
	}
	if _, err := domain.DecideReopen(&domain.Complaint{Filed: true, Status: domain.StatusResolved}, reason); err != nil {
		return 0, err // the reason is checked before anything is loaded
	}
	if _, err := s.shopScoped(ctx, id, complaintID); err != nil {
		return 0, err
	}
	recs, err := s.decide(ctx, complaintID, env{actor: events.ActorOf(id)}, func(c *domain.Complaint, _ []domain.Event, _ time.Time) ([]domain.Out, error) {
		return domain.DecideReopen(c, reason)
	})
	return lastSeq(recs), err
}

// Close closes a resolved complaint by hand.
func (s *Service) Close(ctx context.Context, complaintID, note string) (uint64, error) {
	id, err := identity(ctx, ManualRoles)
	if err != nil {
		return 0, err
	}
	if _, err := domain.DecideClose(&domain.Complaint{Filed: true, Status: domain.StatusResolved}, note); err != nil {
		return 0, err
	}
	if _, err := s.shopScoped(ctx, id, complaintID); err != nil {
		return 0, err
	}
	recs, err := s.decide(ctx, complaintID, env{actor: events.ActorOf(id)}, func(c *domain.Complaint, _ []domain.Event, _ time.Time) ([]domain.Out, error) {
		return domain.DecideClose(c, note)
	})
	return lastSeq(recs), err
}

// Schedule reacts to a resolution: it schedules the follow-up once.
func (s *Service) Schedule(ctx context.Context, complaintID, resolutionID string) error {
	_, err := s.decide(ctx, complaintID, env{actor: systemActor, correlation: resolutionID}, func(c *domain.Complaint, _ []domain.Event, _ time.Time) ([]domain.Out, error) {
		return domain.DecideSchedule(c, s.policy.FollowUp, ""), nil
	})
	return err
}

// ReopenOnContact reacts to a contact on a resolved or closed complaint.
func (s *Service) ReopenOnContact(ctx context.Context, complaintID, contactID string) error {
	_, err := s.decide(ctx, complaintID, env{actor: systemActor, correlation: contactID}, func(_ *domain.Complaint, evs []domain.Event, _ time.Time) ([]domain.Out, error) {
		return domain.DecideReopenOnContact(evs, contactID, s.policy.FollowUp), nil
	})
	return err
}

// CloseNoAnswer closes a complaint whose last attempt's grace ran out.
func (s *Service) CloseNoAnswer(ctx context.Context, complaintID, followUpID string) error {
	_, err := s.decide(ctx, complaintID, env{actor: systemActor, correlation: followUpID}, func(c *domain.Complaint, _ []domain.Event, now time.Time) ([]domain.Out, error) {
		return domain.DecideCloseNoAnswer(c, followUpID, now), nil
	})
	return err
}

// EraseCustomer destroys followup's own key of a customer erased at intake,
// so the comments sealed with it can no longer be read.
func (s *Service) EraseCustomer(ctx context.Context, shopID, customerRef string) error {
	_, err := s.keys.Erase(ctx, shopID, customerRef)
	return err
}
