// Package pull fetches from JetStream pull consumers the way Kesu's workers
// need: a batch when there is a backlog, a lone message at once when there is
// not.
package pull

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Fetch returns up to n messages without waiting to fill the batch: whatever
// is pending, at once; when nothing is, it blocks until the first message
// arrives (or maxWait passes, returning none) and takes what came with it. A
// plain Fetch(n) holds a lone message until the batch fills or its wait runs
// out, so on a quiet floor a new complaint would appear seconds late.
func Fetch(ctx context.Context, cons jetstream.Consumer, n int, maxWait time.Duration) ([]jetstream.Msg, error) {
	msgs, err := collect(ctx, func() (jetstream.MessageBatch, error) { return cons.FetchNoWait(n) })
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	fctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	msgs, err = collect(ctx, func() (jetstream.MessageBatch, error) { return cons.Fetch(1, jetstream.FetchContext(fctx)) })
	if err != nil || len(msgs) == 0 || n == 1 {
		return msgs, err
	}
	more, err := collect(ctx, func() (jetstream.MessageBatch, error) { return cons.FetchNoWait(n - 1) })
	if err != nil {
		// The first message is in hand; process it, the rest come next round.
		return msgs, nil
	}
	return append(msgs, more...), nil
}

func collect(ctx context.Context, fetch func() (jetstream.MessageBatch, error)) ([]jetstream.Msg, error) {
	batch, err := fetch()
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	err = batch.Error()
	switch {
	case err == nil, len(msgs) > 0:
		// Messages in hand are processed even if the fetch ended early.
		return msgs, nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return nil, nil
	default:
		return nil, err
	}
}
