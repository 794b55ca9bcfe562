// Package ports serves routing's gRPC API: it turns requests into calls of the
// app layer and maps its errors to gRPC status codes with details. This is the
// only place that knows about gRPC codes.
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

	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/routing/internal/app"
	"github.com/kesu315/kesu/services/routing/internal/domain"
)

var (
	casework = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin}
	reading  = []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration}
	roster   = []auth.Role{auth.RoleSupervisor, auth.RoleAdmin}
)

// MethodRoles is the role allow-list of the API for the auth interceptor; the
// app layer checks again, with ownership, shop scope and tier caps.
var MethodRoles = map[string][]auth.Role{
	routingv1.RoutingService_ListQueue_FullMethodName:     reading,
	routingv1.RoutingService_QueueOverview_FullMethodName: reading,
	routingv1.RoutingService_GetWork_FullMethodName:       reading,
	routingv1.RoutingService_ListAgents_FullMethodName:    reading,
	routingv1.RoutingService_MyWork_FullMethodName:        casework,
	routingv1.RoutingService_Claim_FullMethodName:         casework,
	routingv1.RoutingService_Release_FullMethodName:       casework,
	routingv1.RoutingService_Transfer_FullMethodName:      casework,
	routingv1.RoutingService_Respond_FullMethodName:       casework,
	routingv1.RoutingService_MakePromise_FullMethodName:   casework,
	routingv1.RoutingService_ProposeRemedy_FullMethodName: casework,
	routingv1.RoutingService_ApproveRemedy_FullMethodName: casework,
	routingv1.RoutingService_RejectRemedy_FullMethodName:  casework,
	routingv1.RoutingService_Resolve_FullMethodName:       casework,
	routingv1.RoutingService_SetPresence_FullMethodName:   casework,
	routingv1.RoutingService_UpsertAgent_FullMethodName:   roster,
}

// Server implements kesu.routing.v1.RoutingService.
type Server struct {
	routingv1.UnimplementedRoutingServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the server.
func New(a *app.Service, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{app: a, log: log}
}

// Register adds the routing service to a gRPC server.
func Register(s grpc.ServiceRegistrar, a *app.Service, log *slog.Logger) {
	routingv1.RegisterRoutingServiceServer(s, New(a, log))
}

// ListQueue implements the RPC.
func (s *Server) ListQueue(ctx context.Context, req *routingv1.ListQueueRequest) (*routingv1.ListQueueResponse, error) {
	items, st, next, err := s.app.ListQueue(ctx, req.GetQueue(), req.GetShopId(), req.GetUnassignedOnly(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, s.status(ctx, "ListQueue", err, "queue/"+req.GetQueue())
	}
	return &routingv1.ListQueueResponse{Items: items, Stats: st, NextPageToken: next}, nil
}

// QueueOverview implements the RPC.
func (s *Server) QueueOverview(ctx context.Context, req *routingv1.QueueOverviewRequest) (*routingv1.QueueOverviewResponse, error) {
	qs, err := s.app.QueueOverview(ctx, req.GetShopId())
	if err != nil {
		return nil, s.status(ctx, "QueueOverview", err, "")
	}
	return &routingv1.QueueOverviewResponse{Queues: qs}, nil
}

// MyWork implements the RPC.
func (s *Server) MyWork(ctx context.Context, req *routingv1.MyWorkRequest) (*routingv1.MyWorkResponse, error) {
	items, next, err := s.app.MyWork(ctx, req.GetAgentId(), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, s.status(ctx, "MyWork", err, "agent/"+req.GetAgentId())
	}
	return &routingv1.MyWorkResponse{Items: items, NextPageToken: next}, nil
}

// GetWork implements the RPC.
func (s *Server) GetWork(ctx context.Context, req *routingv1.GetWorkRequest) (*routingv1.GetWorkResponse, error) {
	it, err := s.app.GetWork(ctx, req.GetComplaintId())
	if err != nil {
		return nil, s.status(ctx, "GetWork", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.GetWorkResponse{Item: it}, nil
}

// Claim implements the RPC.
func (s *Server) Claim(ctx context.Context, req *routingv1.ClaimRequest) (*routingv1.ClaimResponse, error) {
	r, err := s.app.Claim(ctx, req.GetComplaintId(), req.GetAgentId())
	if err != nil {
		return nil, s.status(ctx, "Claim", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.ClaimResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// Release implements the RPC.
func (s *Server) Release(ctx context.Context, req *routingv1.ReleaseRequest) (*routingv1.ReleaseResponse, error) {
	r, err := s.app.Release(ctx, req.GetComplaintId(), req.GetReason())
	if err != nil {
		return nil, s.status(ctx, "Release", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.ReleaseResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// Transfer implements the RPC.
func (s *Server) Transfer(ctx context.Context, req *routingv1.TransferRequest) (*routingv1.TransferResponse, error) {
	r, err := s.app.Transfer(ctx, req.GetComplaintId(), req.GetToAgentId(), req.GetToQueue(), req.GetReason())
	if err != nil {
		return nil, s.status(ctx, "Transfer", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.TransferResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// Respond implements the RPC.
func (s *Server) Respond(ctx context.Context, req *routingv1.RespondRequest) (*routingv1.RespondResponse, error) {
	r, ev, err := s.app.Respond(ctx, req.GetComplaintId(), req.GetChannel())
	if err != nil {
		return nil, s.status(ctx, "Respond", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.RespondResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq, FirstResponse: ev.GetFirstResponse(),
		ResponseSeconds: ev.GetResponseSeconds()}, nil
}

// MakePromise implements the RPC.
func (s *Server) MakePromise(ctx context.Context, req *routingv1.MakePromiseRequest) (*routingv1.MakePromiseResponse, error) {
	var v grpcerr.Violations
	if req.GetDueAt() != nil {
		if err := req.GetDueAt().CheckValid(); err != nil {
			v.Add("due_at", err.Error())
		}
	}
	if req.GetWithin() != nil {
		if err := req.GetWithin().CheckValid(); err != nil || req.GetWithin().AsDuration() <= 0 {
			v.Add("within", "must be a positive duration")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var due time.Time
	if req.GetDueAt() != nil {
		due = req.GetDueAt().AsTime()
	}
	r, p, err := s.app.MakePromise(ctx, req.GetComplaintId(), req.GetDescription(), due, req.GetWithin().AsDuration())
	if err != nil {
		return nil, s.status(ctx, "MakePromise", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.MakePromiseResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq, PromiseId: p.GetPromiseId(), DueAt: p.GetDueAt()}, nil
}

// ProposeRemedy implements the RPC.
func (s *Server) ProposeRemedy(ctx context.Context, req *routingv1.ProposeRemedyRequest) (*routingv1.ProposeRemedyResponse, error) {
	r, id, approved, err := s.app.ProposeRemedy(ctx, req.GetComplaintId(), req.GetKind(), req.GetAmountFen(), req.GetNote())
	if err != nil {
		return nil, s.status(ctx, "ProposeRemedy", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.ProposeRemedyResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq, RemedyId: id, Approved: approved}, nil
}

// ApproveRemedy implements the RPC.
func (s *Server) ApproveRemedy(ctx context.Context, req *routingv1.ApproveRemedyRequest) (*routingv1.ApproveRemedyResponse, error) {
	r, err := s.app.ApproveRemedy(ctx, req.GetComplaintId(), req.GetRemedyId())
	if err != nil {
		return nil, s.status(ctx, "ApproveRemedy", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.ApproveRemedyResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// RejectRemedy implements the RPC.
func (s *Server) RejectRemedy(ctx context.Context, req *routingv1.RejectRemedyRequest) (*routingv1.RejectRemedyResponse, error) {
	r, err := s.app.RejectRemedy(ctx, req.GetComplaintId(), req.GetRemedyId(), req.GetReason())
	if err != nil {
		return nil, s.status(ctx, "RejectRemedy", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.RejectRemedyResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// Resolve implements the RPC.
func (s *Server) Resolve(ctx context.Context, req *routingv1.ResolveRequest) (*routingv1.ResolveResponse, error) {
	r, err := s.app.Resolve(ctx, req.GetComplaintId(), req.GetOutcome(), req.GetRemedyId(), req.GetSummary(), req.GetRetention())
	if err != nil {
		return nil, s.status(ctx, "Resolve", err, "complaint/"+req.GetComplaintId())
	}
	return &routingv1.ResolveResponse{ComplaintId: r.ComplaintID, StreamSequence: r.Seq}, nil
}

// UpsertAgent implements the RPC.
func (s *Server) UpsertAgent(ctx context.Context, req *routingv1.UpsertAgentRequest) (*routingv1.UpsertAgentResponse, error) {
	in := req.GetAgent()
	a, err := s.app.UpsertAgent(ctx, &domain.Agent{ID: in.GetAgentId(), Name: in.GetName(), Tier: int(in.GetTier()),
		Skills: in.GetSkills(), Capacity: int(in.GetCapacity()), Shops: in.GetShops()})
	if err != nil {
		return nil, s.status(ctx, "UpsertAgent", err, "agent/"+in.GetAgentId())
	}
	return &routingv1.UpsertAgentResponse{Agent: AgentMsg(a)}, nil
}

// SetPresence implements the RPC.
func (s *Server) SetPresence(ctx context.Context, req *routingv1.SetPresenceRequest) (*routingv1.SetPresenceResponse, error) {
	a, err := s.app.SetPresence(ctx, req.GetAgentId(), domain.Presence(req.GetPresence()))
	if err != nil {
		return nil, s.status(ctx, "SetPresence", err, "agent/"+req.GetAgentId())
	}
	return &routingv1.SetPresenceResponse{Agent: AgentMsg(a)}, nil
}

// ListAgents implements the RPC.
func (s *Server) ListAgents(ctx context.Context, req *routingv1.ListAgentsRequest) (*routingv1.ListAgentsResponse, error) {
	list, err := s.app.ListAgents(ctx, req.GetQueue(), domain.Presence(req.GetPresence()))
	if err != nil {
		return nil, s.status(ctx, "ListAgents", err, "")
	}
	out := &routingv1.ListAgentsResponse{}
	for _, a := range list {
		out.Agents = append(out.Agents, AgentMsg(a))
	}
	return out, nil
}

// AgentMsg renders an agent.
func AgentMsg(a *domain.Agent) *routingv1.Agent {
	return &routingv1.Agent{AgentId: a.ID, Name: a.Name, Tier: int32(a.Tier), Skills: a.Skills, Capacity: int32(a.Capacity),
		Presence: routingv1.Presence(a.Presence), PresenceSince: timestamppb.New(a.PresenceSince), Load: int32(a.Load), Shops: a.Shops}
}

func (s *Server) status(ctx context.Context, method string, err error, subject string) error {
	var (
		verr *domain.ValidationError
		serr *domain.StateError
		perr *domain.PermissionError
		nerr *domain.NotFoundError
	)
	switch {
	case errors.As(err, &verr):
		var v grpcerr.Violations
		for _, fv := range verr.Violations {
			v.Add(fv.Field, fv.Reason)
		}
		return v.Err()
	case errors.Is(err, app.ErrBadToken):
		return grpcerr.InvalidArgument("page_token", "not a token this service issued")
	case errors.Is(err, app.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	case errors.Is(err, app.ErrForbidden):
		return grpcerr.PermissionDenied("FORBIDDEN", err.Error())
	case errors.As(err, &perr):
		return grpcerr.PermissionDenied(perr.Reason, perr.Msg)
	case errors.As(err, &serr):
		return grpcerr.FailedPrecondition(serr.Kind, subject, serr.Msg)
	case errors.As(err, &nerr):
		return grpcerr.NotFound(nerr.Kind, nerr.Name)
	case errors.Is(err, domain.ErrNotFound):
		return grpcerr.NotFound("complaint", subject)
	case errors.Is(err, eventstore.ErrConflict):
		return grpcerr.Aborted("CONFLICT", "the complaint changed concurrently; retry")
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.Unavailable, "event store unavailable; retry")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	s.log.ErrorContext(ctx, "routing call failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
