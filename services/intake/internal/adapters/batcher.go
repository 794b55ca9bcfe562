package adapters

import (
	"context"
	"sync"
	"time"
)

// batcher groups concurrent look-ups into one Postgres round trip (group
// commit): the first caller runs its batch at once, and while a batch is in
// flight the next one fills up, so a burst of N filings costs a few round
// trips instead of N, and a lone filing waits for nothing.
type batcher[K comparable, V any] struct {
	// run answers a batch of distinct keys; a key missing from the map is
	// not found.
	run func(ctx context.Context, keys []K) (map[K]V, error)
	max int

	mu       sync.Mutex
	pending  *batch[K, V]
	flushing bool
}

type batch[K comparable, V any] struct {
	keys map[K]struct{}
	got  map[K]V
	err  error
	done chan struct{}
}

// get returns k's value from the batch it joins.
func (b *batcher[K, V]) get(ctx context.Context, k K) (V, bool, error) {
	b.mu.Lock()
	bt := b.pending
	if bt == nil {
		bt = &batch[K, V]{keys: map[K]struct{}{}, done: make(chan struct{})}
		b.pending = bt
	}
	bt.keys[k] = struct{}{}
	lead, full := !b.flushing, false
	switch {
	case lead:
		b.flushing, b.pending = true, nil
	case len(bt.keys) >= b.max:
		// A full batch goes out at once rather than wait for the one in flight.
		b.pending, full = nil, true
	}
	b.mu.Unlock()
	switch {
	case lead:
		b.flushFrom(bt)
	case full:
		go b.flush(bt)
	}
	select {
	case <-bt.done:
		v, ok := bt.got[k]
		return v, ok, bt.err
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
}

// flushFrom runs bt, then hands the batch that filled meanwhile to a new
// goroutine, so the leader returns after its own batch.
func (b *batcher[K, V]) flushFrom(bt *batch[K, V]) {
	b.flush(bt)
	b.mu.Lock()
	next := b.pending
	b.pending = nil
	if next == nil {
		b.flushing = false
	}
	b.mu.Unlock()
	if next != nil {
		go b.flushFrom(next)
	}
}

func (b *batcher[K, V]) flush(bt *batch[K, V]) {
	defer close(bt.done)
	// The batch serves many callers: none of their contexts may cut it short.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys := make([]K, 0, len(bt.keys))
	for k := range bt.keys {
		keys = append(keys, k)
	}
	bt.got, bt.err = b.run(ctx, keys)
}
