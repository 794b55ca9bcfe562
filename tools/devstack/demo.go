package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
)

// demoShop is the shipped policy's flagship store, whose season the demo plays.
const demoShop = "demo-flagship"

// demoClockEnv puts every process on one accelerated clock that reaches the first
// day of the demo season a little after start-up: the epoch leaves time for the
// migrations and for every service to become ready, and the season starts then.
func demoClockEnv(root string, year int, speed float64) ([]string, error) {
	if speed <= 0 {
		return nil, fmt.Errorf("--demo-speed %v: must be greater than 0", speed)
	}
	pol, err := policy.Load(filepath.Join(root, "deploy/config/kesu.yaml"))
	if err != nil {
		return nil, err
	}
	season, ok, err := pol.SeasonFor(demoShop, year)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("--demo-year %d: the policy has no season %d for %s", year, year, demoShop)
	}
	shop, _ := pol.Shop(demoShop)
	start, _ := season.Interval(shop.Location)
	epoch := time.Now().Add(45 * time.Second)
	return []string{
		clock.EnvStart + "=" + start.Format(time.RFC3339),
		clock.EnvEpoch + "=" + epoch.Format(time.RFC3339),
		clock.EnvSpeed + "=" + strconv.FormatFloat(speed, 'f', -1, 64),
	}, nil
}

// playDemo runs the season simulator against the running stack (complaints from
// every channel, simulated agents and customers working them through the real
// APIs), then writes the aftermath report as HTML and XLSX and prints the paths.
func playDemo(ctx context.Context, env []string, binDir, reportsDir string, year, complaints int) error {
	kesuctl := filepath.Join(binDir, "kesuctl")
	fmt.Fprintf(os.Stderr, "devstack: playing the %d season of %s: %d complaints (KESU_DEMO=0 make run skips this)\n\n", year, demoShop, complaints)
	sim := exec.CommandContext(ctx, kesuctl, "simulate", "--seed", "1",
		"--complaints", strconv.Itoa(complaints), "--year", strconv.Itoa(year))
	sim.Env = env
	sim.Stdout, sim.Stderr = os.Stdout, os.Stderr
	if err := sim.Run(); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := os.MkdirAll(reportsDir, 0o755); err != nil {
		return err
	}
	var written []string
	for _, format := range []string{"html", "xlsx"} {
		out := filepath.Join(reportsDir, fmt.Sprintf("315-%d-%s.%s", year, demoShop, format))
		var err error
		// The reporting projection may still be folding the season's last events.
		for attempt := 0; attempt < 10; attempt++ {
			rep := exec.CommandContext(ctx, kesuctl, "report", "--season", strconv.Itoa(year),
				"--shop", demoShop, "--format", format, "-o", out)
			rep.Env = env
			rep.Stdout, rep.Stderr = os.Stdout, os.Stderr
			if err = rep.Run(); err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(2 * time.Second)
		}
		if err != nil {
			return fmt.Errorf("report %s: %w", format, err)
		}
		written = append(written, out)
	}
	if len(written) == 0 {
		return errors.New("no report written")
	}
	fmt.Fprintf(os.Stderr, "\n315 aftermath report (《315期间客服工作/投诉工作报告》):\n")
	for _, p := range written {
		fmt.Fprintf(os.Stderr, "  %s\n", p)
	}
	return nil
}
