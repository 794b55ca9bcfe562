package adapters_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/natstest"
)

const benchClients = 64

// BenchmarkFileComplaint measures FileComplaint over gRPC with 64 concurrent
// clients, each complaint from a new customer (a new data key, the costly
// case), against raw JetStream publishing of the same event size on the same
// server in the same run: PublishAsync (everything in flight) and 64
// synchronous publishers (FileComplaint's shape). It then paces 2 000
// filings/s for a few seconds and reports the latency percentiles.
//
// The servers: a single node with sync_interval always (a single-node
// install, durable by fsync) and a three-node R3 cluster (production, durable
// by replication).
func BenchmarkFileComplaint(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		ns := natstest.StartServer(b)
		benchFile(b, startIntakeOn(b, ns.URL, 1), ns.Connect(b))
	})
	b.Run("cluster3", func(b *testing.B) {
		c := natstest.StartCluster(b, 3)
		benchFile(b, startIntakeOn(b, c.URLs, 3), c.Connect(b))
	})
}

func benchFile(b *testing.B, s *stack, nc *nats.Conn) {
	// The token of as(), without its 30 s deadline: a run takes longer.
	md, _ := metadata.FromOutgoingContext(as(b, auth.RoleIntegration, 0))
	ctx := metadata.NewOutgoingContext(context.Background(), md)
	var seq atomic.Int64
	file := func(prefix string) (time.Duration, error) {
		n := seq.Add(1)
		r := request(fmt.Sprintf("%s-%d", prefix, n))
		r.OrderId = fmt.Sprintf("ORDER-B-%d", n)
		r.Customer = &intakev1.Customer{CustomerRef: fmt.Sprintf("buyer-%d", n), Name: "王芳", Phone: "13800001234"}
		start := time.Now()
		_, err := s.client.FileComplaint(ctx, r)
		return time.Since(start), err
	}
	// Warm up connections, key cache paths and the projection.
	for range 50 {
		if _, err := file("warm"); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := atomic.Int64{}
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := file("bench"); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d filings failed", failed.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()

	size := benchEventSize(b)
	raw := rawPublish(b, nc, b.N, size, true)
	sync64 := rawPublish(b, nc, b.N, size, false)
	// Pacing 2 000/s on a server that files fewer per second only measures a
	// queue growing: report the latency where the pace is sustainable.
	var p50, p99 time.Duration
	var errs int64 = -1
	if rate >= 2000 && b.N >= 1000 {
		p50, p99, errs = paced(b, file, 2000, 3*time.Second)
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms@2000/s")
	}

	b.ReportMetric(rate, "complaints/s")
	b.ReportMetric(raw, "raw_async/s")
	b.ReportMetric(rate/raw, "ratio")
	b.ReportMetric(rate/sync64, "ratio_sync64")
	b.Logf("n=%d FileComplaint: %.0f/s  raw PublishAsync (%d B): %.0f/s  ratio %.2f  raw sync publish x64: %.0f/s  ratio %.2f  paced 2000/s for 3s: p50 %s p99 %s, %d failed",
		b.N, rate, size, raw, rate/raw, sync64, rate/sync64, p50, p99, errs)
}

// benchEventSize is the size of the ComplaintFiled a benchmark request makes.
func benchEventSize(b *testing.B) int {
	r := request("size")
	return proto.Size(r) + 200 // + envelope, sealing overhead and classification
}

// rawPublish publishes n messages of size bytes to a stream of the same
// storage on the same server: all in flight (PublishAsync) or from 64
// goroutines each waiting for its ack.
func rawPublish(b *testing.B, nc *nats.Conn, n, size int, async bool) float64 {
	b.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	name := fmt.Sprintf("RAW%d", time.Now().UnixNano())
	cfg := jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage, Replicas: len(nc.Servers())}
	if cfg.Replicas > 3 || cfg.Replicas < 1 {
		cfg.Replicas = 1
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		cfg.Replicas = 1
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			b.Fatal(err)
		}
	}
	defer js.DeleteStream(ctx, name)
	payload := make([]byte, size)
	start := time.Now()
	if async {
		for i := range n {
			if _, err := js.PublishAsync(fmt.Sprintf("%s.%d", name, i%1000), payload); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(5 * time.Minute):
			b.Fatal("raw publish did not complete")
		}
	} else {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range benchClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					if _, err := js.Publish(ctx, fmt.Sprintf("%s.%d", name, i%1000), payload); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	return float64(n) / time.Since(start).Seconds()
}

// paced files at a fixed rate for d and returns the latency p50 and p99 and
// how many calls failed (a server that cannot keep the pace times out).
func paced(b *testing.B, file func(string) (time.Duration, error), perSecond int, d time.Duration) (time.Duration, time.Duration, int64) {
	b.Helper()
	total := int(float64(perSecond) * d.Seconds())
	lat := make([]time.Duration, total)
	interval := time.Second / time.Duration(perSecond)
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := file("paced")
			if err != nil {
				failed.Add(1)
			}
			lat[i] = l
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat[total/2], lat[total*99/100], failed.Load()
}
