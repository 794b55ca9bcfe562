package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckTimeout bounds each readiness check, so a hung dependency makes the
// probe fail rather than hang.
const CheckTimeout = 2 * time.Second

// Readiness collects the checks behind /readyz. A process is ready when it is
// not draining and every check passes.
type Readiness struct {
	mu       sync.Mutex
	checks   map[string]func(context.Context) error
	draining atomic.Bool
}

// NewReadiness returns an empty set of checks (ready until one is added).
func NewReadiness() *Readiness {
	return &Readiness{checks: make(map[string]func(context.Context) error)}
}

// Add registers a named check, e.g. "nats" or "postgres"; a later check with
// the same name replaces the earlier one.
func (r *Readiness) Add(name string, check func(context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// SetDraining marks the process as shutting down: /readyz fails from then on
// so load balancers stop sending work before the servers stop.
func (r *Readiness) SetDraining() { r.draining.Store(true) }

// CheckResult is the outcome of one readiness check.
type CheckResult struct {
	Name string
	Err  error
}

// Check runs every check concurrently and reports whether all passed.
func (r *Readiness) Check(ctx context.Context) (bool, []CheckResult) {
	r.mu.Lock()
	names := make([]string, 0, len(r.checks))
	fns := make([]func(context.Context) error, 0, len(r.checks))
	for n := range r.checks {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fns = append(fns, r.checks[n])
	}
	r.mu.Unlock()

	results := make([]CheckResult, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			results[i] = CheckResult{Name: names[i], Err: fns[i](cctx)}
		})
	}
	wg.Wait()
	ok := !r.draining.Load()
	for _, res := range results {
		if res.Err != nil {
			ok = false
		}
	}
	return ok, results
}

// ServeHTTP answers 200 when ready and 503 otherwise, with one line per check.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ok, results := r.Check(req.Context())
	var b strings.Builder
	if r.draining.Load() {
		b.WriteString("draining: shutting down\n")
	}
	for _, res := range results {
		if res.Err != nil {
			fmt.Fprintf(&b, "%s: %v\n", res.Name, res.Err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", res.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(b.String()))
}

// NewMux serves /metrics from metrics, /healthz (200 while the process is
// up: liveness must not depend on NATS or Postgres, or an outage would get
// every pod restarted) and /readyz from ready.
func NewMux(metrics http.Handler, ready *Readiness) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", ready)
	return mux
}
