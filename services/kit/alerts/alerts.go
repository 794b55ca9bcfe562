// Package alerts publishes and reads war-room alerts (kesu.alerts.v1.Alert) on the
// ALERTS stream, subject alerts.<kind>. Every service that raises alerts goes
// through Publish, so the subject, the dedup id and the encoding are one contract.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
)

// SubjectPrefix starts every alert subject.
const SubjectPrefix = "alerts."

// namespace derives alert ids from their causes (UUIDv5), so a cause handled twice
// (a redelivered event, a second replica) publishes one alert: the stream drops
// the repeat by Nats-Msg-Id inside its duplicate window.
var namespace = uuid.MustParse("0f6c2a59-3e1f-4d0e-9b7a-315315315315")

// ID returns the deterministic alert id for a kind and the parts naming its cause,
// e.g. ID(ALERT_KIND_BREACHED, deadlineID).
func ID(kind alertsv1.AlertKind, cause ...string) string {
	return uuid.NewSHA1(namespace, []byte(kind.String()+"\x00"+strings.Join(cause, "\x00"))).String()
}

// Token is the subject token of a kind: ALERT_KIND_AT_RISK → "at_risk".
func Token(kind alertsv1.AlertKind) string {
	return strings.ToLower(strings.TrimPrefix(kind.String(), "ALERT_KIND_"))
}

// Subject is the subject an alert of this kind is published on.
func Subject(kind alertsv1.AlertKind) string { return SubjectPrefix + Token(kind) }

// KindOf parses a subject back into its kind.
func KindOf(subject string) (alertsv1.AlertKind, bool) {
	tok, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return 0, false
	}
	v, ok := alertsv1.AlertKind_value["ALERT_KIND_"+strings.ToUpper(tok)]
	if !ok || v == 0 {
		return 0, false
	}
	return alertsv1.AlertKind(v), true
}

// Publish stores an alert on ALERTS and waits for the ack. The alert must have an
// id and a kind; Nats-Msg-Id is the alert id, so publishing the same alert again
// inside the duplicate window stores it once.
func Publish(ctx context.Context, js jetstream.JetStream, a *alertsv1.Alert) error {
	msg, err := message(a)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("alerts: publish %s: %w", msg.Subject, err)
	}
	return nil
}

// Decode reads an alert from a stored message.
func Decode(data []byte) (*alertsv1.Alert, error) {
	a := &alertsv1.Alert{}
	if err := proto.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("alerts: decode: %w", err)
	}
	return a, nil
}

// PublishAsync is Publish without waiting: it returns the ack future, so a
// caller raising many alerts (a poller firing a batch of deadlines) waits
// for all acks at once instead of one round trip per alert.
func PublishAsync(js jetstream.JetStream, a *alertsv1.Alert) (jetstream.PubAckFuture, error) {
	msg, err := message(a)
	if err != nil {
		return nil, err
	}
	f, err := js.PublishMsgAsync(msg)
	if err != nil {
		return nil, fmt.Errorf("alerts: publish %s: %w", msg.Subject, err)
	}
	return f, nil
}

func message(a *alertsv1.Alert) (*nats.Msg, error) {
	if a.GetAlertId() == "" {
		return nil, errors.New("alerts: alert_id is required")
	}
	if a.GetKind() == alertsv1.AlertKind_ALERT_KIND_UNSPECIFIED {
		return nil, errors.New("alerts: kind is required")
	}
	data, err := proto.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("alerts: encode: %w", err)
	}
	msg := nats.NewMsg(Subject(a.GetKind()))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, a.GetAlertId())
	return msg, nil
}
