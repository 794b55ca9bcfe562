package drive

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kesu315/kesu/services/kit/backoff"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// PlayOptions says how to play a season.
type PlayOptions struct {
	// Clock is the simulated clock every Kesu process shares; each contact is
	// filed once it reads the contact's instant. Nil: an accelerated clock
	// starting at the season's start now, at Speed.
	Clock clock.Clock
	// Speed is simulated seconds per wall second for the clock made when
	// Clock is nil; 0 files as fast as possible, ignoring the schedule.
	Speed float64
	// Concurrency is how many contacts are in flight at once; default 8.
	Concurrency int
	// Progress receives the progress bars; nil prints nothing.
	Progress io.Writer
	// TTY redraws one bar per phase in place; otherwise a line per 10%.
	TTY bool
	// OnOutcome, when set, sees every contact's outcome (from the workers,
	// concurrently).
	OnOutcome func(season.Contact, Outcome)
	// MaxAttempts bounds the tries of a contact that fails for a passing
	// reason (unavailable, deadline); default 5. Filing is idempotent.
	MaxAttempts int
}

// PlayResult is what a played season did.
type PlayResult struct {
	Contacts, GRPC, Inbound, Folded, Errors int
	// Complaints maps a dispute to the complaint its gRPC contacts landed on.
	Complaints map[int]string
	// Split is set when one dispute's gRPC contacts landed on two complaints.
	Split []int
	// FirstErrors keeps a few errors for the report.
	FirstErrors []error
	Latencies   []time.Duration
	Wall        time.Duration
}

// Play files every contact of s on its schedule and waits for the last one.
func Play(ctx context.Context, s *season.Season, t *Target, o PlayOptions) (*PlayResult, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	clk := o.Clock
	if clk == nil && o.Speed > 0 {
		clk = clock.Accelerated{Start: s.Start, Epoch: time.Now(), Speed: o.Speed}
	}
	prog := newProgress(o.Progress, o.TTY, s)
	res := &PlayResult{Complaints: map[int]string{}}
	var mu sync.Mutex
	work := make(chan season.Contact, o.Concurrency*2)
	var wg sync.WaitGroup
	begin := time.Now()
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				out := sendRetrying(ctx, t, c, o.MaxAttempts)
				if o.OnOutcome != nil {
					o.OnOutcome(c, out)
				}
				mu.Lock()
				res.Contacts++
				res.Latencies = append(res.Latencies, out.Latency)
				switch {
				case out.Err != nil:
					res.Errors++
					if len(res.FirstErrors) < 5 {
						res.FirstErrors = append(res.FirstErrors, fmt.Errorf("contact %d (%s): %w", c.Seq, c.Via, out.Err))
					}
				case c.Via == season.ViaInbound && t.JS != nil:
					res.Inbound++
				default:
					res.GRPC++
					if out.Folded {
						res.Folded++
					}
					if prev, ok := res.Complaints[c.Dispute]; ok && prev != out.ComplaintID {
						res.Split = append(res.Split, c.Dispute)
					}
					res.Complaints[c.Dispute] = out.ComplaintID
				}
				mu.Unlock()
				prog.done(s.PhaseIndex(c.At), out.Err != nil)
			}
		}()
	}
	var err error
	for _, c := range s.Contacts {
		if clk != nil {
			if err = clock.SleepUntil(ctx, clk, c.At); err != nil {
				break
			}
			prog.now(clk.Now())
		}
		select {
		case work <- c:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	close(work)
	wg.Wait()
	prog.finish()
	res.Wall = time.Since(begin)
	return res, err
}

func sendRetrying(ctx context.Context, t *Target, c season.Contact, attempts int) Outcome {
	var bo backoff.Backoff
	var out Outcome
	var total time.Duration
	for i := 0; i < attempts; i++ {
		out = t.Send(ctx, c)
		total += out.Latency
		if out.Err == nil || !transient(out.Err) || ctx.Err() != nil {
			break
		}
		if bo.Wait(ctx) != nil {
			break
		}
	}
	out.Latency = total
	return out
}

// transient errors may pass: the request is idempotent, so it is sent again.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	case codes.Unknown:
		// Not a gRPC status: a JetStream publish that timed out or found
		// no stream leader for a moment.
		return true
	}
	return false
}

// progress draws a bar per phase.
type progress struct {
	w      io.Writer
	tty    bool
	mu     sync.Mutex
	phases []*phaseBar
	cur    *phaseBar
	simNow time.Time
	last   time.Time
}

type phaseBar struct {
	phase            policy.Phase
	total, n, errors int
	step             int // last 10% step printed (lines mode)
	closed           bool
}

func newProgress(w io.Writer, tty bool, s *season.Season) *progress {
	p := &progress{w: w, tty: tty}
	for _, ph := range s.Phases {
		p.phases = append(p.phases, &phaseBar{phase: ph.Phase, total: ph.Contacts})
	}
	return p
}

func (p *progress) now(t time.Time) {
	p.mu.Lock()
	p.simNow = t
	p.mu.Unlock()
}

func (p *progress) done(phase int, failed bool) {
	if p.w == nil || phase < 0 || phase >= len(p.phases) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.phases[phase]
	b.n++
	if failed {
		b.errors++
	}
	if p.cur != b {
		// Contacts of a phase finish out of order only at its edge; close
		// the bars of the phases before this one.
		for _, x := range p.phases {
			if x == b {
				break
			}
			p.close(x)
		}
		p.cur = b
	}
	switch {
	case p.tty:
		if time.Since(p.last) > 100*time.Millisecond || b.n == b.total {
			p.last = time.Now()
			fmt.Fprintf(p.w, "\r\033[K%s", p.line(b))
		}
	default:
		if step := b.n * 10 / max(b.total, 1); step > b.step {
			b.step = step
			fmt.Fprintln(p.w, p.line(b))
		}
	}
}

// close prints a phase's final bar once; mu held.
func (p *progress) close(b *phaseBar) {
	if b.closed || b.total == 0 {
		b.closed = true
		return
	}
	b.closed = true
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", p.line(b))
	} else if b.step < 10 {
		fmt.Fprintln(p.w, p.line(b))
	}
}

func (p *progress) finish() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.phases {
		p.close(b)
	}
}

const barWidth = 30

func (p *progress) line(b *phaseBar) string {
	filled := barWidth * b.n / max(b.total, 1)
	bar := make([]rune, barWidth)
	for i := range bar {
		bar[i] = '░'
		if i < filled {
			bar[i] = '█'
		}
	}
	name := b.phase.DisplayName()
	s := fmt.Sprintf("%s %-11s [%s] %3d%% %6d/%d", name.ZhCN, name.En, string(bar), 100*b.n/max(b.total, 1), b.n, b.total)
	if b.errors > 0 {
		s += fmt.Sprintf("  errors %d", b.errors)
	}
	if !p.simNow.IsZero() {
		s += "  " + p.simNow.Format("2006-01-02 15:04")
	}
	return s
}
