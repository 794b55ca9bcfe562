package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go/jetstream"
)

func (r *Runner) consumerConfig(cp uint64) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       r.cfg.Name,
		Description:   "kesu projection " + r.cfg.Name + " (checkpoint in " + r.cfg.Schema + ".projection_checkpoints)",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		MaxDeliver:    -1,
		FilterSubject: r.cfg.FilterSubject,
		// Room for one batch being acked while the next is fetched; more
		// would only let a dead process hold more events hostage.
		MaxAckPending:   2 * r.cfg.BatchSize,
		MaxRequestBatch: r.cfg.BatchSize,
		ReplayPolicy:    jetstream.ReplayInstantPolicy,
	}
	if cp > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = cp + 1
	}
	return cfg
}

// reconcile makes the durable consumer agree with the checkpoint: kept (and
// updated) when its acknowledged position is the checkpoint, otherwise (or
// when force is set) recreated to deliver from checkpoint+1.
func (r *Runner) reconcile(ctx context.Context, q querier, force bool) (jetstream.Consumer, error) {
	cp, err := r.readCheckpoint(ctx, q)
	if err != nil {
		return nil, err
	}
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", r.cfg.Stream, err)
	}
	cons, err := stream.Consumer(ctx, r.cfg.Name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return r.createConsumer(ctx, stream, cp)
	case err != nil:
		return nil, fmt.Errorf("consumer %s: %w", r.cfg.Name, err)
	}
	if !force {
		info := cons.CachedInfo()
		why, err := r.inconsistency(ctx, info, cp)
		if err != nil {
			return nil, err
		}
		if why == "" {
			want := r.consumerConfig(cp)
			want.DeliverPolicy, want.OptStartSeq = info.Config.DeliverPolicy, info.Config.OptStartSeq
			updated, err := stream.UpdateConsumer(ctx, want)
			if err == nil {
				return updated, nil
			}
			why = "its settings cannot be updated: " + err.Error()
		}
		r.log.Info("recreating the durable consumer at the checkpoint", "reason", why, "checkpoint", cp)
	}
	if err := stream.DeleteConsumer(ctx, r.cfg.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("delete consumer %s: %w", r.cfg.Name, err)
	}
	return r.createConsumer(ctx, stream, cp)
}

// inconsistency explains why the consumer's position is not the
// checkpoint, or returns "".
func (r *Runner) inconsistency(ctx context.Context, info *jetstream.ConsumerInfo, cp uint64) (string, error) {
	if r.trustConsumer {
		return "", nil
	}
	if info.Config.FilterSubject != r.cfg.FilterSubject || len(info.Config.FilterSubjects) > 0 {
		return "its filter changed", nil
	}
	if info.NumAckPending > 0 {
		return fmt.Sprintf("%d events were delivered and never acknowledged (a stopped or crashed runner)", info.NumAckPending), nil
	}
	floor := info.AckFloor.Stream
	if floor < cp {
		return fmt.Sprintf("it stands at %d, behind the checkpoint", floor), nil
	}
	if floor > cp {
		next, found, err := r.nextSeq(ctx, cp+1)
		if err != nil {
			return "", err
		}
		if found && next <= floor {
			return fmt.Sprintf("it acknowledged events up to %d, past the checkpoint (a restored database?)", floor), nil
		}
	}
	return "", nil
}

func (r *Runner) createConsumer(ctx context.Context, stream jetstream.Stream, cp uint64) (jetstream.Consumer, error) {
	cons, err := stream.CreateConsumer(ctx, r.consumerConfig(cp))
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", r.cfg.Name, err)
	}
	r.log.Info("durable consumer created", "from_seq", cp+1)
	return cons, nil
}

// Lag is how many stream sequences the projection is behind: the last
// sequence matching its filter minus the checkpoint.
func (r *Runner) Lag(ctx context.Context) (uint64, error) {
	cp, err := r.readCheckpoint(ctx, r.pool)
	if err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P01" { // undefined_table: never run yet
			return 0, fmt.Errorf("projection %s: lag: %w", r.cfg.Name, err)
		}
		cp = 0
	}
	last, err := r.lastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("projection %s: lag: %w", r.cfg.Name, err)
	}
	if last <= cp {
		return 0, nil
	}
	return last - cp, nil
}

func (r *Runner) pollLag(ctx context.Context) {
	t := time.NewTicker(r.cfg.LagInterval)
	defer t.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lag, err := r.Lag(lctx)
		cancel()
		if err == nil {
			r.lag.Store(int64(lag))
		} else if ctx.Err() == nil {
			r.log.Debug("lag not measured", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lastSeq is the sequence of the last stream message matching the filter
// (0 when there is none). When the filter is the stream's only subject the
// stream's own last sequence answers without a per-subject scan.
func (r *Runner) lastSeq(ctx context.Context) (uint64, error) {
	stream, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", r.cfg.Stream, err)
	}
	info := stream.CachedInfo()
	if len(info.Config.Subjects) == 1 && info.Config.Subjects[0] == r.cfg.FilterSubject {
		return info.State.LastSeq, nil
	}
	seq, _, err := r.msgGet(ctx, msgGetRequest{LastFor: r.cfg.FilterSubject})
	return seq, err
}

// nextSeq is the first sequence at or after seq matching the filter.
func (r *Runner) nextSeq(ctx context.Context, seq uint64) (uint64, bool, error) {
	return r.msgGet(ctx, msgGetRequest{Seq: seq, NextFor: r.cfg.FilterSubject})
}

type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

type msgGetResponse struct {
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error,omitempty"`
	Message *struct {
		Seq uint64 `json:"seq"`
	} `json:"message,omitempty"`
}

// msgGet asks the stream leader (STREAM.MSG.GET, not a direct get that a
// lagging replica may answer) for a message's sequence: the gap check must
// not miss an event that exists.
func (r *Runner) msgGet(ctx context.Context, req msgGetRequest) (uint64, bool, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, false, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	msg, err := r.js.Conn().RequestWithContext(ctx, r.apiPrefix+"STREAM.MSG.GET."+r.cfg.Stream, body)
	if err != nil {
		return 0, false, fmt.Errorf("stream %s message get: %w", r.cfg.Stream, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return 0, false, fmt.Errorf("stream %s message get: %w", r.cfg.Stream, err)
	}
	if resp.Error != nil {
		if resp.Error.Code == 404 {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("stream %s message get: %s (code %d/%d)", r.cfg.Stream, resp.Error.Description, resp.Error.Code, resp.Error.ErrCode)
	}
	if resp.Message == nil {
		return 0, false, fmt.Errorf("stream %s message get: empty reply", r.cfg.Stream)
	}
	return resp.Message.Seq, true, nil
}

func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	default:
		return jetstream.DefaultAPIPrefix
	}
}
