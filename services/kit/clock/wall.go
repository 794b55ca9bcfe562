package clock

import "time"

// Wall returns the real wall clock, used in production.
func Wall() Clock { return wallClock{} }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) TimerAt(t time.Time) Timer {
	return stdTimer{time.NewTimer(time.Until(t))}
}

// stdTimer adapts *time.Timer; since Go 1.23 its Stop guarantees no stale
// value is left in the channel, so no draining is needed.
type stdTimer struct{ t *time.Timer }

func (s stdTimer) C() <-chan time.Time { return s.t.C }
func (s stdTimer) Stop() bool          { return s.t.Stop() }
