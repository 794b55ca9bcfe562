// Package ports serves reporting's gRPC API and maps app errors to gRPC
// status codes; it is the only place that knows them.
package ports

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcerr"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/app"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
	"github.com/kesu315/kesu/services/reporting/internal/render"
)

// MethodRoles is the role allow-list of the API; the app checks shop scope.
var MethodRoles = map[string][]auth.Role{
	reportingv1.ReportingService_GetSeasonReport_FullMethodName:    app.Readers,
	reportingv1.ReportingService_ExportSeasonReport_FullMethodName: app.Readers,
}

// Server implements kesu.reporting.v1.ReportingService.
type Server struct {
	reportingv1.UnimplementedReportingServiceServer
	app    *app.Service
	labels domain.Labeler
	log    *slog.Logger
}

// Register adds the service to a gRPC server.
func Register(s grpc.ServiceRegistrar, a *app.Service, pol *policy.Policy, log *slog.Logger) {
	reportingv1.RegisterReportingServiceServer(s, &Server{app: a, labels: domain.Labeler{Policy: pol}, log: log})
}

// GetSeasonReport implements the RPC.
func (s *Server) GetSeasonReport(ctx context.Context, req *reportingv1.GetSeasonReportRequest) (*reportingv1.GetSeasonReportResponse, error) {
	r, err := s.app.Report(ctx, app.ReportRequest{Season: int(req.GetSeason()), ShopID: req.GetShopId(), Language: req.GetLanguage()})
	if err != nil {
		return nil, s.status(ctx, "GetSeasonReport", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, s.status(ctx, "GetSeasonReport", err)
	}
	st := &structpb.Struct{}
	if err := st.UnmarshalJSON(b); err != nil {
		return nil, s.status(ctx, "GetSeasonReport", err)
	}
	return &reportingv1.GetSeasonReportResponse{Report: st}, nil
}

var formats = map[reportingv1.ReportFormat]string{
	reportingv1.ReportFormat_REPORT_FORMAT_JSON: render.FormatJSON,
	reportingv1.ReportFormat_REPORT_FORMAT_HTML: render.FormatHTML,
	reportingv1.ReportFormat_REPORT_FORMAT_XLSX: render.FormatXLSX,
	reportingv1.ReportFormat_REPORT_FORMAT_CSV:  render.FormatCSV,
}

// ExportSeasonReport implements the RPC.
func (s *Server) ExportSeasonReport(ctx context.Context, req *reportingv1.ExportSeasonReportRequest) (*reportingv1.ExportSeasonReportResponse, error) {
	format, ok := formats[req.GetFormat()]
	if !ok {
		return nil, grpcerr.InvalidArgument("format", "must be one of REPORT_FORMAT_JSON, _HTML, _XLSX, _CSV")
	}
	r, err := s.app.Report(ctx, app.ReportRequest{Season: int(req.GetSeason()), ShopID: req.GetShopId(), Language: req.GetLanguage()})
	if err != nil {
		return nil, s.status(ctx, "ExportSeasonReport", err)
	}
	f, err := render.Render(r, format, s.labels)
	if err != nil {
		return nil, s.status(ctx, "ExportSeasonReport", err)
	}
	return &reportingv1.ExportSeasonReportResponse{ContentType: f.ContentType, FileName: f.Name, Content: f.Content}, nil
}

func (s *Server) status(ctx context.Context, method string, err error) error {
	var verr *app.ValidationError
	var nf *app.NotFoundError
	switch {
	case errors.As(err, &verr):
		var v grpcerr.Violations
		for _, fv := range verr.Violations {
			v.Add(fv.Field, fv.Reason)
		}
		return v.Err()
	case errors.As(err, &nf):
		return grpcerr.NotFound(nf.Kind, nf.Name)
	case errors.Is(err, app.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, "a bearer token is required")
	case errors.Is(err, app.ErrForbidden):
		return grpcerr.PermissionDenied("FORBIDDEN", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "canceled")
	}
	s.log.ErrorContext(ctx, "reporting call failed", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}
