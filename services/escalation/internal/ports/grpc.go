// Package ports serves the escalation gRPC API: it turns requests into calls of
// the app layer and maps its errors to gRPC status codes with details. This is
// the only place that knows about gRPC codes (DESIGN.md §11).
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

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
	"github.com/kesu315/kesu/services/escalation/internal/app"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcerr"
)

// MethodRoles is the role allow-list of the API for the auth interceptor; the
// app layer checks again, with shop scope.
var MethodRoles = map[string][]auth.Role{
	escalationv1.EscalationService_GetClocks_FullMethodName:     {auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleBI},
	escalationv1.EscalationService_ListDeadlines_FullMethodName: {auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin},
	escalationv1.EscalationService_Escalate_FullMethodName:      {auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin},
	escalationv1.EscalationService_Deescalate_FullMethodName:    {auth.RoleSupervisor, auth.RoleAdmin},
	escalationv1.EscalationService_Recompute_FullMethodName:     {auth.RoleSupervisor, auth.RoleAdmin},
	escalationv1.EscalationService_WatchAlerts_FullMethodName:   {auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin},
}

// Server implements kesu.escalation.v1.EscalationService.
type Server struct {
	escalationv1.UnimplementedEscalationServiceServer
	app *app.Service
	log *slog.Logger
}

// Register adds the escalation service to a gRPC server.
func Register(s grpc.ServiceRegistrar, a *app.Service, log *slog.Logger) {
	escalationv1.RegisterEscalationServiceServer(s, &Server{app: a, log: log})
}

// GetClocks implements the RPC.
func (s *Server) GetClocks(ctx context.Context, req *escalationv1.GetClocksRequest) (*escalationv1.GetClocksResponse, error) {
	c, err := s.app.GetClocks(ctx, req.GetComplaintId())
	if err != nil {
		return nil, s.status("GetClocks", err, req.GetComplaintId())
	}
	out := &escalationv1.GetClocksResponse{LevelId: c.CurrentLevel(s.app.Policy()), Level: domain.LevelEnum(s.app.Policy(), c.LevelID)}
	for _, cl := range c.SortedClocks() {
		out.Clocks = append(out.Clocks, ClockProto(cl))
	}
	return out, nil
}

// ListDeadlines implements the RPC.
func (s *Server) ListDeadlines(ctx context.Context, req *escalationv1.ListDeadlinesRequest) (*escalationv1.ListDeadlinesResponse, error) {
	var before time.Time
	if req.GetDueBefore() != nil {
		if err := req.GetDueBefore().CheckValid(); err != nil {
			return nil, grpcerr.InvalidArgument("due_before", err.Error())
		}
		before = req.GetDueBefore().AsTime()
	}
	list, err := s.app.ListDeadlines(ctx, req.GetShopId(), before, int(req.GetPageSize()))
	if err != nil {
		return nil, s.status("ListDeadlines", err, "")
	}
	out := &escalationv1.ListDeadlinesResponse{}
	for _, cl := range list {
		out.Clocks = append(out.Clocks, ClockProto(cl))
	}
	return out, nil
}

// Escalate implements the RPC.
func (s *Server) Escalate(ctx context.Context, req *escalationv1.EscalateRequest) (*escalationv1.EscalateResponse, error) {
	res, err := s.app.Move(ctx, req.GetComplaintId(), req.GetToLevel(), true, req.GetReason())
	if err != nil {
		return nil, s.status("Escalate", err, req.GetComplaintId())
	}
	return &escalationv1.EscalateResponse{FromLevel: res.From, ToLevel: res.To, Queue: res.Queue, StreamSequence: res.Seq}, nil
}

// Deescalate implements the RPC.
func (s *Server) Deescalate(ctx context.Context, req *escalationv1.DeescalateRequest) (*escalationv1.DeescalateResponse, error) {
	res, err := s.app.Move(ctx, req.GetComplaintId(), req.GetToLevel(), false, req.GetReason())
	if err != nil {
		return nil, s.status("Deescalate", err, req.GetComplaintId())
	}
	return &escalationv1.DeescalateResponse{FromLevel: res.From, ToLevel: res.To, Queue: res.Queue, StreamSequence: res.Seq}, nil
}

// Recompute implements the RPC.
func (s *Server) Recompute(ctx context.Context, req *escalationv1.RecomputeRequest) (*escalationv1.RecomputeResponse, error) {
	res, err := s.app.Recompute(ctx, req.GetShopId(), req.GetDryRun(), req.GetPolicyYaml(), int(req.GetMaxChanges()))
	if err != nil {
		return nil, s.status("Recompute", err, "")
	}
	out := &escalationv1.RecomputeResponse{Complaints: int64(res.Complaints), Changed: int64(res.Changed), Applied: res.Applied,
		PolicyDigest: res.Digest, Skipped: int64(res.Skipped)}
	for _, ch := range res.Changes {
		dc := &escalationv1.DeadlineChange{
			DeadlineId: ch.New.ID, ComplaintId: ch.New.Complaint, Clock: domain.ClockEnum(ch.New.Clock), Key: ch.New.Key,
			NewStatus: statusEnum(ch.New.Status), NewDueAt: ts(ch.New.Due), NewWarnAt: ts(ch.New.Warn), Error: ch.New.Err,
		}
		if ch.Old != nil {
			dc.OldStatus, dc.OldDueAt, dc.OldWarnAt = statusEnum(ch.Old.Status), ts(ch.Old.Due), ts(ch.Old.Warn)
		}
		out.Changes = append(out.Changes, dc)
	}
	return out, nil
}

// WatchAlerts implements the RPC.
func (s *Server) WatchAlerts(req *escalationv1.WatchAlertsRequest, stream grpc.ServerStreamingServer[escalationv1.WatchAlertsResponse]) error {
	var since time.Time
	if req.GetSince() != nil {
		if err := req.GetSince().CheckValid(); err != nil {
			return grpcerr.InvalidArgument("since", err.Error())
		}
		since = req.GetSince().AsTime()
	}
	err := s.app.WatchAlerts(stream.Context(), req.GetShopId(), req.GetKinds(), since, func(a *alertsv1.Alert, seq uint64) error {
		return stream.Send(&escalationv1.WatchAlertsResponse{Alert: a, StreamSequence: seq})
	})
	if err != nil && stream.Context().Err() == nil {
		return s.status("WatchAlerts", err, "")
	}
	return nil
}

// ClockProto renders a clock for the API.
func ClockProto(c *domain.Clock) *escalationv1.Clock {
	return &escalationv1.Clock{
		DeadlineId: c.ID, ComplaintId: c.Complaint, ShopId: c.ShopID, Clock: domain.ClockEnum(c.Clock), Key: c.Key,
		Status: statusEnum(c.Status), Generation: c.Generation, StartedAt: ts(c.Start), TargetAt: ts(c.Target),
		WarnAt: ts(c.Warn), DueAt: ts(c.Due), Warned: c.Warned, StoppedAt: ts(c.Stopped), BreachedAt: ts(c.Breached),
		RemainingSeconds: int64(c.Remaining / time.Second), Error: c.Err, Phase: string(c.Phase),
	}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func statusEnum(s domain.ClockStatus) escalationv1.ClockStatus {
	switch s {
	case domain.ClockRunning:
		return escalationv1.ClockStatus_CLOCK_STATUS_RUNNING
	case domain.ClockPaused:
		return escalationv1.ClockStatus_CLOCK_STATUS_PAUSED
	case domain.ClockStopped:
		return escalationv1.ClockStatus_CLOCK_STATUS_STOPPED
	case domain.ClockBreached:
		return escalationv1.ClockStatus_CLOCK_STATUS_BREACHED
	case domain.ClockUnscheduled:
		return escalationv1.ClockStatus_CLOCK_STATUS_UNSCHEDULED
	}
	return escalationv1.ClockStatus_CLOCK_STATUS_UNSPECIFIED
}

func (s *Server) status(method string, err error, complaintID string) error {
	var inv *app.InvalidError
	switch {
	case errors.As(err, &inv):
		var v grpcerr.Violations
		for _, f := range inv.Fields {
			v.Add(f[0], f[1])
		}
		return v.Err()
	case errors.Is(err, app.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, app.ErrForbidden):
		return grpcerr.PermissionDenied("FORBIDDEN", err.Error())
	case errors.Is(err, domain.ErrNotFound):
		return grpcerr.NotFound("complaint", complaintID)
	case errors.Is(err, domain.ErrClosed):
		return grpcerr.FailedPrecondition("STATE", "complaint/"+complaintID, "the complaint is closed: its level can no longer change")
	case errors.Is(err, domain.ErrWrongWay), errors.Is(err, domain.ErrUnknownLevel):
		return grpcerr.FailedPrecondition("LEVEL", "complaint/"+complaintID, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	s.log.Error("request failed", "method", method, "complaint", complaintID, "err", err)
	return status.Error(codes.Internal, "internal error")
}
