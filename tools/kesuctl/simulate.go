package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/casework"
	"github.com/kesu315/kesu/tools/simulate/drive"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// simulate plays a generated 315 season into a running Kesu, or pushes load
// at it (docs/simulate.md).
//
//	kesuctl simulate [--seed 1 --complaints 3000 --speed 30000 --agents 3]
//	kesuctl simulate --load [--rate 2000 | --rate 0] --duration 5m
func simulate(ctx context.Context, fs *flag.FlagSet, args []string, addr *string) error {
	seed := fs.Uint64("seed", 1, "seed of the season; the same seed plays the same season")
	complaints := fs.Int("complaints", 3000, "complaints (disputes) in the season; repeat contacts come on top")
	year := fs.Int("year", 2026, "season year (policy seasons)")
	speed := fs.Float64("speed", 0, "simulated seconds per wall second (0: 45 days in about 3 minutes); ignored when KESU_CLOCK_* is set, which the services share")
	concurrency := fs.Int("concurrency", 0, "filings in flight at once (default 8 for a season, 32 for load)")
	natsURL := fs.String("nats-url", envOr("NATS_URL", "nats://127.0.0.1:4222"), "NATS for inbound contacts and the baseline (empty: gRPC only)")
	creds := fs.String("creds", os.Getenv("NATS_CREDS"), "NATS credentials file")
	policyPath := fs.String("policy", os.Getenv("KESU_POLICY"), "policy file (default deploy/config/kesu.yaml of the repository)")
	runID := fs.String("run", "", "prefix of every idempotency key (default: from the seed, so a rerun files nothing new)")
	load := fs.Bool("load", false, "load mode: file at --rate for --duration and report throughput and latency")
	rate := fs.Float64("rate", 0, "load: filings per second (0: as fast as possible)")
	duration := fs.Duration("duration", 30*time.Second, "load: how long")
	baseline := fs.Bool("baseline", true, "load: measure raw JetStream publish (and COPY, with --database-url) in the same run")
	databaseURL := fs.String("database-url", os.Getenv("DATABASE_URL"), "load: PostgreSQL for the raw COPY baseline (empty: no COPY baseline)")
	routingAddr := fs.String("routing-addr", envOr("KESU_ROUTING_ADDR", "127.0.0.1:7102"), "routing gRPC address (simulated agents; load: filing → in queue)")
	followupAddr := fs.String("followup-addr", envOr("KESU_FOLLOWUP_ADDR", "127.0.0.1:7104"), "followup gRPC address (simulated follow-up calls)")
	agents := fs.Int("agents", 3, "simulated agents per queue working the season (0: none, filing only)")
	settle := fs.Duration("settle", 7*24*time.Hour, "simulated time the agents keep working after the last contact (follow-ups, closing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("simulate takes no arguments, got %q", fs.Args())
	}
	if *complaints < 1 {
		return fmt.Errorf("--complaints %d: at least 1", *complaints)
	}
	if *policyPath == "" {
		p, err := findUp(filepath.Join("deploy", "config", "kesu.yaml"))
		if err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
		*policyPath = p
	}
	pol, err := policy.Load(*policyPath)
	if err != nil {
		return err
	}
	key, err := hmacKey()
	if err != nil {
		return err
	}
	var natsOpts []nats.Option
	if *creds != "" {
		natsOpts = append(natsOpts, nats.UserCredentials(*creds))
	}
	tgt, err := drive.Dial(ctx, drive.DialConfig{IntakeAddr: *addr, NATSURL: *natsURL, NATSOptions: natsOpts, HMACKey: key})
	if err != nil {
		return err
	}
	defer tgt.Close()
	out := os.Stdout

	if *load {
		if *rate < 0 || *duration <= 0 {
			return errors.New("--rate must be >= 0 and --duration positive")
		}
		fmt.Fprintf(out, "load: %s for %s against intake %s\n", rateName(*rate), *duration, *addr)
		var probe drive.QueueProbe
		if *routingAddr != "" {
			conn, err := grpc.NewClient(*routingAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer conn.Close()
			probe = casework.NewRouting(conn, key)
		}
		var copyPool *pgxpool.Pool
		if *baseline && *databaseURL != "" {
			if copyPool, err = pgxpool.New(ctx, *databaseURL); err != nil {
				return fmt.Errorf("--database-url: %w", err)
			}
			defer copyPool.Close()
		}
		rep, err := drive.Load(ctx, tgt, drive.LoadOptions{
			Policy: pol, Seed: *seed, Rate: *rate, Duration: *duration, Concurrency: *concurrency,
			RunID: *runID, Baseline: *baseline && *natsURL != "", CopyBaseline: copyPool, Progress: out, Queue: probe,
		})
		if rep != nil {
			rep.Print(out)
		}
		return err
	}

	s, err := season.Generate(season.Config{Policy: pol, Year: *year, Complaints: *complaints, Seed: *seed, RunID: *runID})
	if err != nil {
		return err
	}
	clk, how, err := simClock(s, *speed)
	if err != nil {
		return err
	}
	if *natsURL == "" {
		for i := range s.Contacts {
			s.Contacts[i].Via = season.ViaGRPC
		}
	}
	fmt.Fprintf(out, "season %d: %d complaints, %d contacts, %s → %s, %s\n", s.Year, s.Disputes, len(s.Contacts),
		s.Start.Format("2006-01-02"), s.End.Add(-time.Second).Format("2006-01-02"), how)
	for _, ph := range s.Phases {
		name := ph.Phase.DisplayName()
		fmt.Fprintf(out, "  %s %-11s %s → %s  %d contacts\n", name.ZhCN, name.En,
			ph.Start.Format("01-02"), ph.End.Add(-time.Second).Format("01-02"), ph.Contacts)
	}
	// The floor: simulated agents and follow-up callers on the same clock.
	var floor *casework.Floor
	floorDone := make(chan error, 1)
	floorCtx, stopFloor := context.WithCancel(ctx)
	defer stopFloor()
	if *agents > 0 && *routingAddr != "" {
		rconn, err := grpc.NewClient(*routingAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer rconn.Close()
		cfg := casework.Config{Policy: pol, Clock: clk, Seed: *seed, Casework: casework.NewRouting(rconn, key),
			Agents: casework.Roster(pol, *agents, *seed)}
		for _, sh := range pol.Shops {
			cfg.Shops = append(cfg.Shops, sh.ID)
		}
		if *followupAddr != "" {
			fconn, err := grpc.NewClient(*followupAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer fconn.Close()
			cfg.FollowUps = casework.NewFollowUps(fconn, key)
		}
		if floor, err = casework.NewFloor(cfg); err != nil {
			return err
		}
		fmt.Fprintf(out, "floor: %d simulated agents on routing %s, follow-up calls on %s\n", len(cfg.Agents), *routingAddr, *followupAddr)
		go func() { floorDone <- floor.Run(floorCtx) }()
	} else {
		floorDone <- nil
	}
	res, err := drive.Play(ctx, s, tgt, drive.PlayOptions{
		Clock: clk, Concurrency: *concurrency, Progress: out, TTY: isTerminal(out),
	})
	if floor != nil && err == nil {
		fmt.Fprintf(out, "agents keep working until %s (follow-ups, closing)…\n", s.End.Add(*settle).Format("2006-01-02"))
		err = clock.SleepUntil(ctx, clk, s.End.Add(*settle))
	}
	stopFloor()
	if ferr := <-floorDone; ferr != nil && err == nil {
		err = ferr
	}
	if floor != nil {
		st := &floor.Stats
		fmt.Fprintf(out, "floor: %d claimed, %d responses, %d promises, %d remedies, %d transfers, %d resolved (%d kept the item, %d returned); %d follow-up calls, %d reached, %d satisfied, %d dissatisfied; %d errors\n",
			st.Claimed.Load(), st.Responded.Load(), st.Promised.Load(), st.Remedies.Load(), st.Transferred.Load(), st.Resolved.Load(),
			st.Kept.Load(), st.Returned.Load(), st.Called.Load(), st.Reached.Load(), st.Satisfied.Load(), st.Dissatisfied.Load(), st.Errors.Load())
	}
	if res != nil {
		fmt.Fprintf(out, "filed %d contacts in %s: %d through gRPC (%d folded into an open complaint), %d published on INBOUND, %d errors\n",
			res.Contacts, res.Wall.Round(time.Millisecond), res.GRPC, res.Folded, res.Inbound, res.Errors)
		for _, e := range res.FirstErrors {
			fmt.Fprintln(out, "  ", e)
		}
		p := drive.Summarise(res.Latencies)
		fmt.Fprintf(out, "filing latency %s\n", p)
	}
	if err == nil && res != nil && res.Errors > 0 {
		err = fmt.Errorf("%d contacts failed", res.Errors)
	}
	return err
}

// simClock is the clock the season plays on: the one the services share
// when KESU_CLOCK_* is set, else an accelerated clock of our own (the
// services then file on their own clock; occurred_at still tells the
// simulated instant).
func simClock(s *season.Season, speed float64) (clock.Clock, string, error) {
	set, err := clock.ParseEnv(os.Getenv)
	if err != nil {
		return nil, "", err
	}
	if set.Simulated() {
		return set.Clock(), "on the shared clock (" + set.String() + ")", nil
	}
	if speed <= 0 {
		// 45 days in about three minutes.
		speed = s.End.Sub(s.Start).Seconds() / 180
	}
	if speed > clock.MaxSpeed {
		return nil, "", fmt.Errorf("--speed %g: at most %g", speed, float64(clock.MaxSpeed))
	}
	c := clock.Accelerated{Start: s.Start, Epoch: time.Now(), Speed: speed}
	return c, fmt.Sprintf("speed %.0f× (about %s)", speed, time.Duration(float64(s.End.Sub(s.Start))/speed).Round(time.Second)), nil
}

func rateName(r float64) string {
	if r == 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%g filings/s", r)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// findUp finds rel in the working directory or one of its parents.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found here or above", rel)
		}
		dir = parent
	}
}
