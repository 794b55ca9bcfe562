package projection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// Rebuild rebuilds the projection from the whole stream: it deletes the
// durable consumer, replays every event matching the filter (an ordered
// consumer, no acks) and, in one transaction, calls rb.Reset, rb.Stage per
// chunk, rb.Merge and sets the checkpoint to the last replayed sequence.
// After the commit the durable consumer is recreated from there, so Run
// continues with the events that arrived meanwhile. Until the commit,
// readers see the old projection.
//
// Rebuild takes the projection's leadership, so it waits while a Run (in
// this process or another replica) is active; stop the runners first.
func (r *Runner) Rebuild(ctx context.Context, rb Rebuilder) error {
	err := r.lead(ctx, func(conn *pgxpool.Conn) error { return r.rebuild(ctx, conn, rb) })
	if err != nil {
		return fmt.Errorf("projection %s: rebuild: %w", r.cfg.Name, err)
	}
	return nil
}

func (r *Runner) rebuild(ctx context.Context, conn *pgxpool.Conn, rb Rebuilder) error {
	started := time.Now()
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", r.cfg.Stream, err)
	}
	if err := stream.DeleteConsumer(ctx, r.cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", r.cfg.Name, err)
	}
	target, err := r.lastSeq(ctx)
	if err != nil {
		return err
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := r.lockCheckpoint(ctx, tx); err != nil {
		return err
	}
	if err := rb.Reset(ctx, tx); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	var last uint64
	var total int
	if target > 0 {
		oc, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{r.cfg.FilterSubject},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return fmt.Errorf("replay consumer: %w", err)
		}
		it, err := oc.Messages(jetstream.PullMaxMessages(r.cfg.RebuildChunk))
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		defer it.Stop()
		chunk := make([]eventstore.Record, 0, r.cfg.RebuildChunk)
		for last < target {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				return fmt.Errorf("replay after %d of %d: %w", last, target, err)
			}
			rec, err := eventstore.RecordFromMsg(m)
			if err != nil {
				return fmt.Errorf("replay: decode event: %w", err)
			}
			chunk = append(chunk, rec)
			last = rec.StreamSeq
			if len(chunk) == r.cfg.RebuildChunk {
				if err := rb.Stage(ctx, tx, chunk); err != nil {
					return fmt.Errorf("stage events up to %d: %w", last, err)
				}
				total += len(chunk)
				// A new slice: the Rebuilder may keep the one it was given.
				chunk = make([]eventstore.Record, 0, r.cfg.RebuildChunk)
			}
		}
		if len(chunk) > 0 {
			if err := rb.Stage(ctx, tx, chunk); err != nil {
				return fmt.Errorf("stage events up to %d: %w", last, err)
			}
			total += len(chunk)
		}
	}
	if err := rb.Merge(ctx, tx); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	if _, err := tx.Exec(ctx, "UPDATE "+r.table+" SET stream_seq = $2, updated_at = now() WHERE name = $1", r.cfg.Name, int64(last)); err != nil {
		return fmt.Errorf("set checkpoint: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	r.m.applied.Add(ctx, int64(total), metric.WithAttributeSet(r.m.attrs))
	if _, err := r.createConsumer(ctx, stream, last); err != nil {
		// Run recreates it from the checkpoint anyway.
		r.log.Warn("rebuilt, but the durable consumer was not recreated", "err", err)
	}
	r.log.Info("projection rebuilt", "events", total, "checkpoint", last, "took", time.Since(started).Round(time.Millisecond))
	return nil
}
