// Package ports serves followup's gRPC API: requests become commands, the
// app layer runs them, and its errors become gRPC status codes with details.
package ports

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/app"
	"github.com/kesu315/kesu/services/followup/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/grpcerr"
)

// MethodRoles is the role allow-list for the auth interceptor; the app layer
// checks again, with shop scope.
var MethodRoles = map[string][]auth.Role{
	followupv1.FollowUpService_FollowUpQueue_FullMethodName:      app.ReadRoles,
	followupv1.FollowUpService_GetFollowUp_FullMethodName:        app.ReadRoles,
	followupv1.FollowUpService_RecordAttempt_FullMethodName:      app.AttemptRoles,
	followupv1.FollowUpService_RecordSatisfaction_FullMethodName: app.SatisfactionRoles,
	followupv1.FollowUpService_Reopen_FullMethodName:             app.ManualRoles,
	followupv1.FollowUpService_Close_FullMethodName:              app.ManualRoles,
	followupv1.FollowUpService_Sweep_FullMethodName:              app.ReportRoles,
	followupv1.FollowUpService_Retention_FullMethodName:          app.ReportRoles,
}

// Server implements kesu.followup.v1.FollowUpService.
type Server struct {
	followupv1.UnimplementedFollowUpServiceServer
	app *app.Service
	log *slog.Logger
}

// NewServer returns the API over the app layer.
func NewServer(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

// Register adds the service to a gRPC server.
func Register(s grpc.ServiceRegistrar, a *app.Service, log *slog.Logger) {
	followupv1.RegisterFollowUpServiceServer(s, NewServer(a, log))
}

func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// FollowUpQueue implements the RPC.
func (s *Server) FollowUpQueue(ctx context.Context, req *followupv1.FollowUpQueueRequest) (*followupv1.FollowUpQueueResponse, error) {
	q := app.QueueQuery{ShopID: req.GetShopId(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	if req.GetDueBefore() != nil {
		if err := req.GetDueBefore().CheckValid(); err != nil {
			return nil, grpcerr.InvalidArgument("due_before", err.Error())
		}
		q.DueBefore = req.GetDueBefore().AsTime()
	}
	list, next, err := s.app.Queue(ctx, q)
	if err != nil {
		return nil, s.status(ctx, "FollowUpQueue", err, req.GetShopId())
	}
	return &followupv1.FollowUpQueueResponse{FollowUps: list, NextPageToken: next}, nil
}

// GetFollowUp implements the RPC.
func (s *Server) GetFollowUp(ctx context.Context, req *followupv1.GetFollowUpRequest) (*followupv1.GetFollowUpResponse, error) {
	if req.GetComplaintId() == "" {
		return nil, grpcerr.InvalidArgument("complaint_id", "is required")
	}
	v, err := s.app.GetFollowUp(ctx, req.GetComplaintId())
	if err != nil {
		return nil, s.status(ctx, "GetFollowUp", err, req.GetComplaintId())
	}
	return &followupv1.GetFollowUpResponse{FollowUp: v}, nil
}

func answer(a *followupv1.Answer) *domain.Answer {
	if a == nil {
		return nil
	}
	return &domain.Answer{Satisfaction: a.GetSatisfaction(), Score: int(a.GetScore()), Comment: a.GetComment(), Retention: a.GetRetention()}
}

// RecordAttempt implements the RPC.
func (s *Server) RecordAttempt(ctx context.Context, req *followupv1.RecordAttemptRequest) (*followupv1.RecordAttemptResponse, error) {
	if req.GetComplaintId() == "" {
		return nil, grpcerr.InvalidArgument("complaint_id", "is required")
	}
	res, err := s.app.RecordAttempt(ctx, req.GetComplaintId(), &domain.Attempt{
		FollowUpID: req.GetFollowUpId(), Attempt: int(req.GetAttempt()), Outcome: req.GetOutcome(),
		Channel: req.GetChannel(), Answer: answer(req.GetAnswer()),
	})
	if err != nil {
		return nil, s.status(ctx, "RecordAttempt", err, req.GetComplaintId())
	}
	return &followupv1.RecordAttemptResponse{Attempt: int32(res.Attempt), Outcome: res.Outcome,
		NextAttemptAt: tsOrNil(res.NextAttemptAt), Seq: res.Seq}, nil
}

// RecordSatisfaction implements the RPC.
func (s *Server) RecordSatisfaction(ctx context.Context, req *followupv1.RecordSatisfactionRequest) (*followupv1.RecordSatisfactionResponse, error) {
	if req.GetComplaintId() == "" {
		return nil, grpcerr.InvalidArgument("complaint_id", "is required")
	}
	cmd := &app.SatisfactionCmd{ComplaintID: req.GetComplaintId(), Satisfaction: domain.Satisfaction{
		Survey: req.GetSurvey(), Answer: answer(req.GetAnswer()), Channel: req.GetChannel()}}
	res, err := s.app.RecordSatisfaction(ctx, cmd)
	if err != nil {
		return nil, s.status(ctx, "RecordSatisfaction", err, req.GetComplaintId())
	}
	return &followupv1.RecordSatisfactionResponse{Outcome: res.Outcome, Created: res.Created, Satisfaction: res.Satisfaction, Seq: res.Seq}, nil
}

// Reopen implements the RPC.
func (s *Server) Reopen(ctx context.Context, req *followupv1.ReopenRequest) (*followupv1.ReopenResponse, error) {
	if req.GetComplaintId() == "" {
		return nil, grpcerr.InvalidArgument("complaint_id", "is required")
	}
	seq, err := s.app.Reopen(ctx, req.GetComplaintId(), req.GetReason())
	if err != nil {
		return nil, s.status(ctx, "Reopen", err, req.GetComplaintId())
	}
	return &followupv1.ReopenResponse{Seq: seq}, nil
}

// Close implements the RPC.
func (s *Server) Close(ctx context.Context, req *followupv1.CloseRequest) (*followupv1.CloseResponse, error) {
	if req.GetComplaintId() == "" {
		return nil, grpcerr.InvalidArgument("complaint_id", "is required")
	}
	seq, err := s.app.Close(ctx, req.GetComplaintId(), req.GetNote())
	if err != nil {
		return nil, s.status(ctx, "Close", err, req.GetComplaintId())
	}
	return &followupv1.CloseResponse{Seq: seq}, nil
}

// Sweep implements the RPC.
func (s *Server) Sweep(ctx context.Context, req *followupv1.SweepRequest) (*followupv1.SweepResponse, error) {
	if req.GetSeason() == 0 {
		return nil, grpcerr.InvalidArgument("season", "is required (the season's year, e.g. 2027)")
	}
	res, err := s.app.Sweep(ctx, req.GetShopId(), int(req.GetSeason()))
	if err != nil {
		return nil, s.status(ctx, "Sweep", err, req.GetShopId())
	}
	return res, nil
}

// Retention implements the RPC.
func (s *Server) Retention(ctx context.Context, req *followupv1.RetentionRequest) (*followupv1.RetentionResponse, error) {
	res, err := s.app.Retention(ctx, req.GetShopId(), int(req.GetSeason()))
	if err != nil {
		return nil, s.status(ctx, "Retention", err, req.GetShopId())
	}
	return res, nil
}

func (s *Server) status(ctx context.Context, method string, err error, subject string) error {
	var verr *domain.ValidationError
	switch {
	case errors.As(err, &verr):
		var v grpcerr.Violations
		for _, fv := range verr.Violations {
			v.Add(fv.Field, fv.Reason)
		}
		return v.Err()
	case errors.Is(err, app.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	case errors.Is(err, app.ErrForbidden):
		return grpcerr.PermissionDenied("FORBIDDEN", err.Error())
	case errors.Is(err, domain.ErrNotFound):
		return grpcerr.NotFound("complaint", subject)
	case errors.Is(err, domain.ErrSurveyReused):
		return grpcerr.FailedPrecondition("SURVEY_REUSED", "survey", err.Error())
	case errors.Is(err, domain.ErrNotResolved), errors.Is(err, domain.ErrNotCurrent), errors.Is(err, domain.ErrFollowUpEnded),
		errors.Is(err, domain.ErrStaleAttempt), errors.Is(err, domain.ErrAlreadyClosed), errors.Is(err, domain.ErrNotReopenable):
		return grpcerr.FailedPrecondition("STATE", "complaint/"+subject, err.Error())
	case errors.Is(err, eventstore.ErrConflict):
		return grpcerr.Aborted("CONFLICT", "the complaint changed concurrently; retry")
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.Unavailable, "event store unavailable; retry")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	s.log.ErrorContext(ctx, "followup call failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
