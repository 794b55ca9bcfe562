package adapters_test

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"

	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/intake/internal/app"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/natstest"
)

const benchClients = 64

// BenchmarkFileComplaint measures FileComplaint over gRPC with 64 concurrent
// clients, each complaint from a new customer (a new data key, the costly
// case) about an order, against raw JetStream publishing of messages of the
// mean stored event size on the same servers in the same run: PublishAsync
// (everything in flight) and 64 synchronous publishers (FileComplaint's
// shape). It then paces 2 000 filings/s (half the measured rate when that is
// below 2 000/s) for a few seconds and reports the latency percentiles. It
// also reports the process CPU time per filing and per raw publish (the NATS
// servers run in this process; Postgres does not), the figure that stays
// comparable when other tenants of the machine take a varying share of it,
// and the mean time of each step of a filing (app.Steps).
// KESU_BENCH_CPUPROFILE=<path> writes a CPU profile of the filing phase alone.
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

	app.ResetSteps()
	b.ResetTimer()
	stopProfile := profileFiling(b)
	cpu0 := cpuTime()
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
	cpuFile := cpuTime() - cpu0
	stopProfile()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d filings failed", failed.Load())
	}
	rate := float64(b.N) / elapsed.Seconds()
	steps := app.Steps()

	size := storedEventSize(b, nc)
	raw := rawPublish(b, nc, b.N, size, true)
	cpu0 = cpuTime()
	sync64 := rawPublish(b, nc, b.N, size, false)
	cpuRaw := cpuTime() - cpu0
	// Pacing 2 000/s on a server that files fewer per second only measures a
	// queue growing: report the latency where the pace is sustainable.
	var p50, p99 time.Duration
	var errs int64 = -1
	pace := 2000
	if rate < 2000 {
		// Below the target's pace: latency where this server keeps up.
		pace = int(rate / 2)
	}
	if b.N >= 1000 && pace > 0 {
		p50, p99, errs = paced(b, file, pace, 3*time.Second)
		b.ReportMetric(float64(p50.Microseconds())/1000, fmt.Sprintf("p50_ms@%d/s", pace))
		b.ReportMetric(float64(p99.Microseconds())/1000, fmt.Sprintf("p99_ms@%d/s", pace))
	}

	b.ReportMetric(rate, "complaints/s")
	b.ReportMetric(raw, "raw_async/s")
	b.ReportMetric(rate/raw, "ratio")
	b.ReportMetric(rate/sync64, "ratio_sync64")
	b.ReportMetric(sync64, "raw_sync64/s")
	// CPU time of this process (the NATS servers run in it, Postgres does
	// not) per filing and per raw publish: what bounds the rate on a
	// machine whose other tenants take a varying share of the cores.
	cpuPerFiling := cpuFile / time.Duration(b.N)
	cpuPerPublish := cpuRaw / time.Duration(b.N)
	b.ReportMetric(float64(cpuPerFiling.Microseconds()), "cpu_us/filing")
	b.ReportMetric(float64(cpuPerPublish.Microseconds()), "cpu_us/raw_publish")
	b.Logf("process CPU per filing %s, per raw sync publish %s (cost ratio %.1f); filing ran on %.2f cores on average",
		cpuPerFiling, cpuPerPublish, float64(cpuPerFiling)/float64(max(cpuPerPublish, 1)), cpuFile.Seconds()/elapsed.Seconds())
	b.Logf("n=%d FileComplaint: %.0f/s  raw PublishAsync (%d B, the mean stored event): %.0f/s  ratio %.2f  raw sync publish x64: %.0f/s  ratio %.2f  paced %d/s for 3s: p50 %s p99 %s, %d failed",
		b.N, rate, size, raw, rate/raw, sync64, rate/sync64, pace, p50, p99, errs)
	b.Logf("mean per step while 64 clients filed (seal and index_read overlap in prepare): %s", stepLine(steps))
}

// profileFiling writes a CPU profile of the filing phase alone (no set-up,
// no raw baseline) to $KESU_BENCH_CPUPROFILE.<sub-benchmark> when set.
func profileFiling(b *testing.B) func() {
	path := os.Getenv("KESU_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path + "." + strings.ReplaceAll(b.Name(), "/", "_"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// cpuTime is the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stepLine formats the per-step counts and mean durations.
func stepLine(steps map[string]app.StepStats) string {
	var out []string
	for _, name := range []string{app.StepTotal, app.StepPrepare, app.StepSeal, app.StepIndexRead, app.StepAppend,
		app.StepResolve, app.StepFold} {
		st := steps[name]
		if st.Count == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s (n=%d)", name, st.Mean().Round(10*time.Microsecond), st.Count))
	}
	return strings.Join(out, ", ")
}

// storedEventSize is the mean size of the events the filings stored (payload
// and headers), so the raw baseline publishes messages of the same size.
func storedEventSize(b *testing.B, nc *nats.Conn) int {
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	st, err := js.Stream(context.Background(), "COMPLAINTS")
	if err != nil {
		b.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil || info.State.Msgs == 0 {
		b.Fatalf("COMPLAINTS stream info: %v", err)
	}
	return int(info.State.Bytes / info.State.Msgs)
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
			if _, err := js.PublishAsync(fmt.Sprintf("%s.%d", name, i%1000), payload, jetstream.WithStallWait(time.Minute)); err != nil {
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
