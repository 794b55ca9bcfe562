package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/domain"
	"github.com/kesu315/kesu/services/kit/policy"
)

// GetFollowUp returns a complaint's follow-up from the projection.
func (s *Service) GetFollowUp(ctx context.Context, complaintID string) (*followupv1.FollowUp, error) {
	id, err := identity(ctx, ReadRoles)
	if err != nil {
		return nil, err
	}
	v, err := s.views.Get(ctx, complaintID)
	if err != nil {
		return nil, err
	}
	if !id.InShop(v.GetShopId()) {
		return nil, domain.ErrNotFound
	}
	return v, nil
}

// QueueQuery selects the follow-up queue.
type QueueQuery struct {
	ShopID    string
	DueBefore time.Time
	PageSize  int
	PageToken string
}

// Queue lists the follow-ups waiting for a call, earliest due first.
func (s *Service) Queue(ctx context.Context, q QueueQuery) ([]*followupv1.FollowUp, string, error) {
	id, err := identity(ctx, ReadRoles)
	if err != nil {
		return nil, "", err
	}
	if err := s.checkShop(id.InShop, q.ShopID); err != nil {
		return nil, "", err
	}
	if q.PageSize == 0 {
		q.PageSize = 50
	}
	if q.PageSize < 1 || q.PageSize > 500 {
		return nil, "", &domain.ValidationError{Violations: []domain.Violation{{Field: "page_size", Reason: fmt.Sprintf("must be between 1 and 500, got %d", q.PageSize)}}}
	}
	return s.views.Queue(ctx, q.ShopID, q.DueBefore, q.PageSize, q.PageToken)
}

func (s *Service) checkShop(inShop func(string) bool, shopID string) error {
	if shopID == "" {
		return &domain.ValidationError{Violations: []domain.Violation{{Field: "shop_id", Reason: "is required"}}}
	}
	if _, ok := s.policy.Shop(shopID); !ok {
		return &domain.ValidationError{Violations: []domain.Violation{{Field: "shop_id", Reason: fmt.Sprintf("unknown shop %q", shopID)}}}
	}
	if !inShop(shopID) {
		return fmt.Errorf("%w: shop %s", ErrForbidden, shopID)
	}
	return nil
}

// aftermathEnd is when a season's aftermath phase (or the season) ends.
func aftermathEnd(sea policy.Season, loc *time.Location) time.Time {
	for _, r := range sea.Phases {
		if r.Phase == policy.PhaseAftermath {
			_, end := r.Interval(loc)
			return end
		}
	}
	_, end := sea.Interval(loc)
	return end
}

// Sweep lists a season's complaints that are not closed, grouped by owner
// and escalation level, oldest first within a group.
func (s *Service) Sweep(ctx context.Context, shopID string, season int) (*followupv1.SweepResponse, error) {
	id, err := identity(ctx, ReportRoles)
	if err != nil {
		return nil, err
	}
	if err := s.checkShop(id.InShop, shopID); err != nil {
		return nil, err
	}
	return s.sweep(ctx, shopID, season)
}

func (s *Service) sweep(ctx context.Context, shopID string, season int) (*followupv1.SweepResponse, error) {
	sh, _ := s.policy.Shop(shopID)
	sea, ok, err := s.policy.SeasonFor(shopID, season)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "season", Reason: fmt.Sprintf("no season %d for shop %s", season, shopID)}}}
	}
	from, to := sea.Interval(sh.Location)
	items, err := s.views.Unclosed(ctx, shopID, from, to)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	end := aftermathEnd(sea, sh.Location)
	out := &followupv1.SweepResponse{ShopId: shopID, Season: int32(season), AftermathEnd: timestamppb.New(end),
		SecondsToEnd: int64(end.Sub(now) / time.Second), Total: int64(len(items))}
	type key struct {
		owner string
		level complaintv1.EscalationLevel
	}
	groups := map[key]*followupv1.SweepGroup{}
	for _, it := range items {
		it.Item.AgeSeconds = max(0, int64(now.Sub(it.Item.GetFiledAt().AsTime())/time.Second))
		k := key{it.Owner, it.Level}
		g := groups[k]
		if g == nil {
			g = &followupv1.SweepGroup{Owner: it.Owner, Level: it.Level}
			groups[k] = g
			out.Groups = append(out.Groups, g)
		}
		g.Items = append(g.Items, it.Item)
		g.OldestAgeSeconds = max(g.OldestAgeSeconds, it.Item.AgeSeconds)
	}
	// Highest level first (PR before agent), then the busiest owner; the
	// unowned group last within a level so named people come first.
	sort.SliceStable(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		if (a.Owner == "") != (b.Owner == "") {
			return b.Owner == ""
		}
		if len(a.Items) != len(b.Items) {
			return len(a.Items) > len(b.Items)
		}
		return a.Owner < b.Owner
	})
	out.EndNear = out.Total > 0 && now.Before(end) && !now.Before(end.Add(-s.policy.FollowUp.SweepAlertBefore))
	return out, nil
}

// Retention counts return / refund requests of a season (0: all) and how
// many customers kept the item.
func (s *Service) Retention(ctx context.Context, shopID string, season int) (*followupv1.RetentionResponse, error) {
	id, err := identity(ctx, ReportRoles)
	if err != nil {
		return nil, err
	}
	if err := s.checkShop(id.InShop, shopID); err != nil {
		return nil, err
	}
	var from, to time.Time
	if season != 0 {
		sh, _ := s.policy.Shop(shopID)
		sea, ok, err := s.policy.SeasonFor(shopID, season)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &domain.ValidationError{Violations: []domain.Violation{{Field: "season", Reason: fmt.Sprintf("no season %d for shop %s", season, shopID)}}}
		}
		from, to = sea.Interval(sh.Location)
	}
	return s.views.Retention(ctx, shopID, from, to)
}

// ComplaintByRef finds the complaint another system knows under ref.
func (s *Service) ComplaintByRef(ctx context.Context, ref *complaintv1.ExternalRef) (string, error) {
	return s.views.ByRef(ctx, ref)
}

// AftermathCheck is the sweep of the current season of a shop, when the
// aftermath end is near and complaints are still open; ok is false otherwise.
func (s *Service) AftermathCheck(ctx context.Context, shopID string) (*followupv1.SweepResponse, bool, error) {
	now := s.clock.Now()
	sea, ok, err := s.policy.SeasonAt(shopID, now)
	if err != nil || !ok {
		return nil, false, err
	}
	sh, _ := s.policy.Shop(shopID)
	end := aftermathEnd(sea, sh.Location)
	if now.Before(end.Add(-s.policy.FollowUp.SweepAlertBefore)) || !now.Before(end) {
		return nil, false, nil
	}
	res, err := s.sweep(ctx, shopID, sea.Year)
	if err != nil {
		return nil, false, err
	}
	return res, res.GetEndNear(), nil
}
