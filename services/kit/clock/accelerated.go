package clock

import (
	"math"
	"sync"
	"time"
)

// Accelerated is a simulated clock that runs Speed times faster than the wall
// clock: at wall instant Epoch it reads Start, and
//
//	now = Start + (wall − Epoch) × Speed.
//
// It holds no state besides the three values, so every process given the
// same three values reads the same simulated time (DESIGN §5), whenever it
// started. Waits on it last 1/Speed as long in wall time.
type Accelerated struct {
	// Start is the simulated instant the clock reads at wall instant Epoch.
	Start time.Time
	// Epoch is the wall instant that corresponds to Start; every process
	// sharing the clock must use the same Epoch.
	Epoch time.Time
	// Speed is how many simulated seconds pass per wall second; it must be
	// positive (1 is real time).
	Speed float64
}

// Now returns the simulated current instant.
func (a Accelerated) Now() time.Time {
	return a.At(time.Now())
}

// At returns the simulated instant corresponding to wall instant w.
func (a Accelerated) At(w time.Time) time.Time {
	return a.Start.Add(scale(w.Sub(a.Epoch), a.Speed))
}

// WallAt returns the earliest wall instant at which the clock reads t or
// later; it rounds up so a timer armed for it never fires early.
func (a Accelerated) WallAt(t time.Time) time.Time {
	d := float64(t.Sub(a.Start)) / a.Speed
	return a.Epoch.Add(saturate(math.Ceil(d)))
}

// TimerAt returns a timer that fires once the simulated clock reads t.
func (a Accelerated) TimerAt(t time.Time) Timer {
	at := &accelTimer{clock: a, target: t, c: make(chan time.Time, 1)}
	at.mu.Lock()
	at.arm()
	at.mu.Unlock()
	return at
}

type accelTimer struct {
	clock  Accelerated
	target time.Time
	c      chan time.Time

	mu    sync.Mutex
	timer *time.Timer
	done  bool // fired or stopped
}

// arm must be called with mu held.
func (t *accelTimer) arm() {
	t.timer = time.AfterFunc(max(time.Until(t.clock.WallAt(t.target)), 0), t.fire)
}

func (t *accelTimer) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	now := t.clock.Now()
	if now.Before(t.target) {
		// Float rounding can leave us a few simulated nanoseconds short;
		// re-arming keeps the promise that the clock reads >= target.
		t.arm()
		return
	}
	t.done = true
	t.c <- now
}

func (t *accelTimer) C() <-chan time.Time { return t.c }

func (t *accelTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.timer.Stop()
	return true
}

func scale(d time.Duration, speed float64) time.Duration {
	return saturate(float64(d) * speed)
}

// saturate converts nanoseconds held in a float to a Duration, clamping
// instead of overflowing for instants centuries away.
func saturate(ns float64) time.Duration {
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	default:
		return time.Duration(ns)
	}
}
