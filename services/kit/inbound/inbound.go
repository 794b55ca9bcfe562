// Package inbound runs a work-queue consumer on the INBOUND stream the way
// every Kesu consumer of other systems' messages must behave (docs/inbound.md):
// a message that can never be processed is dead-lettered with the reason and
// acknowledged, so it never holds up the ones behind it; one that failed for
// a transient reason is redelivered later, however many times it takes; the
// counts are metrics. The handler decides; this package does the plumbing.
//
// intake's consumer (services/intake/internal/adapters/inbound.go) predates
// it and follows the same contract (same dead-letter headers).
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/kesu315/kesu/services/kit/backoff"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pull"
	"github.com/kesu315/kesu/services/kit/telemetry"
)

// Headers added to a dead letter. The original payload and headers travel
// unchanged, except the publisher's Nats-* headers, kept under
// HeaderDLQOriginalPrefix (they would steer the dead letter's own publish).
const (
	HeaderDLQReason         = "Kesu-DLQ-Reason"
	HeaderDLQClass          = "Kesu-DLQ-Class"
	HeaderDLQFields         = "Kesu-DLQ-Fields"
	HeaderDLQSourceSubject  = "Kesu-DLQ-Source-Subject"
	HeaderDLQStreamSeq      = "Kesu-DLQ-Stream-Seq"
	HeaderDLQAt             = "Kesu-DLQ-At"
	HeaderDLQConsumer       = "Kesu-DLQ-Consumer"
	HeaderDLQOriginalPrefix = "Kesu-DLQ-Original-"
)

// Reason classes of a dead letter.
const (
	ClassDecode     = "decode"
	ClassValidation = "validation"
	ClassReused     = "reused"
	ClassRejected   = "rejected"
)

// InvalidSource stands for a subject that names no valid source.
const InvalidSource = "_invalid"

const maxReasonLen = 2048

// Reject is a handler's verdict that a message can never be processed: it
// is dead-lettered with Class, Reason and Fields.
type Reject struct {
	Class  string
	Reason string
	Fields []string
}

func (r *Reject) Error() string { return r.Class + ": " + r.Reason }

// Rejectf builds a Reject.
func Rejectf(class string, fields []string, format string, args ...any) *Reject {
	return &Reject{Class: class, Fields: fields, Reason: fmt.Sprintf(format, args...)}
}

// Message is what a handler gets.
type Message struct {
	Msg       jetstream.Msg
	Source    string // the subject's last token
	StreamSeq uint64
}

// Handler processes one message. A *Reject (errors.As) dead-letters it; any
// other error redelivers it later; nil acknowledges it. label names the
// outcome in the processed metric (e.g. "created", "repeat").
type Handler func(ctx context.Context, m Message) (label string, err error)

// Config names and tunes a consumer; zero durations take the defaults.
type Config struct {
	// Durable is the consumer's name, also its dead letters' Kesu-DLQ-Consumer
	// and Nats-Msg-Id prefix.
	Durable     string
	Description string
	// Stream defaults to INBOUND.
	Stream string
	// FilterSubject is e.g. "inbound.surveys.>"; Prefix is it without the
	// ">" ("inbound.surveys."), from which the source token is read.
	FilterSubject string
	// DeadLetterPrefix + source is where dead letters go, e.g.
	// "deadletter.surveys.".
	DeadLetterPrefix string
	// Metrics names the counters: <Metrics>.received, .processed,
	// .dead_lettered, .retried.
	Metrics string
	// Concurrency: messages in hand at once; default 16.
	Concurrency int
	MaxWait     time.Duration // default 5s
	AckWait     time.Duration // default 1m
	// HandleTimeout must be shorter than AckWait; default 30s.
	HandleTimeout      time.Duration
	RetryMin, RetryMax time.Duration // default 500ms, 1m
	Clock              clock.Clock
	Logger             *slog.Logger
	MeterProvider      metric.MeterProvider
	TracerProvider     trace.TracerProvider
}

func (c Config) withDefaults() (Config, error) {
	var problems []string
	if c.Durable == "" || strings.ContainsAny(c.Durable, ".*> \t") {
		problems = append(problems, fmt.Sprintf("Durable: %q is not a consumer name", c.Durable))
	}
	if !strings.HasSuffix(c.FilterSubject, ".>") {
		problems = append(problems, fmt.Sprintf("FilterSubject: %q must end in .>", c.FilterSubject))
	}
	if !strings.HasSuffix(c.DeadLetterPrefix, ".") || !strings.HasPrefix(c.DeadLetterPrefix, "deadletter.") {
		problems = append(problems, fmt.Sprintf("DeadLetterPrefix: %q must start with deadletter. and end in .", c.DeadLetterPrefix))
	}
	if c.Metrics == "" {
		problems = append(problems, "Metrics: required")
	}
	if c.Stream == "" {
		c.Stream = eventstore.StreamInbound
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		problems = append(problems, fmt.Sprintf("Concurrency: %d is outside 1..1024", c.Concurrency))
	}
	def := func(name string, v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is negative", name, *v))
		}
	}
	def("MaxWait", &c.MaxWait, 5*time.Second)
	def("AckWait", &c.AckWait, time.Minute)
	def("HandleTimeout", &c.HandleTimeout, 30*time.Second)
	def("RetryMin", &c.RetryMin, 500*time.Millisecond)
	def("RetryMax", &c.RetryMax, time.Minute)
	if c.RetryMax < c.RetryMin {
		problems = append(problems, fmt.Sprintf("RetryMax: %s is below RetryMin %s", c.RetryMax, c.RetryMin))
	}
	if c.HandleTimeout >= c.AckWait {
		problems = append(problems, fmt.Sprintf("HandleTimeout: %s must be shorter than AckWait %s", c.HandleTimeout, c.AckWait))
	}
	if c.Clock == nil {
		c.Clock = clock.Wall()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("inbound %s: invalid config: %s", c.Durable, strings.Join(problems, "; "))
	}
	return c, nil
}

// Consumer is one durable work-queue consumer.
type Consumer struct {
	js     jetstream.JetStream
	h      Handler
	cfg    Config
	prefix string
	log    *slog.Logger
	tracer trace.Tracer

	received, processed, deadLettered, retried metric.Int64Counter
}

// New returns the consumer; nothing is contacted until Run.
func New(js jetstream.JetStream, h Handler, cfg Config) (*Consumer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if js == nil || h == nil {
		return nil, errors.New("inbound: js and handler are required")
	}
	c := &Consumer{js: js, h: h, cfg: cfg, prefix: strings.TrimSuffix(cfg.FilterSubject, ">"),
		log: cfg.Logger.With("consumer", cfg.Durable), tracer: cfg.TracerProvider.Tracer("github.com/kesu315/kesu/services/kit/inbound")}
	meter := cfg.MeterProvider.Meter("github.com/kesu315/kesu/services/kit/inbound")
	for _, m := range []struct {
		dst        *metric.Int64Counter
		name, desc string
	}{
		{&c.received, ".received", "Inbound messages received, redeliveries included, by source"},
		{&c.processed, ".processed", "Inbound messages processed, by source and outcome"},
		{&c.deadLettered, ".dead_lettered", "Inbound messages dead-lettered, by source and reason class"},
		{&c.retried, ".retried", "Transient failures, each redelivered later, by source"},
	} {
		if *m.dst, err = meter.Int64Counter(cfg.Metrics+m.name, metric.WithUnit("{message}"), metric.WithDescription(m.desc)); err != nil {
			return nil, fmt.Errorf("inbound: metrics: %w", err)
		}
	}
	return c, nil
}

// ConsumerConfig is the durable consumer Run creates or updates.
func (c *Consumer) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: c.cfg.Durable, Description: c.cfg.Description,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.cfg.AckWait,
		// Unlimited: a message leaves only by an ack, after it was processed or
		// dead-lettered, never because a dependency was down.
		MaxDeliver: -1, FilterSubject: c.cfg.FilterSubject,
		MaxAckPending: 64 * c.cfg.Concurrency, ReplayPolicy: jetstream.ReplayInstantPolicy,
	}
}

// SourceOf is the source token of a subject under the filter, or "" when the
// subject is not exactly prefix + one valid token.
func (c *Consumer) SourceOf(subject string) string {
	s, ok := strings.CutPrefix(subject, c.prefix)
	if !ok || s == "" || strings.ContainsAny(s, ".*> \t") || !utf8.ValidString(s) || len(s) > 128 {
		return ""
	}
	return s
}

// Run handles messages until ctx is cancelled, then lets those in hand
// finish and returns nil. NATS being unavailable is logged and retried.
func (c *Consumer) Run(ctx context.Context) error {
	bo := backoff.Backoff{Min: c.cfg.RetryMin, Max: c.cfg.RetryMax}
	var cons jetstream.Consumer
	for cons == nil {
		var err error
		if cons, err = c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, c.ConsumerConfig()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Error("cannot create the inbound consumer; retrying", "stream", c.cfg.Stream, "err", err)
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	bo.Reset()
	slots := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := 1
	more:
		for n < c.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		msgs, err := pull.Fetch(ctx, cons, n, c.cfg.MaxWait)
		for range n - len(msgs) {
			<-slots
		}
		for _, m := range msgs {
			wg.Go(func() {
				defer func() { <-slots }()
				c.handle(ctx, m)
			})
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			bo.Reset()
		default:
			c.log.Error("inbound fetch failed; retrying", "err", err)
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				if cc, cerr := c.js.CreateOrUpdateConsumer(ctx, c.cfg.Stream, c.ConsumerConfig()); cerr == nil {
					cons = cc
				}
			}
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
}

func (c *Consumer) handle(parent context.Context, m jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), c.cfg.HandleTimeout)
	defer cancel()
	ctx, span := c.tracer.Start(ctx, "process "+c.cfg.FilterSubject, telemetry.ConsumerSpanOptions(ctx, m.Headers())...)
	defer span.End()
	var streamSeq, delivered uint64
	if md, err := m.Metadata(); err == nil {
		streamSeq, delivered = md.Sequence.Stream, md.NumDelivered
	}
	source := c.SourceOf(m.Subject())
	label := source
	if source == "" {
		label = InvalidSource
	}
	attrSource := attribute.String("source", label)
	span.SetAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", m.Subject()),
		attribute.Int64("messaging.nats.stream_sequence", int64(streamSeq)), attrSource)
	c.received.Add(ctx, 1, metric.WithAttributes(attrSource))

	var outcome string
	var err error
	if source == "" {
		err = Rejectf(ClassValidation, []string{"subject"}, "subject %q must be %s<source>, one token", m.Subject(), c.prefix)
	} else {
		outcome, err = c.h(ctx, Message{Msg: m, Source: source, StreamSeq: streamSeq})
	}
	log := c.log.With("subject", m.Subject(), "stream_seq", streamSeq)
	var rej *Reject
	switch {
	case err == nil:
		c.processed.Add(ctx, 1, metric.WithAttributes(attrSource, attribute.String("outcome", outcome)))
		if aerr := m.DoubleAck(ctx); aerr != nil {
			log.Warn("inbound ack failed; the message will be redelivered", "err", aerr)
		}
	case errors.As(err, &rej):
		span.SetStatus(codes.Error, rej.Class)
		if derr := c.deadLetter(ctx, m, label, rej, streamSeq); derr != nil {
			span.RecordError(derr)
			log.Error("cannot dead-letter an inbound message; retrying", "class", rej.Class, "err", derr)
			c.retry(ctx, m, delivered, attrSource)
			return
		}
		c.deadLettered.Add(ctx, 1, metric.WithAttributes(attrSource, attribute.String("reason", rej.Class)))
		// Field names only: the reason may quote personal data.
		log.Warn("inbound message dead-lettered", "class", rej.Class, "fields", rej.Fields)
		if aerr := m.DoubleAck(ctx); aerr != nil {
			log.Warn("inbound ack failed; the message will be redelivered", "err", aerr)
		}
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, "transient")
		log.Warn("inbound message failed; it will be redelivered", "deliveries", delivered, "err", err)
		c.retry(ctx, m, delivered, attrSource)
	}
}

func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, source string, rej *Reject, streamSeq uint64) error {
	dl := nats.NewMsg(c.cfg.DeadLetterPrefix + source)
	dl.Data = m.Data()
	for k, vs := range m.Headers() {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			k = HeaderDLQOriginalPrefix + k
		}
		if strings.HasPrefix(k, "Kesu-DLQ-") && !strings.HasPrefix(k, HeaderDLQOriginalPrefix) {
			continue
		}
		dl.Header[k] = append([]string(nil), vs...)
	}
	dl.Header.Set(HeaderDLQReason, HeaderValue(rej.Reason))
	dl.Header.Set(HeaderDLQClass, rej.Class)
	if len(rej.Fields) > 0 {
		dl.Header.Set(HeaderDLQFields, HeaderValue(strings.Join(rej.Fields, ",")))
	}
	dl.Header.Set(HeaderDLQSourceSubject, m.Subject())
	dl.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(streamSeq, 10))
	dl.Header.Set(HeaderDLQAt, c.cfg.Clock.Now().UTC().Format(time.RFC3339Nano))
	dl.Header.Set(HeaderDLQConsumer, c.cfg.Durable)
	dl.Header.Set(jetstream.MsgIDHeader, c.cfg.Durable+":"+strconv.FormatUint(streamSeq, 10))
	telemetry.InjectNATS(ctx, dl.Header)
	if _, err := c.js.PublishMsg(ctx, dl, jetstream.WithExpectStream(eventstore.StreamDeadLetter)); err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", dl.Subject, err)
	}
	return nil
}

func (c *Consumer) retry(ctx context.Context, m jetstream.Msg, delivered uint64, attrSource attribute.KeyValue) {
	c.retried.Add(ctx, 1, metric.WithAttributes(attrSource))
	d := c.cfg.RetryMin
	for i := uint64(1); i < delivered && d < c.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.cfg.RetryMax)
	d = d/2 + rand.N(d/2+1)
	if err := m.NakWithDelay(d); err != nil {
		c.log.Warn("inbound nak failed; the message returns after the ack wait", "err", err)
	}
}

// Header returns the first value of key, matched case-insensitively.
func Header(h nats.Header, key string) string {
	if v := h.Get(key); v != "" {
		return v
	}
	for k, vs := range h {
		if strings.EqualFold(k, key) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// HeaderValue makes s safe as one header value: valid UTF-8, one line, bounded.
func HeaderValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
