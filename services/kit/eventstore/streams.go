package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names and subjects (DESIGN.md §2).
const (
	StreamComplaints = "COMPLAINTS"
	StreamInbound    = "INBOUND"
	StreamAlerts     = "ALERTS"
	StreamDeadLetter = "DEADLETTER"

	// SubjectComplaints matches every complaint subject (projection filters).
	SubjectComplaints = "complaints.*"
	// SubjectInbound matches every inbound source.
	SubjectInbound = "inbound.complaints.>"
	// SubjectInboundSurveys matches every source's satisfaction survey
	// results (followup consumes them; intake's filter never sees them).
	SubjectInboundSurveys = "inbound.surveys.>"
	// SubjectAlerts matches every alert kind.
	SubjectAlerts = "alerts.>"
	// SubjectDeadLetter matches every dead letter.
	SubjectDeadLetter = "deadletter.>"

	complaintPrefix  = "complaints."
	inboundPrefix    = "inbound.complaints."
	surveysPrefix    = "inbound.surveys."
	alertsPrefix     = "alerts."
	deadLetterPrefix = "deadletter."
)

// Defaults and limits of Config.
const (
	// MinDuplicateWindow is both the default and the minimum: a retried
	// publish must land inside the window to be recognised (DESIGN.md §2).
	MinDuplicateWindow        = 2 * time.Minute
	DefaultMaxBytes           = 10 << 30 // 10 GiB
	DefaultInboundMaxBytes    = 1 << 30  // 1 GiB
	DefaultAlertsMaxAge       = 7 * 24 * time.Hour
	DefaultAlertsMaxBytes     = 256 << 20 // 256 MiB
	DefaultDeadLetterMaxAge   = 90 * 24 * time.Hour
	DefaultDeadLetterMaxBytes = 1 << 30 // 1 GiB
	// maxIDLen keeps subjects and headers to a sane size; UUIDv7 is 36.
	maxIDLen = 128
)

// Config sizes the streams. Zero fields take the defaults above.
type Config struct {
	// Replicas: 1 in dev and tests, 3 in production (KESU_STREAM_REPLICAS).
	Replicas int
	// MaxBytes guards COMPLAINTS (Discard: new, so the store refuses writes
	// instead of silently dropping history) (KESU_STREAM_MAX_BYTES).
	MaxBytes int64
	// DuplicateWindow for COMPLAINTS and INBOUND; default and minimum 2m.
	DuplicateWindow time.Duration

	// InboundMaxBytes guards INBOUND (Discard: new, publishers see the error).
	InboundMaxBytes int64
	// AlertsMaxAge and AlertsMaxBytes bound ALERTS (old alerts are dropped).
	AlertsMaxAge   time.Duration
	AlertsMaxBytes int64
	// DeadLetterMaxAge and DeadLetterMaxBytes bound DEADLETTER.
	DeadLetterMaxAge   time.Duration
	DeadLetterMaxBytes int64
}

// withDefaults validates c and fills its zero fields. Every problem is
// reported, each naming the field.
func (c Config) withDefaults() (Config, error) {
	var problems []string
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		problems = append(problems, fmt.Sprintf("Replicas: %d is outside 1..5", c.Replicas))
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = MinDuplicateWindow
	}
	if c.DuplicateWindow < MinDuplicateWindow {
		problems = append(problems, fmt.Sprintf("DuplicateWindow: %s is below the minimum %s", c.DuplicateWindow, MinDuplicateWindow))
	}
	sizes := []struct {
		name string
		v    *int64
		def  int64
	}{
		{"MaxBytes", &c.MaxBytes, DefaultMaxBytes},
		{"InboundMaxBytes", &c.InboundMaxBytes, DefaultInboundMaxBytes},
		{"AlertsMaxBytes", &c.AlertsMaxBytes, DefaultAlertsMaxBytes},
		{"DeadLetterMaxBytes", &c.DeadLetterMaxBytes, DefaultDeadLetterMaxBytes},
	}
	for _, s := range sizes {
		if *s.v == 0 {
			*s.v = s.def
		}
		if *s.v < 0 {
			problems = append(problems, fmt.Sprintf("%s: %d is negative", s.name, *s.v))
		}
	}
	ages := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"AlertsMaxAge", &c.AlertsMaxAge, DefaultAlertsMaxAge},
		{"DeadLetterMaxAge", &c.DeadLetterMaxAge, DefaultDeadLetterMaxAge},
	}
	for _, a := range ages {
		if *a.v == 0 {
			*a.v = a.def
		}
		if *a.v < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is negative", a.name, *a.v))
		} else if *a.v < c.DuplicateWindow {
			problems = append(problems, fmt.Sprintf("%s: %s is shorter than DuplicateWindow %s", a.name, *a.v, c.DuplicateWindow))
		}
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(problems, "; "))
	}
	return c, nil
}

// ComplaintsStreamConfig is the COMPLAINTS stream as DESIGN.md §2 defines it.
func ComplaintsStreamConfig(cfg Config) (jetstream.StreamConfig, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	return jetstream.StreamConfig{
		Name:               StreamComplaints,
		Description:        "Kesu complaint event streams, one subject per complaint",
		Subjects:           []string{SubjectComplaints},
		Retention:          jetstream.LimitsPolicy,
		Storage:            jetstream.FileStorage,
		Replicas:           c.Replicas,
		MaxBytes:           c.MaxBytes,
		Discard:            jetstream.DiscardNew,
		MaxAge:             0, // history is kept for good; erasure is by crypto-shredding
		Duplicates:         c.DuplicateWindow,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		DenyDelete:         true,
		DenyPurge:          true,
	}, nil
}

// EnsureComplaints creates the COMPLAINTS stream or updates it to cfg.
func EnsureComplaints(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	sc, err := ComplaintsStreamConfig(cfg)
	if err != nil {
		return nil, err
	}
	return ensure(ctx, js, sc)
}

// EnsureInbound creates or updates INBOUND: a work queue other systems
// publish complaints and contacts to, consumed (and so removed) by intake.
func EnsureInbound(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return ensure(ctx, js, jetstream.StreamConfig{
		Name:        StreamInbound,
		Description: "Complaints and contacts from other systems, by source",
		Subjects:    []string{SubjectInbound, SubjectInboundSurveys},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxBytes:    c.InboundMaxBytes,
		Discard:     jetstream.DiscardNew,
		Duplicates:  c.DuplicateWindow,
	})
}

// EnsureAlerts creates or updates ALERTS: real-time warnings that lose their
// value quickly, so they age out.
func EnsureAlerts(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return ensure(ctx, js, jetstream.StreamConfig{
		Name:        StreamAlerts,
		Description: "Risk warnings for supervisors",
		Subjects:    []string{SubjectAlerts},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.AlertsMaxAge,
		MaxBytes:    c.AlertsMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  c.DuplicateWindow,
		AllowDirect: true,
	})
}

// EnsureDeadLetter creates or updates DEADLETTER, where consumers park
// messages they cannot process, kept long enough for someone to look.
func EnsureDeadLetter(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return ensure(ctx, js, jetstream.StreamConfig{
		Name:        StreamDeadLetter,
		Description: "Messages consumers could not process",
		Subjects:    []string{SubjectDeadLetter},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.DeadLetterMaxAge,
		MaxBytes:    c.DeadLetterMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  c.DuplicateWindow,
		AllowDirect: true,
	})
}

// EnsureAll ensures every stream of DESIGN.md §2.
func EnsureAll(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	for _, ensure := range []func(context.Context, jetstream.JetStream, Config) (jetstream.Stream, error){
		EnsureComplaints, EnsureInbound, EnsureAlerts, EnsureDeadLetter,
	} {
		if _, err := ensure(ctx, js, cfg); err != nil {
			return err
		}
	}
	return nil
}

// EnsureMissing creates the streams EnsureAll would that do not exist yet and
// leaves existing ones as they are. It is for services that only read and
// append: in production their NATS users may not change stream configuration
// (deploy/nats/nsc-setup.sh) and the chart's stream-setup job owns it, while a
// single install or a test still gets the streams from whichever starts first.
// Looking a stream up needs only $JS.API.STREAM.INFO.
func EnsureMissing(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	for _, st := range []struct {
		name   string
		ensure func(context.Context, jetstream.JetStream, Config) (jetstream.Stream, error)
	}{
		{StreamComplaints, EnsureComplaints}, {StreamInbound, EnsureInbound},
		{StreamAlerts, EnsureAlerts}, {StreamDeadLetter, EnsureDeadLetter},
	} {
		_, err := js.Stream(ctx, st.name)
		if err == nil {
			continue
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("eventstore: look up stream %s: %w", st.name, err)
		}
		if _, err := st.ensure(ctx, js, cfg); err != nil {
			return err
		}
	}
	return nil
}

func ensure(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("eventstore: ensure stream %s (subjects %s, replicas %d): %w",
			sc.Name, strings.Join(sc.Subjects, ","), sc.Replicas, err)
	}
	return s, nil
}

// ValidateComplaintID checks that id can be one subject token: non-empty, at
// most 128 bytes, no '.', '*', '>', whitespace or control characters.
func ValidateComplaintID(id string) error {
	if err := validateToken(id); err != nil {
		return fmt.Errorf("%w: %q %s", ErrInvalidComplaintID, id, err.Error())
	}
	return nil
}

// ComplaintSubject is the subject holding complaint id's events.
func ComplaintSubject(id string) (string, error) {
	if err := ValidateComplaintID(id); err != nil {
		return "", err
	}
	return complaintPrefix + id, nil
}

// ComplaintIDFromSubject is the inverse of ComplaintSubject.
func ComplaintIDFromSubject(subject string) (string, error) {
	id, ok := strings.CutPrefix(subject, complaintPrefix)
	if !ok {
		return "", fmt.Errorf("%w: subject %q is not under %q", ErrInvalidRecord, subject, complaintPrefix)
	}
	if err := ValidateComplaintID(id); err != nil {
		return "", fmt.Errorf("%w: subject %q: %w", ErrInvalidRecord, subject, err)
	}
	return id, nil
}

// InboundSubject is where source (e.g. "tmall", "hotline400", "odr12315")
// publishes complaints.
func InboundSubject(source string) (string, error) {
	if err := validateToken(source); err != nil {
		return "", fmt.Errorf("eventstore: inbound source %q %s", source, err.Error())
	}
	return inboundPrefix + source, nil
}

// InboundSurveySubject is where source publishes satisfaction survey results.
func InboundSurveySubject(source string) (string, error) {
	if err := validateToken(source); err != nil {
		return "", fmt.Errorf("eventstore: inbound survey source %q %s", source, err.Error())
	}
	return surveysPrefix + source, nil
}

// AlertSubject is the subject for alerts of kind (e.g. "media", "breach").
func AlertSubject(kind string) (string, error) {
	if err := validateToken(kind); err != nil {
		return "", fmt.Errorf("eventstore: alert kind %q %s", kind, err.Error())
	}
	return alertsPrefix + kind, nil
}

// DeadLetterSubject is where a consumer named consumer parks messages.
func DeadLetterSubject(consumer string) (string, error) {
	if err := validateToken(consumer); err != nil {
		return "", fmt.Errorf("eventstore: dead letter consumer %q %s", consumer, err.Error())
	}
	return deadLetterPrefix + consumer, nil
}

// validateToken explains why s cannot be a single subject token, or is nil.
func validateToken(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > maxIDLen {
		return fmt.Errorf("is %d bytes, longer than %d", len(s), maxIDLen)
	}
	for i, r := range s {
		switch {
		case r == '.' || r == '*' || r == '>':
			return fmt.Errorf("contains %q at byte %d (subject token separator or wildcard)", r, i)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Errorf("contains whitespace or a control character at byte %d", i)
		case r == unicode.ReplacementChar:
			return fmt.Errorf("is not valid UTF-8 at byte %d", i)
		}
	}
	return nil
}
