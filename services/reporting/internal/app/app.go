// Package app runs reporting's use cases: check the caller and the request,
// read the aggregates of a shop's season, build the report and render it.
package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

// Errors ports maps to gRPC codes.
var (
	ErrUnauthenticated = errors.New("no identity")
	ErrForbidden       = errors.New("forbidden")
	ErrNotFound        = errors.New("not found")
)

// Violation is one bad request field.
type Violation struct{ Field, Reason string }

// ValidationError lists every bad field at once.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Reason
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// NotFoundError names what was not found.
type NotFoundError struct{ Kind, Name string }

func (e *NotFoundError) Error() string   { return e.Kind + " " + e.Name + " not found" }
func (e *NotFoundError) Is(t error) bool { return t == ErrNotFound }

// Aggregates reads the projection.
type Aggregates interface {
	Aggregates(ctx context.Context, shop string, season int, now time.Time) (*domain.Aggregates, error)
	Overview(ctx context.Context, shop string, season int) (*domain.Aggregates, error)
}

// Readers are the roles that may read reports: management, PR, admins and BI.
var Readers = []auth.Role{auth.RoleSupervisor, auth.RolePR, auth.RoleAdmin, auth.RoleBI}

// Service builds season reports.
type Service struct {
	store  Aggregates
	policy *policy.Policy
	clock  clock.Clock
}

// New returns the service.
func New(store Aggregates, pol *policy.Policy, clk clock.Clock) *Service {
	return &Service{store: store, policy: pol, clock: clk}
}

// ReportRequest names a report.
type ReportRequest struct {
	Season   int
	ShopID   string
	Language string
}

// languages accepted, simplified and traditional Chinese tags included: the
// report itself is written in zh-CN or en.
var languages = []string{"", "zh", "zh-CN", "zh-Hans", "zh-Hant", "zh-TW", "zh-HK", "en", "en-US", "en-GB"}

// Report builds the report of a shop's season.
func (s *Service) Report(ctx context.Context, req ReportRequest) (*domain.Report, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return nil, ErrUnauthenticated
	}
	if !id.Is(Readers...) {
		return nil, fmt.Errorf("%w: role %s may not read reports", ErrForbidden, id.Role)
	}
	var vs []Violation
	if req.ShopID == "" {
		vs = append(vs, Violation{"shop_id", "is required"})
	}
	if req.Season < 2000 || req.Season > 2999 {
		vs = append(vs, Violation{"season", fmt.Sprintf("%d is not a season year (e.g. 2027)", req.Season)})
	}
	if !contains(languages, req.Language) {
		vs = append(vs, Violation{"language", fmt.Sprintf("%q: use zh-CN or en", req.Language)})
	}
	if len(vs) > 0 {
		return nil, &ValidationError{vs}
	}
	shop, ok := s.policy.Shop(req.ShopID)
	if !ok {
		return nil, &NotFoundError{"shop", req.ShopID}
	}
	if !id.InShop(req.ShopID) {
		return nil, fmt.Errorf("%w: not allowed for shop %s", ErrForbidden, req.ShopID)
	}
	season, ok, err := s.policy.SeasonFor(req.ShopID, req.Season)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &NotFoundError{"season", fmt.Sprintf("%d of shop %s", req.Season, req.ShopID)}
	}
	now := s.clock.Now()
	agg, err := s.store.Aggregates(ctx, req.ShopID, req.Season, now)
	if err != nil {
		return nil, err
	}
	in := domain.BuildInput{Shop: shop, Season: season, Now: now, Lang: req.Language, Labels: domain.Labeler{Policy: s.policy}, Agg: *agg}
	if last, ok, err := s.policy.SeasonFor(req.ShopID, req.Season-1); err == nil && ok {
		lagg, err := s.store.Overview(ctx, req.ShopID, req.Season-1)
		if err != nil {
			return nil, err
		}
		if lagg != nil {
			in.Last, in.LastSeason = lagg, &last
		}
	}
	return domain.Build(in), nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
