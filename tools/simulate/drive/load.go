package drive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// LoadOptions says how hard to push.
type LoadOptions struct {
	Policy *policy.Policy
	Seed   uint64
	// Rate is filings per second; 0 sends as fast as Concurrency allows.
	Rate float64
	// Duration of the run; default 10 s.
	Duration time.Duration
	// Concurrency is how many filings are in flight at most; default 32.
	Concurrency int
	// RunID makes this run's requests new to intake; default from the wall clock.
	RunID string
	// Queue, when set, measures filing → visible in its queue.
	Queue QueueProbe
	// ProbeEvery is how often the probe asks about the filings not yet
	// seen; default 10 ms. It bounds how late a sighting can be noted.
	ProbeEvery time.Duration
	// ProbeSample is how far apart the filings the probe follows are sent;
	// default 20 ms (50 a second, whatever the rate). Following every
	// filing at 2 000/s would load routing with the probe's own reads.
	ProbeSample time.Duration
	// Baseline publishes the same number of same-sized messages to a scratch
	// JetStream stream after the run, with the same concurrency: the floor
	// any Kesu figure stands on. Needs the target's JetStream.
	Baseline bool
	// CopyBaseline, when set, also COPYs as many rows of the same size into a
	// scratch PostgreSQL table after the run: the floor of the projections'
	// writes.
	CopyBaseline *pgxpool.Pool
	// Progress receives a line per second; nil prints nothing.
	Progress io.Writer
}

// QueueProbe tells when filed complaints become visible in a work queue
// (routing's projection, read through routing's API: casework.Routing).
type QueueProbe interface {
	// Visible returns those of ids (complaints of shop) that are in a queue
	// or assigned now.
	Visible(ctx context.Context, shopID string, ids []string) (map[string]bool, error)
}

// Percentiles summarise latencies.
type Percentiles struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarise computes percentiles (nearest rank); ds is sorted in place.
func Summarise(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Percentiles{N: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ds[len(ds)-1]}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "n/a"
	}
	r := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", r(p.P50), r(p.P90), r(p.P99), r(p.Max), p.N)
}

// LoadReport is what a load run measured.
type LoadReport struct {
	Target  string // "rate 500/s" or "max"
	Elapsed time.Duration
	Sent    int
	OK      int
	// Errors by gRPC code.
	Errors     map[string]int
	Throughput float64 // successful filings per second
	Filing     Percentiles
	// Visible is filing → visible in its queue; N = 0 when not measured.
	Visible        Percentiles
	VisibleMissing int
	// VisibleOverTime is Visible per LagWindow of the run (by when the
	// filing was sent): how far behind the projection fell as load went on.
	VisibleOverTime []Percentiles
	LagWindow       time.Duration
	// ProbeSample and ProbeEvery are how Visible was sampled (LoadOptions).
	ProbeSample, ProbeEvery time.Duration
	// PerSecond is the filings completed in each second of the run.
	PerSecond []int
	Baseline  *BaselineReport
	Copy      *CopyReport
}

// CopyReport is the raw PostgreSQL COPY measured in the same run.
type CopyReport struct {
	Rows       int
	Bytes      int // per row
	Elapsed    time.Duration
	Throughput float64 // rows per second
}

// BaselineReport is the raw JetStream publish measured in the same run.
type BaselineReport struct {
	Messages   int
	Bytes      int // per message
	Elapsed    time.Duration
	Throughput float64
	Publish    Percentiles
}

// Load files generated complaints through intake's gRPC API at a rate (or
// as fast as possible) for a duration.
func Load(ctx context.Context, t *Target, o LoadOptions) (*LoadReport, error) {
	if o.Policy == nil {
		return nil, errors.New("load: policy required")
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = 10 * time.Millisecond
	}
	if o.ProbeSample <= 0 {
		o.ProbeSample = 20 * time.Millisecond
	}
	if o.RunID == "" {
		o.RunID = "load" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	// A pool of contacts, reused with new ids until the time is up: each
	// round is new disputes to intake.
	pool := 20000
	if o.Rate > 0 {
		pool = min(max(int(o.Rate*o.Duration.Seconds())+1, 100), pool)
	}
	s, err := season.Generate(season.Config{Policy: o.Policy, Seed: o.Seed, Complaints: pool, RunID: o.RunID})
	if err != nil {
		return nil, err
	}
	contacts := s.Contacts

	rep := &LoadReport{Target: "max", Errors: map[string]int{}, LagWindow: max(o.Duration/10, time.Second),
		ProbeSample: o.ProbeSample, ProbeEvery: o.ProbeEvery}
	if o.Rate > 0 {
		rep.Target = fmt.Sprintf("rate %g/s", o.Rate)
	}
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	type filed struct {
		shop, id string
		at       time.Time
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		perSecond []int
		visible   []time.Duration
		byWindow  [][]time.Duration
		pending   = map[string]filed{}
		sampled   time.Time // send time of the last filing the probe follows
		sent      atomic.Int64
	)
	begin := time.Now()
	work := make(chan season.Contact, o.Concurrency)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				// Filing continues past the deadline for what was sent.
				out := t.Send(context.WithoutCancel(runCtx), c)
				done := time.Now()
				mu.Lock()
				if out.Err != nil {
					rep.Errors[status.Code(out.Err).String()]++
				} else {
					rep.OK++
					latencies = append(latencies, out.Latency)
					sec := int(done.Sub(begin) / time.Second)
					for len(perSecond) <= sec {
						perSecond = append(perSecond, 0)
					}
					perSecond[sec]++
					if at := done.Add(-out.Latency); o.Queue != nil && out.Created && at.Sub(sampled) >= o.ProbeSample {
						sampled = at
						pending[out.ComplaintID] = filed{shop: c.ShopID, id: out.ComplaintID, at: at}
					}
				}
				mu.Unlock()
			}
		}()
	}

	// The queue watcher polls the probe for what was filed and not yet seen.
	watchDone := make(chan struct{})
	if o.Queue != nil {
		go func() {
			defer close(watchDone)
			tick := time.NewTicker(o.ProbeEvery)
			defer tick.Stop()
			grace := time.Time{}
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				mu.Lock()
				byShop := map[string][]string{}
				for id, f := range pending {
					byShop[f.shop] = append(byShop[f.shop], id)
				}
				mu.Unlock()
				for shop, ids := range byShop {
					for chunk := range slices.Chunk(ids, 2000) {
						seen, err := o.Queue.Visible(ctx, shop, chunk)
						if err != nil {
							continue
						}
						now := time.Now()
						mu.Lock()
						for id := range seen {
							if f, ok := pending[id]; ok && seen[id] {
								d := now.Sub(f.at)
								visible = append(visible, d)
								w := max(int(f.at.Sub(begin)/rep.LagWindow), 0)
								for len(byWindow) <= w {
									byWindow = append(byWindow, nil)
								}
								byWindow[w] = append(byWindow[w], d)
								delete(pending, id)
							}
						}
						mu.Unlock()
					}
				}
				// After the run, give the projection 10 s to catch up.
				if runCtx.Err() != nil {
					if grace.IsZero() {
						grace = time.Now().Add(10 * time.Second)
					}
					mu.Lock()
					n := len(pending)
					mu.Unlock()
					if n == 0 || time.Now().After(grace) {
						return
					}
				}
			}
		}()
	} else {
		close(watchDone)
	}

	// Progress, once a second.
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		if o.Progress == nil {
			return
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := 0
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			mu.Lock()
			ok, errs := rep.OK, 0
			for _, n := range rep.Errors {
				errs += n
			}
			mu.Unlock()
			fmt.Fprintf(o.Progress, "  %5.0fs  filed %7d  (%5d/s)  errors %d\n", time.Since(begin).Seconds(), ok, ok-last, errs)
			last = ok
		}
	}()

	// Dispatch: on schedule at Rate, or as fast as the workers take them.
dispatch:
	for i := 0; ; i++ {
		if o.Rate > 0 {
			due := begin.Add(time.Duration(float64(i) / o.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-runCtx.Done():
					break dispatch
				}
			}
		}
		c := contacts[i%len(contacts)]
		if round := i / len(contacts); round > 0 {
			sfx := "-r" + strconv.Itoa(round)
			c.OrderID += sfx
			c.Customer.Ref += sfx
		}
		c.RequestID = o.RunID + "-" + strconv.Itoa(i)
		c.Via = season.ViaGRPC
		select {
		case work <- c:
			sent.Add(1)
		case <-runCtx.Done():
			break dispatch
		}
	}
	close(work)
	wg.Wait()
	rep.Elapsed = time.Since(begin)
	<-progDone
	<-watchDone
	rep.Sent = int(sent.Load())
	rep.Throughput = float64(rep.OK) / rep.Elapsed.Seconds()
	rep.Filing = Summarise(latencies)
	rep.PerSecond = perSecond
	if o.Queue != nil {
		rep.Visible = Summarise(visible)
		rep.VisibleMissing = len(pending)
		for _, w := range byWindow {
			rep.VisibleOverTime = append(rep.VisibleOverTime, Summarise(w))
		}
	}

	if o.Baseline {
		if t.JS == nil {
			return rep, errors.New("load: the baseline needs NATS (--nats-url)")
		}
		b, err := proto.Marshal(contacts[0].FileRequest())
		if err != nil {
			return rep, err
		}
		n := max(rep.OK, 1000)
		base, err := Baseline(ctx, t.JS, n, len(b), o.Concurrency)
		if err != nil {
			return rep, err
		}
		rep.Baseline = base
	}
	if o.CopyBaseline != nil {
		b, err := proto.Marshal(contacts[0].FileRequest())
		if err != nil {
			return rep, err
		}
		c, err := CopyBaseline(ctx, o.CopyBaseline, max(rep.OK, 1000), len(b))
		if err != nil {
			return rep, err
		}
		rep.Copy = c
	}
	return rep, nil
}

// CopyBaseline COPYs n rows of size bytes (plus a bigint key with a primary
// key index, as every projection row has one) into a scratch logged table in
// chunks of 1 000, one transaction each, then drops the table.
func CopyBaseline(ctx context.Context, pool *pgxpool.Pool, n, size int) (*CopyReport, error) {
	const table = "simulate_copy_baseline"
	if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS `+table+`; CREATE TABLE `+table+` (id bigint PRIMARY KEY, body bytea NOT NULL)`); err != nil {
		return nil, fmt.Errorf("copy baseline table: %w", err)
	}
	defer func() { _, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+table) }()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	const chunk = 1000
	begin := time.Now()
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "body"},
			pgx.CopyFromSlice(hi-lo, func(i int) ([]any, error) { return []any{int64(lo + i), payload}, nil })); err != nil {
			return nil, fmt.Errorf("copy baseline: %w", err)
		}
	}
	elapsed := time.Since(begin)
	return &CopyReport{Rows: n, Bytes: size, Elapsed: elapsed, Throughput: float64(n) / elapsed.Seconds()}, nil
}

// Baseline publishes n messages of size bytes to a scratch file stream,
// replicated as the complaints' stream is (one replica when there is none
// yet), with concurrency publishers, each waiting for its acknowledgement,
// then deletes the stream.
func Baseline(ctx context.Context, js jetstream.JetStream, n, size, concurrency int) (*BaselineReport, error) {
	const name = "SIMULATE_BASELINE"
	replicas := 1
	if st, err := js.Stream(ctx, eventstore.StreamComplaints); err == nil {
		replicas = st.CachedInfo().Config.Replicas
	}
	// A replicated stream is created by the cluster's meta leader, which a
	// run that just saturated the machine may keep busy past the client's
	// default 5 s.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{"simulate.baseline.>"}, Storage: jetstream.FileStorage, Replicas: replicas,
	}); err != nil {
		return nil, fmt.Errorf("baseline stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), name) }()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, concurrency)
	errs := make([]error, concurrency)
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				start := time.Now()
				if _, err := js.Publish(ctx, "simulate.baseline."+strconv.Itoa(int(i%16)), payload); err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(start))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("baseline publish: %w", err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return &BaselineReport{Messages: n, Bytes: size, Elapsed: elapsed,
		Throughput: float64(n) / elapsed.Seconds(), Publish: Summarise(all)}, nil
}

// Print writes the report for people.
func (r *LoadReport) Print(w io.Writer) {
	errs := 0
	for _, n := range r.Errors {
		errs += n
	}
	fmt.Fprintf(w, "load (%s) for %s: %d sent, %d filed, %d errors", r.Target, r.Elapsed.Round(time.Millisecond), r.Sent, r.OK, errs)
	if errs > 0 {
		fmt.Fprintf(w, " %v", r.Errors)
	}
	fmt.Fprintf(w, "\n  throughput            %.0f filings/s\n", r.Throughput)
	fmt.Fprintf(w, "  filing latency        %s\n", r.Filing)
	if r.Visible.N > 0 || r.VisibleMissing > 0 {
		fmt.Fprintf(w, "  filing → in queue     %s  (%d never seen; a filing every %s followed, asked every %s)\n",
			r.Visible, r.VisibleMissing, r.ProbeSample, r.ProbeEvery)
		for i, p := range r.VisibleOverTime {
			if p.N > 0 {
				fmt.Fprintf(w, "    sent %6s–%-6s  %s\n", time.Duration(i)*r.LagWindow, time.Duration(i+1)*r.LagWindow, p)
			}
		}
	} else {
		fmt.Fprintf(w, "  filing → in queue     not measured (no routing address)\n")
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  raw JetStream publish %.0f msgs/s (%d × %d B)  %s\n", b.Throughput, b.Messages, b.Bytes, b.Publish)
		if b.Throughput > 0 && b.Publish.P99 > 0 {
			fmt.Fprintf(w, "  ratio                 throughput %.2f× of raw publish, p99 %.1f× raw publish p99\n",
				r.Throughput/b.Throughput, float64(r.Filing.P99)/float64(b.Publish.P99))
		}
	}
	if c := r.Copy; c != nil {
		fmt.Fprintf(w, "  raw PostgreSQL COPY   %.0f rows/s (%d × %d B, 1 000 rows per COPY)\n", c.Throughput, c.Rows, c.Bytes)
		if c.Throughput > 0 {
			fmt.Fprintf(w, "  ratio                 throughput %.3f× of raw COPY\n", r.Throughput/c.Throughput)
		}
	}
}
