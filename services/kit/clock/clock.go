// Package clock makes time a dependency. Production uses the wall clock; the
// devstack and the season simulator run every process on one shared
// accelerated clock so a 45-day season plays out in minutes (DESIGN §5); tests
// use a Manual clock they move by hand.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits for instants on its own time line.
//
// Waiting is expressed as "until instant T" rather than "for duration D"
// because under acceleration a duration read at one moment and slept at
// another drifts; an instant does not.
type Clock interface {
	// Now returns the current instant on this clock.
	Now() time.Time
	// TimerAt returns a timer whose channel receives this clock's Now once
	// the clock reads at or after t. A t in the past fires at once.
	TimerAt(t time.Time) Timer
}

// Timer is a one-shot timer on a Clock.
type Timer interface {
	// C delivers the clock's time once, when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped
	// the timer before it fired.
	Stop() bool
}

// NewTimer returns a timer that fires after d of c's time has passed.
func NewTimer(c Clock, d time.Duration) Timer {
	return c.TimerAt(c.Now().Add(d))
}

// SleepUntil blocks until c reads at or after t, or ctx is done, in which
// case it returns ctx's error.
func SleepUntil(ctx context.Context, c Clock, t time.Time) error {
	tm := c.TimerAt(t)
	defer tm.Stop()
	select {
	case <-tm.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sleep blocks for d of c's time, or until ctx is done.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	return SleepUntil(ctx, c, c.Now().Add(d))
}

// Since returns the time elapsed on c since t.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Until returns the time on c until t.
func Until(c Clock, t time.Time) time.Duration { return t.Sub(c.Now()) }
