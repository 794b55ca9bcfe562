// Package ports serves intake's gRPC API: it turns requests into commands, calls
// the app layer and maps its errors to gRPC status codes with details. This is
// the only place that knows about gRPC codes (DESIGN.md §11).
package ports

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/grpcerr"
)

// MethodRoles is the role allow-list of the API for the auth interceptor; the
// app layer checks again, with shop scope and personal-data rights.
var MethodRoles = map[string][]auth.Role{
	intakev1.IntakeService_FileComplaint_FullMethodName:  {auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_GetComplaint_FullMethodName:   {auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_Timeline_FullMethodName:       {auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_AddContact_FullMethodName:     {auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_AttachEvidence_FullMethodName: {auth.RoleAgent, auth.RoleSupervisor, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_FindComplaints_FullMethodName: {auth.RoleAgent, auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleIntegration},
	intakev1.IntakeService_EraseCustomer_FullMethodName:  {auth.RoleAdmin},
}

// Server implements kesu.intake.v1.IntakeService.
type Server struct {
	intakev1.UnimplementedIntakeServiceServer
	app *app.Service
	log *slog.Logger
}

// Register adds the intake service to a gRPC server.
func Register(s grpc.ServiceRegistrar, a *app.Service, log *slog.Logger) {
	intakev1.RegisterIntakeServiceServer(s, &Server{app: a, log: log})
}

// FileComplaint implements the RPC.
func (s *Server) FileComplaint(ctx context.Context, req *intakev1.FileComplaintRequest) (*intakev1.FileComplaintResponse, error) {
	cmd := &domain.FileComplaint{
		ClientRequestID: req.GetClientRequestId(),
		ShopID:          req.GetShopId(),
		Channel:         req.GetChannel(),
		CustomerRef:     req.GetCustomer().GetCustomerRef(),
		Personal: &complaintv1.PersonalData{
			Name: req.GetCustomer().GetName(), Phone: req.GetCustomer().GetPhone(),
			Email: req.GetCustomer().GetEmail(), Address: req.GetCustomer().GetAddress(),
			Text: req.GetDescription(),
		},
		OrderID:          req.GetOrderId(),
		Items:            req.GetItems(),
		OrderAmountFen:   req.GetOrderAmountFen(),
		ClaimedAmountFen: req.GetClaimedAmountFen(),
		ExternalRef:      req.GetExternalRef(),
		ChannelDetails:   req.GetChannelDetails(),
		Complainant:      req.GetComplainant(),
		CustomerType:     req.GetCustomerType(),
		ExpectedRemedies: req.GetExpectedRemedies(),
		Language:         req.GetLanguage(),
	}
	if req.GetOccurredAt() != nil {
		if err := req.GetOccurredAt().CheckValid(); err != nil {
			return nil, grpcerr.InvalidArgument("occurred_at", err.Error())
		}
		cmd.OccurredAt = req.GetOccurredAt().AsTime()
	}
	res, err := s.app.FileComplaint(ctx, cmd)
	if err != nil {
		return nil, s.status(ctx, "FileComplaint", err)
	}
	return &intakev1.FileComplaintResponse{ComplaintId: res.ComplaintID, Created: res.Created, StreamSequence: res.Seq,
		Folded: res.Folded, ContactNumber: int32(res.ContactNumber), Classification: res.Classification}, nil
}

// AddContact implements the RPC.
func (s *Server) AddContact(ctx context.Context, req *intakev1.AddContactRequest) (*intakev1.AddContactResponse, error) {
	cmd := &domain.AddContact{
		ClientRequestID: req.GetClientRequestId(), ComplaintID: req.GetComplaintId(), Channel: req.GetChannel(),
		Personal:    &complaintv1.PersonalData{Text: req.GetMessage()},
		ExternalRef: req.GetExternalRef(), ChannelDetails: req.GetChannelDetails(),
	}
	if req.GetOccurredAt() != nil {
		if err := req.GetOccurredAt().CheckValid(); err != nil {
			return nil, grpcerr.InvalidArgument("occurred_at", err.Error())
		}
		cmd.OccurredAt = req.GetOccurredAt().AsTime()
	}
	res, err := s.app.AddContact(ctx, cmd)
	if err != nil {
		return nil, s.status(ctx, "AddContact", err, req.GetComplaintId())
	}
	return &intakev1.AddContactResponse{ComplaintId: res.ComplaintID, ContactNumber: int32(res.ContactNumber),
		StreamSequence: res.Seq, Created: res.Created, Classification: res.Classification}, nil
}

// AttachEvidence implements the RPC.
func (s *Server) AttachEvidence(ctx context.Context, req *intakev1.AttachEvidenceRequest) (*intakev1.AttachEvidenceResponse, error) {
	res, err := s.app.AttachEvidence(ctx, &domain.AttachEvidence{
		ClientRequestID: req.GetClientRequestId(), ComplaintID: req.GetComplaintId(), Kind: req.GetKind(),
		MediaType: req.GetMediaType(), SizeBytes: req.GetSizeBytes(), SHA256: req.GetSha256(),
		StorageURI: req.GetStorageUri(), FileName: req.GetFileName(), Caption: req.GetCaption(),
	})
	if err != nil {
		return nil, s.status(ctx, "AttachEvidence", err, req.GetComplaintId())
	}
	return &intakev1.AttachEvidenceResponse{ComplaintId: res.ComplaintID, EvidenceId: res.EvidenceID,
		StreamSequence: res.Seq, Created: res.Created}, nil
}

// FindComplaints implements the RPC.
func (s *Server) FindComplaints(ctx context.Context, req *intakev1.FindComplaintsRequest) (*intakev1.FindComplaintsResponse, error) {
	q := app.Query{
		ShopID: req.GetShopId(), CustomerRef: req.GetCustomerRef(), OrderID: req.GetOrderId(),
		ExternalRef: req.GetExternalRef(), Status: req.GetStatus(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(),
	}
	for field, ts := range map[string]*timestamppb.Timestamp{"filed_from": req.GetFiledFrom(), "filed_to": req.GetFiledTo()} {
		if ts == nil {
			continue
		}
		if err := ts.CheckValid(); err != nil {
			return nil, grpcerr.InvalidArgument(field, err.Error())
		}
	}
	if req.GetFiledFrom() != nil {
		q.FiledFrom = req.GetFiledFrom().AsTime()
	}
	if req.GetFiledTo() != nil {
		q.FiledTo = req.GetFiledTo().AsTime()
	}
	list, next, err := s.app.FindComplaints(ctx, q, req.GetPhone())
	if err != nil {
		return nil, s.status(ctx, "FindComplaints", err)
	}
	return &intakev1.FindComplaintsResponse{Complaints: list, NextPageToken: next}, nil
}

// EraseCustomer implements the RPC.
func (s *Server) EraseCustomer(ctx context.Context, req *intakev1.EraseCustomerRequest) (*intakev1.EraseCustomerResponse, error) {
	res, err := s.app.EraseCustomer(ctx, req.GetShopId(), req.GetCustomerRef(), req.GetPhone(), req.GetReason())
	if err != nil {
		return nil, s.status(ctx, "EraseCustomer", err)
	}
	return &intakev1.EraseCustomerResponse{CustomerRef: res.CustomerRef, ComplaintsUpdated: int32(res.Updated)}, nil
}

// GetComplaint implements the RPC.
func (s *Server) GetComplaint(ctx context.Context, req *intakev1.GetComplaintRequest) (*intakev1.GetComplaintResponse, error) {
	if err := checkComplaintID(req.GetComplaintId()); err != nil {
		return nil, err
	}
	c, err := s.app.GetComplaint(ctx, req.GetComplaintId())
	if err != nil {
		return nil, s.status(ctx, "GetComplaint", err, req.GetComplaintId())
	}
	return &intakev1.GetComplaintResponse{Complaint: c}, nil
}

// Timeline implements the RPC.
func (s *Server) Timeline(ctx context.Context, req *intakev1.TimelineRequest) (*intakev1.TimelineResponse, error) {
	if err := checkComplaintID(req.GetComplaintId()); err != nil {
		return nil, err
	}
	entries, err := s.app.Timeline(ctx, req.GetComplaintId(), domain.ParseLang(req.GetLanguage()))
	if err != nil {
		return nil, s.status(ctx, "Timeline", err, req.GetComplaintId())
	}
	out := &intakev1.TimelineResponse{Entries: make([]*intakev1.TimelineEntry, 0, len(entries))}
	for _, e := range entries {
		out.Entries = append(out.Entries, &intakev1.TimelineEntry{
			Event: e.Event, Type: e.Type, StreamSequence: e.Seq, Summary: e.Summary,
			Personal: e.Personal, PersonalDataErased: e.Erased,
		})
	}
	return out, nil
}

func first(s []string) string {
	if len(s) > 0 {
		return s[0]
	}
	return ""
}

// checkComplaintID refuses ids that are not UUIDs before they reach a subject
// name or a uuid column.
func checkComplaintID(id string) error {
	if id == "" {
		return grpcerr.InvalidArgument("complaint_id", "required")
	}
	if !domain.ValidComplaintID(id) {
		return grpcerr.InvalidArgument("complaint_id", "not a UUID: "+quoteShort(id))
	}
	return nil
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + s + "\""
}

// status maps an app or domain error to a gRPC status.
func (s *Server) status(ctx context.Context, method string, err error, subject ...string) error {
	var verr *domain.ValidationError
	switch {
	case errors.As(err, &verr):
		var v grpcerr.Violations
		for _, fv := range verr.Violations {
			v.Add(fv.Field, fv.Reason)
		}
		return v.Err()
	case errors.Is(err, app.ErrRequestReused):
		return grpcerr.InvalidArgument("client_request_id", "already used for a different complaint; use a new id for a new complaint")
	case errors.Is(err, app.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	case errors.Is(err, app.ErrForbidden):
		return grpcerr.PermissionDenied("FORBIDDEN", err.Error())
	case errors.Is(err, domain.ErrNotFound):
		return grpcerr.NotFound("complaint", first(subject))
	case errors.Is(err, domain.ErrAlreadyFiled), errors.Is(err, domain.ErrClosed):
		return grpcerr.FailedPrecondition("STATE", "complaint/"+first(subject), err.Error())
	case errors.Is(err, app.ErrCustomerErased):
		return grpcerr.FailedPrecondition("ERASED", "customer", err.Error())
	case errors.Is(err, eventstore.ErrConflict):
		return grpcerr.Aborted("CONFLICT", "the complaint changed concurrently; retry")
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.Unavailable, "event store unavailable; retry")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	s.log.ErrorContext(ctx, "intake call failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
