package projection_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natstest"
	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/projection"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const schema = "proj"

type env struct {
	ctx  context.Context
	pool *pgxpool.Pool
	js   jetstream.JetStream
	ids  []string // complaint ids events are spread over
}

func newEnv(t *testing.T, complaints int) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{ctx: ctx, pool: pgtest.NewDB(t), js: natstest.StartServer(t).JetStream(t)}
	if _, err := eventstore.EnsureComplaints(ctx, e.js, eventstore.Config{}); err != nil {
		t.Fatal(err)
	}
	for range complaints {
		e.ids = append(e.ids, uuid.Must(uuid.NewV7()).String())
	}
	e.exec(t, `CREATE SCHEMA `+schema+`;
CREATE TABLE `+schema+`.applied (
	id           bigserial PRIMARY KEY, -- application order; deliberately nothing unique per event
	stream_seq   bigint NOT NULL,
	event_id     text NOT NULL,
	complaint_id text NOT NULL,
	type         text NOT NULL
)`)
	return e
}

func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := e.pool.Exec(e.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) int(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.pool.QueryRow(e.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// publish appends n events round-robin over the env's complaints with plain
// JetStream publishes, and returns the last stream sequence.
func (e *env) publish(t *testing.T, n int) uint64 {
	t.Helper()
	var last uint64
	types := []string{"ComplaintFiled", "ContactAdded", "ComplaintRouted", "AgentResponded"}
	for i := range n {
		id := e.ids[i%len(e.ids)]
		msg := &nats.Msg{Subject: "complaints." + id, Header: nats.Header{}, Data: []byte("payload " + strconv.Itoa(i))}
		msg.Header.Set(eventstore.HeaderMsgID, uuid.Must(uuid.NewV7()).String())
		msg.Header.Set(eventstore.HeaderEventType, types[i%len(types)])
		msg.Header.Set(eventstore.HeaderSchema, "1")
		ack, err := e.js.PublishMsg(e.ctx, msg)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		last = ack.Sequence
	}
	return last
}

// applied is how many rows the recorder wrote, and how many distinct events.
func (e *env) applied(t *testing.T) (rows, distinct int64) {
	t.Helper()
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*), count(DISTINCT stream_seq) FROM `+schema+`.applied`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// waitApplied polls until want rows are applied and fails if any event was
// applied twice.
func (e *env) waitApplied(t *testing.T, want int64) {
	t.Helper()
	waitFor(t, e.ctx, func() (bool, string) {
		rows, distinct := e.applied(t)
		if rows != distinct {
			t.Fatalf("%d rows for %d distinct events: an event was applied twice", rows, distinct)
		}
		return rows == want, fmt.Sprintf("%d of %d events applied", rows, want)
	})
	if n := e.int(t, `SELECT count(*) FROM (SELECT stream_seq < lag(stream_seq) OVER (ORDER BY id) AS back FROM `+schema+`.applied) s WHERE back`); n != 0 {
		t.Fatalf("%d events applied out of stream order", n)
	}
}

func waitFor(t *testing.T, ctx context.Context, cond func() (bool, string)) {
	t.Helper()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting: %s", why)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// recorder is a projection that INSERTs one row per event.
type recorder struct {
	mu        sync.Mutex
	failFirst int      // fail this many Apply calls
	calls     int      // Apply calls so far
	seenCP    []uint64 // checkpoint seen inside each Apply's transaction
	entered   chan struct{}
	release   chan struct{}
}

func (h *recorder) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Record) error {
	var cp int64
	if err := tx.QueryRow(ctx, `SELECT stream_seq FROM `+schema+`.projection_checkpoints WHERE name = 'rec'`).Scan(&cp); err != nil {
		return err
	}
	h.mu.Lock()
	h.calls++
	call := h.calls
	h.seenCP = append(h.seenCP, uint64(cp))
	h.mu.Unlock()
	if h.entered != nil && call == 1 {
		close(h.entered)
		<-h.release
	}
	if call <= h.failFirst {
		return errors.New("handler failure for the test")
	}
	b := &pgx.Batch{}
	for _, ev := range events {
		b.Queue(`INSERT INTO `+schema+`.applied (stream_seq, event_id, complaint_id, type) VALUES ($1, $2, $3, $4)`,
			int64(ev.StreamSeq), ev.ID, ev.ComplaintID, ev.Type)
	}
	return tx.SendBatch(ctx, b).Close()
}

// committer is a recorder told of each batch that committed.
type committer struct {
	recorder
	n atomic.Int64
}

func (c *committer) Committed() { c.n.Add(1) }

func newRunner(t *testing.T, e *env, h projection.Handler, cfg projection.Config) *projection.Runner {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "rec"
	}
	cfg.Schema = schema
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	r, err := projection.New(e.pool, e.js, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	projection.FastRetry(r)
	return r
}

// running is a Run in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, once done is closed
}

// run starts r.Run; it is stopped at cleanup.
func run(t *testing.T, r *projection.Runner) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rn := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		rn.err = r.Run(ctx)
		close(rn.done)
	}()
	t.Cleanup(func() { _ = rn.stop() })
	return rn
}

// stop cancels Run and returns its result.
func (rn *running) stop() error {
	rn.cancel()
	<-rn.done
	return rn.err
}

func (e *env) checkpoint(t *testing.T, name string) uint64 {
	t.Helper()
	return uint64(e.int(t, `SELECT stream_seq FROM `+schema+`.projection_checkpoints WHERE name = $1`, name))
}

// metricValue reads an int64 sum or gauge point of the projection.
func metricValue(t *testing.T, reader *sdkmetric.ManualReader, name, projection string) (int64, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	want := attribute.String("projection", projection)
	var total int64
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				if v, ok := p.Attributes.Value(want.Key); ok && v.AsString() == projection {
					total += p.Value
					found = true
				}
			}
		}
	}
	return total, found
}
