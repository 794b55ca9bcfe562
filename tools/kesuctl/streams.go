package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// streamNames are the streams EnsureAll manages (DESIGN.md §2), in the
// order they are reported.
var streamNames = []string{
	eventstore.StreamComplaints, eventstore.StreamInbound, eventstore.StreamAlerts, eventstore.StreamDeadLetter,
}

// streams creates or updates Kesu's JetStream streams. It is what the Helm
// chart's stream-setup job runs before the services start, so a production
// install gets R3 streams from one place instead of from whichever service
// starts first; running it again with the same settings changes nothing.
//
// NATS is often still forming when the job starts (pods scheduling, the meta
// leader not elected, too few peers for R3), so transient failures are
// retried until --wait runs out; a bad setting or a refused permission fails
// at once.
func streams(ctx context.Context, fs *flag.FlagSet, args []string) error {
	url := fs.String("nats-url", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS servers, comma-separated (env NATS_URL)")
	creds := fs.String("creds", os.Getenv("NATS_CREDS"), "NATS credentials file (env NATS_CREDS)")
	replicasFlag := fs.String("replicas", envOr("KESU_STREAM_REPLICAS", "1"), "replicas of every stream, 1-5; 3 in production (env KESU_STREAM_REPLICAS)")
	maxBytesFlag := fs.String("max-bytes", envOr("KESU_STREAM_MAX_BYTES", "10GiB"), "size guard of COMPLAINTS, e.g. 10GiB (env KESU_STREAM_MAX_BYTES)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to retry while NATS is unreachable or the cluster is forming")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("streams takes no arguments, got %q", fs.Args())
	}
	replicas, err := parseReplicas(*replicasFlag)
	if err != nil {
		return fmt.Errorf("--replicas (KESU_STREAM_REPLICAS) %q: %w", *replicasFlag, err)
	}
	maxBytes, err := parseSize(*maxBytesFlag)
	if err != nil {
		return fmt.Errorf("--max-bytes (KESU_STREAM_MAX_BYTES) %q: %w", *maxBytesFlag, err)
	}
	if *wait <= 0 {
		return fmt.Errorf("--wait %s: must be positive", *wait)
	}
	cfg := eventstore.Config{Replicas: replicas, MaxBytes: maxBytes}

	// Permission violations arrive asynchronously and otherwise look like a
	// request timeout; catching them turns a minutes-long retry into a clear
	// error naming the subject.
	denied := make(chan error, 1)
	opts := []nats.Option{
		nats.Name("kesuctl-streams"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, nats.ErrAuthorization) {
				select {
				case denied <- err:
				default:
				}
			}
		}),
	}
	if *creds != "" {
		if _, err := os.Stat(*creds); err != nil {
			return fmt.Errorf("--creds (NATS_CREDS) %q: %w", *creds, err)
		}
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		return fmt.Errorf("nats connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err = ensureStreams(wctx, js, cfg, denied)
		if err == nil {
			break
		}
		if permanent(err) {
			return err
		}
		fmt.Fprintf(os.Stderr, "kesuctl: streams: attempt %d: %v (retrying)\n", attempt, err)
		select {
		case <-wctx.Done():
			return fmt.Errorf("streams on %s not ready within --wait %s: %w", *url, *wait, err)
		case err := <-denied:
			return fmt.Errorf("streams on %s: %w", *url, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	for _, name := range streamNames {
		s, err := js.Stream(wctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		c := s.CachedInfo().Config
		fmt.Printf("%-11s subjects=%s replicas=%d storage=%s max_bytes=%d max_age=%s\n",
			c.Name, strings.Join(c.Subjects, ","), c.Replicas, c.Storage, c.MaxBytes, c.MaxAge)
	}
	return nil
}

// ensureStreams is one attempt, bounded so that a server that never answers
// leaves time for another try.
func ensureStreams(ctx context.Context, js jetstream.JetStream, cfg eventstore.Config, denied <-chan error) error {
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := eventstore.EnsureAll(actx, js, cfg)
	select {
	case d := <-denied:
		return fmt.Errorf("%w: %w", errDenied, d)
	default:
	}
	return err
}

var errDenied = errors.New("permission denied by NATS (check the user's permissions for $JS.API.STREAM.>)")

// permanent reports errors that retrying cannot fix: our own settings, a
// refused permission, or a server that answered with a client error about
// the stream itself. Placement failures (too few peers yet) and 503s are
// what a forming cluster answers, so they are retried.
func permanent(err error) bool {
	if errors.Is(err, eventstore.ErrInvalidConfig) || errors.Is(err, errDenied) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamNameInUse, 10074: // 10074: replicas > 1 on a single server
		return true
	case 10005: // no suitable peers for placement: the cluster is still forming
		return false
	}
	return apiErr.Code == 400
}

func parseReplicas(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 5 {
		return 0, errors.New("must be a whole number from 1 to 5")
	}
	return n, nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// parseSize reads a size the way the services read KESU_STREAM_MAX_BYTES
// (runtimeconfig), so the job and the services agree on the stream.
func parseSize(v string) (int64, error) {
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("must be a positive size like 10GiB, 512MiB or 1073741824")
	}
	return n * mult, nil
}
