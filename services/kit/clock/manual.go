package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Manual is a clock for tests: it moves only when told to, and its timers
// fire when Set or Advance moves it to or past their instant.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	changed chan struct{} // closed and replaced whenever a timer is added
}

// NewManual returns a Manual clock reading start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start, changed: make(chan struct{})}
}

// Now returns the clock's current reading.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Set moves the clock to t (backwards too) and fires every timer due at t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = t
	m.fireLocked()
}

// Advance moves the clock forward by d, fires due timers and returns the
// new reading.
func (m *Manual) Advance(d time.Duration) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	m.fireLocked()
	return m.now
}

// TimerAt returns a timer that fires when the clock is moved to t or later;
// if the clock already reads t or later it fires at once.
func (m *Manual) TimerAt(t time.Time) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	mt := &manualTimer{m: m, at: t, c: make(chan time.Time, 1)}
	if !m.now.Before(t) {
		mt.c <- m.now
		return mt
	}
	m.timers = append(m.timers, mt)
	close(m.changed)
	m.changed = make(chan struct{})
	return mt
}

// Timers returns how many timers are waiting to fire.
func (m *Manual) Timers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

// WaitForTimers blocks until at least n timers are waiting, so a test can
// advance the clock only once the code under test has started waiting.
func (m *Manual) WaitForTimers(ctx context.Context, n int) error {
	for {
		m.mu.Lock()
		count, changed := len(m.timers), m.changed
		m.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *Manual) fireLocked() {
	sort.SliceStable(m.timers, func(i, j int) bool { return m.timers[i].at.Before(m.timers[j].at) })
	kept := m.timers[:0]
	for _, t := range m.timers {
		if m.now.Before(t.at) {
			kept = append(kept, t)
			continue
		}
		t.c <- m.now
	}
	clear(m.timers[len(kept):])
	m.timers = kept
}

func (m *Manual) remove(t *manualTimer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, x := range m.timers {
		if x == t {
			m.timers = append(m.timers[:i], m.timers[i+1:]...)
			return true
		}
	}
	return false
}

type manualTimer struct {
	m  *Manual
	at time.Time
	c  chan time.Time
}

func (t *manualTimer) C() <-chan time.Time { return t.c }
func (t *manualTimer) Stop() bool          { return t.m.remove(t) }
