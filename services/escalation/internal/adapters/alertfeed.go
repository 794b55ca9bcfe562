package adapters

import (
	"context"
	"errors"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	"github.com/kesu315/kesu/services/escalation/internal/app"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

// AlertFeed reads the ALERTS stream for watchers and publishes manual alerts.
type AlertFeed struct {
	js jetstream.JetStream
}

// NewAlertFeed returns the feed.
func NewAlertFeed(js jetstream.JetStream) *AlertFeed { return &AlertFeed{js: js} }

// Publish stores an alert.
func (f *AlertFeed) Publish(ctx context.Context, a *alertsv1.Alert) error {
	return alerts.Publish(ctx, f.js, a)
}

// Watch replays the stored alerts raised at or after since (none when since
// is zero), then follows new ones until ctx ends, through an ephemeral
// ordered consumer: no server-side state outlives the watcher. Alerts are
// filtered by kind on the server (subjects) and by shop here.
func (f *AlertFeed) Watch(ctx context.Context, w app.AlertFilter, send func(*alertsv1.Alert, uint64) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if !w.Since.IsZero() {
		// Alerts carry the service clock's time, which may run accelerated:
		// replay the (age-limited) stream and filter on raised_at.
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	for _, k := range w.Kinds {
		cfg.FilterSubjects = append(cfg.FilterSubjects, alerts.Subject(k))
	}
	cons, err := f.js.OrderedConsumer(ctx, eventstore.StreamAlerts, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return err
		}
		a, err := alerts.Decode(msg.Data())
		if err != nil {
			continue
		}
		if len(w.Shops) > 0 && !slices.Contains(w.Shops, a.GetShopId()) {
			continue
		}
		if !w.Since.IsZero() && a.GetRaisedAt().AsTime().Before(w.Since) {
			continue
		}
		var seq uint64
		if md, err := msg.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		if err := send(a, seq); err != nil {
			return err
		}
	}
}
