package adapters

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
)

// AftermathChecker is the sweep of a shop's current season when its end is
// near and complaints are still open (app.Service).
type AftermathChecker interface {
	AftermathCheck(ctx context.Context, shopID string) (*followupv1.SweepResponse, bool, error)
}

// Aftermath raises ALERT_KIND_AFTERMATH_OPEN once a day per shop while the
// aftermath phase is within its alert window and the sweep is not empty.
// The day is claimed in Postgres before publishing, so replicas and restarts
// raise it once; the alert id is derived from (shop, season, day) too.
type Aftermath struct {
	pool  *pgxpool.Pool
	js    jetstream.JetStream
	check AftermathChecker
	pol   *policy.Policy
	clock clock.Clock
	log   *slog.Logger
	every time.Duration
}

// NewAftermath returns the alerter; every is how often (service clock) it looks.
func NewAftermath(pool *pgxpool.Pool, js jetstream.JetStream, check AftermathChecker, pol *policy.Policy, clk clock.Clock, log *slog.Logger, every time.Duration) *Aftermath {
	if every <= 0 {
		every = time.Hour
	}
	return &Aftermath{pool: pool, js: js, check: check, pol: pol, clock: clk, log: log, every: every}
}

// RunOnce checks every shop and returns the alerts raised now.
func (a *Aftermath) RunOnce(ctx context.Context) ([]*alertsv1.Alert, error) {
	var raised []*alertsv1.Alert
	for _, sh := range a.pol.Shops {
		res, ok, err := a.check.AftermathCheck(ctx, sh.ID)
		if err != nil {
			return raised, err
		}
		if !ok {
			continue
		}
		now := a.clock.Now()
		day := policy.DateOf(now, sh.Location)
		al, err := a.raise(ctx, sh.ID, res, day.String(), now)
		if err != nil {
			return raised, err
		}
		if al != nil {
			raised = append(raised, al)
		}
	}
	return raised, nil
}

func (a *Aftermath) raise(ctx context.Context, shopID string, res *followupv1.SweepResponse, day string, now time.Time) (*alertsv1.Alert, error) {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	tag, err := tx.Exec(ctx, `INSERT INTO `+Schema+`.aftermath_alerts (shop_id, season, day, open, raised_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`, shopID, res.GetSeason(), day, res.GetTotal(), now)
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 0 {
		return nil, nil // raised today already
	}
	days := float64(res.GetSecondsToEnd()) / 86400
	al := &alertsv1.Alert{
		AlertId: alerts.ID(alertsv1.AlertKind_ALERT_KIND_AFTERMATH_OPEN, shopID, fmt.Sprint(res.GetSeason()), day),
		Kind:    alertsv1.AlertKind_ALERT_KIND_AFTERMATH_OPEN, ShopId: shopID, RaisedAt: timestamppb.New(now),
		DueAt: res.GetAftermathEnd(), Count: res.GetTotal(), Source: "followup",
		SummaryZh: fmt.Sprintf("善后阶段还剩 %.1f 天，仍有 %d 件客诉未结案", days, res.GetTotal()),
		SummaryEn: fmt.Sprintf("%.1f days left in the aftermath phase; %d complaints still not closed", days, res.GetTotal()),
	}
	if err := alerts.Publish(ctx, a.js, al); err != nil {
		return nil, err
	}
	return al, tx.Commit(ctx)
}

// Run checks on the service clock until ctx ends.
func (a *Aftermath) Run(ctx context.Context) error {
	for {
		if _, err := a.RunOnce(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("aftermath check failed", "err", err)
		}
		if clock.Sleep(ctx, a.clock, a.every) != nil {
			return nil
		}
	}
}
