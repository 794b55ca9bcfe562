// Package backoff is the capped exponential backoff with jitter that every
// Kesu retry loop uses, so a fleet of replicas retrying the same failure does
// not retry in step.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff doubles its delay from Min up to Max on each Wait; each wait is
// drawn from the upper half of the current delay. The zero value waits 2 ms
// doubling to 256 ms. It is not safe for concurrent use: one per loop.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Wait sleeps for the next delay, or returns ctx's error when ctx ends first.
func (b *Backoff) Wait(ctx context.Context) error {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = 2 * time.Millisecond
	}
	if hi <= 0 {
		hi = 256 * time.Millisecond
	}
	if b.cur == 0 {
		b.cur = lo
	} else {
		b.cur = min(2*b.cur, hi)
	}
	t := time.NewTimer(b.cur/2 + rand.N(b.cur/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Reset starts the next Wait from Min again, after a success.
func (b *Backoff) Reset() { b.cur = 0 }
