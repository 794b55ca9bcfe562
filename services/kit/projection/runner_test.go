package projection_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/projection"
)

func TestAppliesEveryEventOnceInStreamOrder(t *testing.T) {
	e := newEnv(t, 5)
	e.publish(t, 50)
	r := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 16})
	rn := run(t, r)
	e.waitApplied(t, 50)
	last := e.publish(t, 25) // while running
	e.waitApplied(t, 75)
	if err := rn.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cp := e.checkpoint(t, "rec"); cp != last {
		t.Fatalf("checkpoint = %d, want the last sequence %d", cp, last)
	}
	if n := e.int(t, `SELECT count(*) FROM `+schema+`.applied WHERE event_id = '' OR type = '' OR complaint_id = ''`); n != 0 {
		t.Fatalf("%d rows lost event fields", n)
	}
}

// A runner that dies at the worst moments, followed by a fresh one on the
// same durable consumer: nothing is applied twice and nothing is missed.
func TestCrashThenFreshRunnerAppliesEachEventOnce(t *testing.T) {
	crash := errors.New("power cut")
	tests := []struct {
		name          string
		afterApply    bool
		rowsAfterDead int64
		committed     int64 // batches the handler was told had committed
	}{
		{"between commit and ack", false, 5, 1},
		{"between apply and commit", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 3)
			e.publish(t, 20)
			told := &committer{}
			dying := newRunner(t, e, told, projection.Config{BatchSize: 5})
			hook := func() error { return crash }
			if tt.afterApply {
				projection.SetCrashHooks(dying, hook, nil)
			} else {
				projection.SetCrashHooks(dying, nil, hook)
			}
			dead := run(t, dying)
			select {
			case <-dead.done:
				if !errors.Is(dead.err, crash) {
					t.Fatalf("dying runner returned %v, want the crash", dead.err)
				}
			case <-e.ctx.Done():
				t.Fatal("dying runner did not crash")
			}
			if rows, _ := e.applied(t); rows != tt.rowsAfterDead {
				t.Fatalf("%d rows after the crash, want %d", rows, tt.rowsAfterDead)
			}
			if n := told.n.Load(); n != tt.committed {
				t.Fatalf("handler told of %d commits, want %d", n, tt.committed)
			}
			e.publish(t, 10)
			fresh := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 5})
			rn := run(t, fresh)
			e.waitApplied(t, 30)
			if err := rn.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A dead process still holds events 1..5 unacknowledged, so the consumer
// hands the live runner 6.. first. Applying those would move the
// checkpoint past 1..5 for good; the runner must notice and replay from
// the checkpoint instead of waiting for the ack timeout.
func TestEventsHeldByADeadProcessAreNotSkipped(t *testing.T) {
	e := newEnv(t, 2)
	if _, err := e.js.CreateConsumer(e.ctx, eventstore.StreamComplaints, jetstream.ConsumerConfig{
		Durable: "rec", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: eventstore.SubjectComplaints, AckWait: time.Hour,
	}); err != nil {
		t.Fatal(err)
	}
	e.publish(t, 20)
	cons, err := e.js.Consumer(e.ctx, eventstore.StreamComplaints, "rec")
	if err != nil {
		t.Fatal(err)
	}
	held, err := cons.Fetch(5)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range held.Messages() {
		n++ // never acked: the process "dies" holding them
	}
	if n != 5 {
		t.Fatalf("dead process fetched %d events, want 5", n)
	}

	r := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 8})
	projection.TrustConsumer(r) // reach the per-batch check, not the start-up one
	rn := run(t, r)
	e.waitApplied(t, 20)
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestEventsAtOrBelowCheckpointAreSkipped(t *testing.T) {
	for _, trust := range []bool{true, false} {
		name := map[bool]string{true: "consumer behind checkpoint delivers them", false: "consumer recreated at checkpoint"}[trust]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 4)
			if _, err := e.js.CreateConsumer(e.ctx, eventstore.StreamComplaints, jetstream.ConsumerConfig{
				Durable: "rec", AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: eventstore.SubjectComplaints,
			}); err != nil {
				t.Fatal(err)
			}
			last := e.publish(t, 20)
			e.exec(t, `CREATE TABLE `+schema+`.projection_checkpoints (name text PRIMARY KEY, stream_seq bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
INSERT INTO `+schema+`.projection_checkpoints (name, stream_seq) VALUES ('rec', 10)`)
			r := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 32})
			if trust {
				projection.TrustConsumer(r)
			}
			rn := run(t, r)
			e.waitApplied(t, 10)
			if lowest := e.int(t, `SELECT min(stream_seq) FROM `+schema+`.applied`); lowest != 11 {
				t.Fatalf("lowest applied sequence %d, want 11", lowest)
			}
			waitFor(t, e.ctx, func() (bool, string) {
				cp := e.checkpoint(t, "rec")
				return cp == last, "checkpoint not advanced"
			})
			if err := rn.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A failing handler is retried without the checkpoint moving, then succeeds.
func TestHandlerErrorIsRetriedWithoutAdvancing(t *testing.T) {
	e := newEnv(t, 2)
	e.publish(t, 12)
	reader := sdkmetric.NewManualReader()
	h := &recorder{failFirst: 3}
	r := newRunner(t, e, h, projection.Config{BatchSize: 64, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	rn := run(t, r)
	e.waitApplied(t, 12)
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i <= h.failFirst && i < len(h.seenCP); i++ {
		if h.seenCP[i] != 0 {
			t.Fatalf("attempt %d saw checkpoint %d after failures, want 0", i+1, h.seenCP[i])
		}
	}
	if errs, _ := metricValue(t, reader, "kesu.projection.errors", "rec"); errs < 3 {
		t.Fatalf("errors counter = %d, want >= 3", errs)
	}
}

func TestLagIsReportedAndReachesZero(t *testing.T) {
	e := newEnv(t, 3)
	last := e.publish(t, 30)
	reader := sdkmetric.NewManualReader()
	r := newRunner(t, e, &recorder{}, projection.Config{
		BatchSize: 7, LagInterval: 20 * time.Millisecond,
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if lag, err := r.Lag(e.ctx); err != nil || lag != last {
		t.Fatalf("Lag before running = %d, %v; want %d", lag, err, last)
	}
	// A projection of one complaint lags by that complaint's last event.
	one, err := projection.New(e.pool, e.js, &recorder{}, projection.Config{Name: "one", Schema: schema, FilterSubject: "complaints." + e.ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	if lag, err := one.Lag(e.ctx); err != nil || lag != last-2 { // ids[0] got events 1, 4, ..., 28
		t.Fatalf("filtered Lag = %d, %v; want %d", lag, err, last-2)
	}

	rn := run(t, r)
	waitFor(t, e.ctx, func() (bool, string) {
		lag, err := r.Lag(e.ctx)
		return err == nil && lag == 0, "Lag not 0"
	})
	waitFor(t, e.ctx, func() (bool, string) {
		v, ok := metricValue(t, reader, "kesu.projection.lag", "rec")
		return ok && v == 0, "gauge kesu.projection.lag not 0"
	})
	if n, _ := metricValue(t, reader, "kesu.projection.events_applied", "rec"); n != 30 {
		t.Fatalf("events_applied = %d, want 30", n)
	}
	if n, _ := metricValue(t, reader, "kesu.projection.batches", "rec"); n < 5 {
		t.Fatalf("batches = %d, want >= 5 (30 events in batches of 7)", n)
	}
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
}

// Cancelling Run while a batch is being applied lets that batch commit, and
// Run then returns nil.
func TestCancelFinishesTheBatchInFlight(t *testing.T) {
	e := newEnv(t, 2)
	e.publish(t, 10)
	h := &recorder{entered: make(chan struct{}), release: make(chan struct{})}
	r := newRunner(t, e, h, projection.Config{BatchSize: 100})
	rn := run(t, r)
	select {
	case <-h.entered:
	case <-e.ctx.Done():
		t.Fatal("Apply never called")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- rn.stop() }()
	select {
	case <-rn.done:
		t.Fatalf("Run returned (%v) while its batch was still being applied", rn.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if rows, _ := e.applied(t); rows != 10 {
		t.Fatalf("%d rows after a graceful stop, want the whole batch of 10", rows)
	}
	if cp := e.checkpoint(t, "rec"); cp != 10 {
		t.Fatalf("checkpoint %d, want 10", cp)
	}
}

// Replicas run the same projection; one leads, the other takes over when it
// stops, and no event is applied twice.
func TestReplicasTakeOverWithoutDoubleApply(t *testing.T) {
	e := newEnv(t, 4)
	a := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 8})
	b := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 8})
	ra := run(t, a)
	rb := run(t, b)
	e.publish(t, 40)
	e.waitApplied(t, 40)
	if err := ra.stop(); err != nil {
		t.Fatal(err)
	}
	e.publish(t, 40)
	e.waitApplied(t, 80)
	a2 := newRunner(t, e, &recorder{}, projection.Config{BatchSize: 8})
	run(t, a2)
	if err := rb.stop(); err != nil {
		t.Fatal(err)
	}
	e.publish(t, 40)
	e.waitApplied(t, 120)
}

func TestRunTwiceIsAnError(t *testing.T) {
	e := newEnv(t, 1)
	h := &recorder{entered: make(chan struct{}), release: make(chan struct{})}
	r := newRunner(t, e, h, projection.Config{})
	run(t, r)
	e.publish(t, 1)
	<-h.entered
	defer close(h.release)
	if err := r.Run(e.ctx); !errors.Is(err, projection.ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	e := &env{}
	tests := []struct {
		cfg   projection.Config
		field string
	}{
		{projection.Config{Schema: "s"}, "Name"},
		{projection.Config{Name: "a.b", Schema: "s"}, "Name"},
		{projection.Config{Name: "n"}, "Schema"},
		{projection.Config{Name: "n", Schema: "s", BatchSize: -1}, "BatchSize"},
		{projection.Config{Name: "n", Schema: "s", MaxWait: time.Millisecond}, "MaxWait"},
		{projection.Config{Name: "n", Schema: "s", Stream: "A.B"}, "Stream"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := projection.New(e.pool, e.js, &recorder{}, tt.cfg)
			if !errors.Is(err, projection.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field+":") {
				t.Fatalf("New error = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
}

// syncSpy is a recorder that notes the session's synchronous_commit in each
// batch.
type syncSpy struct {
	recorder
	seen []string
}

func (s *syncSpy) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error {
	var v string
	if err := tx.QueryRow(ctx, "SHOW synchronous_commit").Scan(&v); err != nil {
		return err
	}
	s.recorder.mu.Lock()
	s.seen = append(s.seen, v)
	s.recorder.mu.Unlock()
	return s.recorder.Apply(ctx, tx, events)
}

// Batches commit without waiting for their WAL flush (a lost commit loses
// its checkpoint too), and the connection goes back to the pool as the pool
// made it.
func TestBatchesCommitWithoutWaitingForTheFlush(t *testing.T) {
	e := newEnv(t, 2)
	// The test cluster runs with synchronous_commit off (pgcluster's Fast);
	// these sessions start with it on, as a production server's do.
	cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	pool, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.pool = pool
	e.publish(t, 6)
	spy := &syncSpy{}
	rn := run(t, newRunner(t, e, spy, projection.Config{BatchSize: 2}))
	e.waitApplied(t, 6)
	if err := rn.stop(); err != nil {
		t.Fatal(err)
	}
	spy.recorder.mu.Lock()
	seen := slices.Clone(spy.seen)
	spy.recorder.mu.Unlock()
	if len(seen) == 0 || slices.ContainsFunc(seen, func(v string) bool { return v != "off" }) {
		t.Fatalf("synchronous_commit in the batches: %v, want off", seen)
	}
	// Every pooled connection, the runner's among them, is back to "on".
	conns := make([]*pgxpool.Conn, 0, e.pool.Stat().TotalConns())
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range e.pool.Stat().TotalConns() {
		c, err := e.pool.Acquire(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var v string
		if err := c.QueryRow(e.ctx, "SHOW synchronous_commit").Scan(&v); err != nil || v != "on" {
			t.Fatalf("a pooled connection has synchronous_commit %q (%v), want on", v, err)
		}
	}
}
