package adapters

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

	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/intake/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/backoff"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/pull"
	"github.com/kesu315/kesu/services/kit/telemetry"
)

// InboundConsumer is the durable consumer intake reads INBOUND with.
const InboundConsumer = "intake-inbound"

// Headers intake adds to a message it dead-letters (docs/inbound.md). The
// original payload and headers travel unchanged, except the publisher's Nats-*
// headers: those steer JetStream and would misdirect the dead letter's own
// publish, so they are kept under HeaderDLQOriginalPrefix.
const (
	// HeaderDLQReason says what is wrong, naming the field.
	HeaderDLQReason = "Kesu-DLQ-Reason"
	// HeaderDLQClass is decode, validation, reused or rejected.
	HeaderDLQClass = "Kesu-DLQ-Class"
	// HeaderDLQFields lists the offending fields, comma-separated.
	HeaderDLQFields = "Kesu-DLQ-Fields"
	// HeaderDLQSourceSubject is the subject the message was published to;
	// replay publishes it there again.
	HeaderDLQSourceSubject = "Kesu-DLQ-Source-Subject"
	// HeaderDLQStreamSeq is its sequence in INBOUND.
	HeaderDLQStreamSeq = "Kesu-DLQ-Stream-Seq"
	// HeaderDLQAt is when it was dead-lettered (RFC 3339, service clock).
	HeaderDLQAt = "Kesu-DLQ-At"
	// HeaderDLQConsumer names the consumer that gave up on it.
	HeaderDLQConsumer = "Kesu-DLQ-Consumer"
	// HeaderDLQOriginalPrefix prefixes the publisher's Nats-* headers.
	HeaderDLQOriginalPrefix = "Kesu-DLQ-Original-"
)

// Reason classes of a dead letter (metric attribute and HeaderDLQClass).
const (
	ClassDecode     = "decode"
	ClassValidation = "validation"
	ClassReused     = "reused"
	// ClassRejected: valid, but refused for good (the customer was erased).
	ClassRejected = "rejected"
)

// deadLetterPrefix + source is where an inbound source's dead letters go.
const deadLetterPrefix = "deadletter.inbound."

// invalidSource stands for a subject that names no valid source, in metrics
// and dead-letter subjects; no real source can be called that.
const invalidSource = "_invalid"

// maxReasonLen keeps the reason header well inside NATS header limits.
const maxReasonLen = 2048

// Filer files a complaint: app.Service.
type Filer interface {
	FileComplaint(ctx context.Context, cmd *domain.FileComplaint) (app.FileResult, error)
}

// InboundConfig tunes the inbound consumer; zero fields take the defaults.
type InboundConfig struct {
	// Concurrency is how many messages are handled at once; default 16.
	// Each is idempotent and their order does not matter.
	Concurrency int
	// MaxWait bounds one fetch on an idle stream, and so how long a stop may
	// wait for it; default 5s.
	MaxWait time.Duration
	// AckWait is the redelivery timeout if intake dies holding a message;
	// default 1m.
	AckWait time.Duration
	// HandleTimeout bounds the handling of one message, which completes even
	// after a stop began; default 30s.
	HandleTimeout time.Duration
	// RetryMin and RetryMax bound the redelivery delay after a transient
	// failure, doubling per delivery; default 500ms and 1m.
	RetryMin, RetryMax time.Duration
	// Clock stamps dead letters; default the wall clock.
	Clock clock.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MeterProvider and TracerProvider default to the global ones.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

func (c InboundConfig) withDefaults() (InboundConfig, error) {
	var problems []string
	def := func(name string, v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			problems = append(problems, fmt.Sprintf("%s: %s is negative", name, *v))
		}
	}
	if c.Concurrency == 0 {
		c.Concurrency = 16
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		problems = append(problems, fmt.Sprintf("Concurrency: %d is outside 1..1024", c.Concurrency))
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
		// Otherwise a slow message is redelivered while still in hand.
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
		return c, fmt.Errorf("intake inbound: invalid config: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

// Inbound files the complaints other systems publish on
// inbound.complaints.<source> (DESIGN.md §2, docs/inbound.md). A message
// that can never be filed is dead-lettered with the reason and acknowledged,
// so it never holds up the ones behind it; one that failed for a transient
// reason is redelivered later, however many times it takes.
type Inbound struct {
	js     jetstream.JetStream
	filer  Filer
	cfg    InboundConfig
	log    *slog.Logger
	tracer trace.Tracer

	received     metric.Int64Counter
	filed        metric.Int64Counter
	deadLettered metric.Int64Counter
	retried      metric.Int64Counter
}

// NewInbound returns the consumer; nothing is contacted until Run.
func NewInbound(js jetstream.JetStream, filer Filer, cfg InboundConfig) (*Inbound, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if js == nil || filer == nil {
		return nil, errors.New("intake inbound: js and filer are required")
	}
	in := &Inbound{js: js, filer: filer, cfg: cfg, log: cfg.Logger.With("consumer", InboundConsumer),
		tracer: cfg.TracerProvider.Tracer("github.com/kesu315/kesu/services/intake/inbound")}
	meter := cfg.MeterProvider.Meter("github.com/kesu315/kesu/services/intake/inbound")
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, desc string
	}{
		{&in.received, "kesu.inbound.received", "Inbound messages received, redeliveries included, by source and format"},
		{&in.filed, "kesu.inbound.filed", "Inbound messages filed, by source; created=false for a repeat of one filed before"},
		{&in.deadLettered, "kesu.inbound.dead_lettered", "Inbound messages dead-lettered, by source and reason class (decode, validation, reused, rejected)"},
		{&in.retried, "kesu.inbound.retried", "Transient failures, each redelivered later, by source"},
	} {
		if *c.dst, err = meter.Int64Counter(c.name, metric.WithUnit("{message}"), metric.WithDescription(c.desc)); err != nil {
			return nil, fmt.Errorf("intake inbound: metrics: %w", err)
		}
	}
	return in, nil
}

// ConsumerConfig is the durable consumer Run creates or updates.
func (in *Inbound) ConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       InboundConsumer,
		Description:   "intake: files complaints other systems publish (docs/inbound.md)",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       in.cfg.AckWait,
		// Unlimited: a message is only ever removed by an ack, after it was
		// filed or dead-lettered, never because a dependency was down.
		MaxDeliver:    -1,
		FilterSubject: eventstore.SubjectInbound,
		// Room for every replica's messages in hand plus those waiting out a
		// retry delay (they stay pending).
		MaxAckPending: 64 * in.cfg.Concurrency,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// Run handles messages until ctx is cancelled, then lets the messages in
// hand finish and returns nil. NATS being unavailable is logged and retried.
func (in *Inbound) Run(ctx context.Context) error {
	bo := backoff.Backoff{Min: in.cfg.RetryMin, Max: in.cfg.RetryMax}
	var cons jetstream.Consumer
	for cons == nil {
		var err error
		if cons, err = in.js.CreateOrUpdateConsumer(ctx, eventstore.StreamInbound, in.ConsumerConfig()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.log.Error("cannot create the inbound consumer; retrying", "stream", eventstore.StreamInbound, "err", err)
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
	bo.Reset()

	// slots bounds the messages in hand; the loop fetches only as many as
	// are free, so none waits in a local buffer while its AckWait runs.
	slots := make(chan struct{}, in.cfg.Concurrency)
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
		for n < in.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		msgs, err := in.fetch(ctx, cons, n)
		for range n - len(msgs) {
			<-slots
		}
		for _, m := range msgs {
			wg.Go(func() {
				defer func() { <-slots }()
				in.handle(ctx, m)
			})
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			bo.Reset()
		default:
			in.log.Error("inbound fetch failed; retrying", "err", err)
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				if c, cerr := in.js.CreateOrUpdateConsumer(ctx, eventstore.StreamInbound, in.ConsumerConfig()); cerr == nil {
					cons = c
				}
			}
			if bo.Wait(ctx) != nil {
				return nil
			}
		}
	}
}

// fetch returns up to n messages without waiting to fill the batch, so a lone
// complaint is filed at once on a quiet stream.
func (in *Inbound) fetch(ctx context.Context, cons jetstream.Consumer, n int) ([]jetstream.Msg, error) {
	return pull.Fetch(ctx, cons, n, in.cfg.MaxWait)
}

// handle files one message, dead-letters it, or schedules its redelivery.
// It runs to the end even when ctx is cancelled (a stop finishes what is in
// hand), bounded by HandleTimeout.
func (in *Inbound) handle(parent context.Context, m jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), in.cfg.HandleTimeout)
	defer cancel()
	ctx, span := in.tracer.Start(ctx, "process "+eventstore.SubjectInbound, telemetry.ConsumerSpanOptions(ctx, m.Headers())...)
	defer span.End()

	var streamSeq, delivered uint64
	if md, err := m.Metadata(); err == nil {
		streamSeq, delivered = md.Sequence.Stream, md.NumDelivered
	}
	format := domain.InboundFormatOf(header(m.Headers(), "Content-Type"))
	source, err := domain.InboundSource(m.Subject())
	label := source
	if err != nil {
		label = invalidSource
	}
	attrSource := attribute.String("source", label)
	span.SetAttributes(attribute.String("messaging.system", "nats"),
		attribute.String("messaging.destination.name", m.Subject()),
		attribute.Int64("messaging.nats.stream_sequence", int64(streamSeq)), attrSource)
	in.received.Add(ctx, 1, metric.WithAttributes(attrSource, attribute.String("format", string(format))))

	var res app.FileResult
	if err == nil {
		res, err = in.file(ctx, source, format, m.Data())
	}
	class := classify(err)
	log := in.log.With("subject", m.Subject(), "stream_seq", streamSeq)
	switch {
	case err == nil:
		in.filed.Add(ctx, 1, metric.WithAttributes(attrSource, attribute.Bool("created", res.Created)))
		span.SetAttributes(attribute.String("kesu.complaint_id", res.ComplaintID))
		if aerr := m.DoubleAck(ctx); aerr != nil {
			// Redelivered later, and filed again as the same complaint.
			log.Warn("inbound ack failed; the message will be redelivered", "err", aerr)
		}
	case class != "":
		span.SetStatus(codes.Error, class)
		if derr := in.deadLetter(ctx, m, label, class, err, streamSeq); derr != nil {
			span.RecordError(derr)
			log.Error("cannot dead-letter an inbound message; retrying", "class", class, "err", derr)
			in.retry(ctx, m, delivered, attrSource)
			return
		}
		in.deadLettered.Add(ctx, 1, metric.WithAttributes(attrSource, attribute.String("reason", class)))
		// Field names only: the reason may quote personal data.
		log.Warn("inbound message dead-lettered", "class", class, "fields", fieldsOf(err))
		if aerr := m.DoubleAck(ctx); aerr != nil {
			// Redelivered and dead-lettered again; Nats-Msg-Id drops the copy.
			log.Warn("inbound ack failed; the message will be redelivered", "err", aerr)
		}
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, "transient")
		log.Warn("inbound message failed; it will be redelivered", "deliveries", delivered, "err", err)
		in.retry(ctx, m, delivered, attrSource)
	}
}

func (in *Inbound) file(ctx context.Context, source string, format domain.InboundFormat, data []byte) (app.FileResult, error) {
	msg, err := domain.DecodeInbound(format, data)
	if err != nil {
		return app.FileResult{}, err
	}
	cmd, err := domain.InboundCommand(source, msg, in.cfg.Clock.Now())
	if err != nil {
		return app.FileResult{}, err
	}
	ctx = auth.WithIdentity(ctx, auth.Identity{Subject: "inbound:" + source, Role: auth.RoleIntegration})
	res, err := in.filer.FileComplaint(ctx, cmd)
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		return res, domain.InboundViolations(ve)
	}
	return res, err
}

// classify names the dead-letter class of err, or "" when err is nil or
// transient (worth retrying).
func classify(err error) string {
	var (
		de *domain.DecodeError
		ve *domain.ValidationError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &de):
		return ClassDecode
	case errors.As(err, &ve):
		return ClassValidation
	case errors.Is(err, app.ErrRequestReused):
		return ClassReused
	case errors.Is(err, app.ErrCustomerErased):
		return ClassRejected
	}
	return ""
}

// fieldsOf lists the fields an error names, for logs and HeaderDLQFields.
func fieldsOf(err error) []string {
	var (
		de *domain.DecodeError
		ve *domain.ValidationError
	)
	switch {
	case errors.As(err, &de):
		if de.Field != "" {
			return []string{de.Field}
		}
	case errors.As(err, &ve):
		out := make([]string, 0, len(ve.Violations))
		for _, v := range ve.Violations {
			if len(out) == 0 || out[len(out)-1] != v.Field {
				out = append(out, v.Field)
			}
		}
		return out
	case errors.Is(err, app.ErrRequestReused):
		return []string{"external_id"}
	case errors.Is(err, app.ErrCustomerErased):
		return []string{"customer"}
	}
	return nil
}

// reasonOf is the dead letter's reason text.
func reasonOf(err error) string {
	if errors.Is(err, app.ErrRequestReused) {
		return "external_id: already filed with different content; publish a change as a new external_id"
	}
	if errors.Is(err, app.ErrCustomerErased) {
		return "customer: " + err.Error()
	}
	return err.Error()
}

// deadLetter publishes m to deadletter.inbound.<source> with the reason and
// waits for the stream's ack.
func (in *Inbound) deadLetter(ctx context.Context, m jetstream.Msg, source, class string, cause error, streamSeq uint64) error {
	dl := nats.NewMsg(deadLetterPrefix + source)
	dl.Data = m.Data()
	for k, vs := range m.Headers() {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			k = HeaderDLQOriginalPrefix + k
		}
		if strings.HasPrefix(k, "Kesu-DLQ-") && !strings.HasPrefix(k, HeaderDLQOriginalPrefix) {
			continue // from an earlier dead-lettering of a replayed message
		}
		dl.Header[k] = append([]string(nil), vs...)
	}
	dl.Header.Set(HeaderDLQReason, headerValue(reasonOf(cause)))
	dl.Header.Set(HeaderDLQClass, class)
	if f := fieldsOf(cause); len(f) > 0 {
		dl.Header.Set(HeaderDLQFields, headerValue(strings.Join(f, ",")))
	}
	dl.Header.Set(HeaderDLQSourceSubject, m.Subject())
	dl.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(streamSeq, 10))
	dl.Header.Set(HeaderDLQAt, in.cfg.Clock.Now().UTC().Format(time.RFC3339Nano))
	dl.Header.Set(HeaderDLQConsumer, InboundConsumer)
	// A retry after a lost ack publishes the same dead letter again; the
	// stream's duplicate window keeps one.
	dl.Header.Set(jetstream.MsgIDHeader, InboundConsumer+":"+strconv.FormatUint(streamSeq, 10))
	telemetry.InjectNATS(ctx, dl.Header)
	if _, err := in.js.PublishMsg(ctx, dl, jetstream.WithExpectStream(eventstore.StreamDeadLetter)); err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", dl.Subject, err)
	}
	return nil
}

// retry asks for redelivery after a delay that doubles with each delivery.
func (in *Inbound) retry(ctx context.Context, m jetstream.Msg, delivered uint64, attrSource attribute.KeyValue) {
	in.retried.Add(ctx, 1, metric.WithAttributes(attrSource))
	d := in.cfg.RetryMin
	for i := uint64(1); i < delivered && d < in.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, in.cfg.RetryMax)
	d = d/2 + rand.N(d/2+1) // jitter, so a backlog does not return in lockstep
	if err := m.NakWithDelay(d); err != nil {
		in.log.Warn("inbound nak failed; the message returns after the ack wait", "err", err)
	}
}

// header returns the first value of key, matched case-insensitively: NATS
// headers are case-sensitive and publishers spell Content-Type every way.
func header(h nats.Header, key string) string {
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

// headerValue makes s safe as one header value: valid UTF-8, one line, bounded.
func headerValue(s string) string {
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
