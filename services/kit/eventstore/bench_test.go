package eventstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natsembed"
	"github.com/kesu315/kesu/services/kit/natstest"
)

const (
	benchComplaints = 64
	benchPayload    = 512
	rawStream       = "RAWBENCH"
	benchRounds     = 8
)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkAppend measures Store.Append with its concurrency check (64
// complaints, one goroutine each appending in sequence with the right
// expectation) against plain js.PublishAsync of the same payload size to a
// stream of the same configuration, on the same server in the same run.
// Two more baselines have Append's shape (64 goroutines, each waiting for
// its ack): plain synchronous js.Publish, and the same carrying Append's
// headers. They show how much of the gap to PublishAsync is waiting for
// acks, how much the server's checks of the contract headers, and how much
// the store itself. ns/op is the Append phase only.
func BenchmarkAppend(b *testing.B) {
	type target struct {
		name     string
		replicas int
		nc       *nats.Conn
	}
	srv := natstest.StartServer(b)
	// The same single node without `sync always` shows the store's own CPU
	// cost, which fsync per message hides.
	noSync := natstest.StartServer(b, func(o *natsembed.Options) { o.SyncAlways = false })
	targets := []target{{"single", 1, srv.Connect(b)}, {"single-nosync", 1, noSync.Connect(b)}}
	if !testing.Short() {
		c := natstest.StartCluster(b, 3)
		targets = append(targets, target{"cluster3", 3, c.Connect(b)})
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			benchAppendVsRaw(b, tg.nc, tg.replicas)
		})
	}
}

func benchAppendVsRaw(b *testing.B, nc *nats.Conn, replicas int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	cfg := eventstore.Config{Replicas: replicas, MaxBytes: 8 << 30}
	if _, err := eventstore.EnsureComplaints(ctx, js, cfg); err != nil {
		b.Fatal(err)
	}
	rawCfg, err := eventstore.ComplaintsStreamConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	rawCfg.Name, rawCfg.Subjects = rawStream, []string{"rawbench.*"}
	if _, err := js.CreateOrUpdateStream(ctx, rawCfg); err != nil {
		b.Fatal(err)
	}
	store, err := eventstore.New(nc, js, eventstore.StoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}

	var rawErrs atomic.Int64
	rawJS, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		rawErrs.Add(1)
	}))
	if err != nil {
		b.Fatal(err)
	}
	subjects := make([]string, benchComplaints)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("rawbench.%d", i)
	}
	ids := make([]string, benchComplaints)
	lasts := make([]uint64, benchComplaints)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}

	// The phases alternate in rounds so that drift in the machine (disk
	// latency, other load, stream growth) hits both alike.
	rounds := min(benchRounds, b.N)
	var appendDur, rawDur, syncDur, hdrDur time.Duration
	hdrSubjects := make([]string, benchComplaints)
	hdrLasts := make([]uint64, benchComplaints)
	run := uuid.NewString() // the server outlives this function: fresh subjects
	for i := range hdrSubjects {
		hdrSubjects[i] = fmt.Sprintf("rawbench.h%d-%s", i, run)
	}
	b.ResetTimer()
	for r := range rounds {
		n := b.N/rounds + boolInt(r < b.N%rounds)

		// Store.Append: 64 complaints in parallel, each in sequence.
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Value
		for w := range benchComplaints {
			k := n/benchComplaints + boolInt(w < n%benchComplaints)
			if k == 0 {
				continue
			}
			wg.Go(func() {
				for range k {
					app, err := store.Append(ctx, ids[w], lasts[w], eventstore.Event{
						ID: uuid.NewString(), Type: "ContactAdded", Schema: 1, Data: payload,
					})
					if err != nil {
						failed.Store(err)
						return
					}
					lasts[w] = app.Last()
				}
			})
		}
		wg.Wait()
		appendDur += time.Since(start)
		b.StopTimer()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("append: %v", err)
		}

		// The baseline: plain async publish of the same payload size.
		start = time.Now()
		for i := range n {
			// Waiting when the default 4000 acks are outstanding is the
			// baseline's own flow control, not a failure.
			if _, err := rawJS.PublishAsync(subjects[i%benchComplaints], payload, jetstream.WithStallWait(time.Minute)); err != nil {
				b.Fatalf("publish async: %v", err)
			}
		}
		select {
		case <-rawJS.PublishAsyncComplete():
		case <-ctx.Done():
			b.Fatalf("raw publishes not acknowledged: %v", ctx.Err())
		}
		rawDur += time.Since(start)
		if n := rawErrs.Load(); n > 0 {
			b.Fatalf("%d raw publishes failed", n)
		}

		// A second baseline with Append's shape: plain synchronous publish,
		// 64 goroutines each waiting for its ack. It separates what the
		// store costs from what waiting for each ack costs.
		start = time.Now()
		for w := range benchComplaints {
			k := n/benchComplaints + boolInt(w < n%benchComplaints)
			wg.Go(func() {
				for range k {
					if _, err := rawJS.Publish(ctx, subjects[w], payload); err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
		wg.Wait()
		syncDur += time.Since(start)
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("sync publish: %v", err)
		}

		// The same with the headers Append sends (message id, event type,
		// schema, expected last subject sequence): what is left between
		// this and Append is the store's own client-side cost.
		start = time.Now()
		for w := range benchComplaints {
			k := n/benchComplaints + boolInt(w < n%benchComplaints)
			wg.Go(func() {
				for range k {
					m := nats.NewMsg(hdrSubjects[w])
					m.Data = payload
					m.Header.Set(eventstore.HeaderEventType, "ContactAdded")
					m.Header.Set(eventstore.HeaderSchema, "1")
					ack, err := rawJS.PublishMsg(ctx, m, jetstream.WithMsgID(uuid.NewString()),
						jetstream.WithExpectLastSequencePerSubject(hdrLasts[w]))
					if err != nil {
						failed.Store(err)
						return
					}
					hdrLasts[w] = ack.Sequence
				}
			})
		}
		wg.Wait()
		hdrDur += time.Since(start)
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("sync publish with headers: %v", err)
		}
	}

	appendRate := float64(b.N) / appendDur.Seconds()
	rawRate := float64(b.N) / rawDur.Seconds()
	syncRate := float64(b.N) / syncDur.Seconds()
	hdrRate := float64(b.N) / hdrDur.Seconds()
	b.ReportMetric(appendRate, "appends/s")
	b.ReportMetric(rawRate, "raw_publish/s")
	b.ReportMetric(appendRate/rawRate, "ratio")
	b.ReportMetric(appendRate/syncRate, "ratio_sync64")
	b.ReportMetric(appendRate/hdrRate, "ratio_sync64_hdr")
	b.Logf("R%d n=%d eventstore.Append: %.0f/s  raw PublishAsync: %.0f/s  ratio %.2f"+
		"  (sync Publish x64: %.0f/s, ratio %.2f; with Append's headers: %.0f/s, ratio %.2f)",
		replicas, b.N, appendRate, rawRate, appendRate/rawRate, syncRate, appendRate/syncRate, hdrRate, appendRate/hdrRate)
}
