package main

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/tools/simulate/season"
)

func TestSimulateClock(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	s := &season.Season{Start: time.Date(2026, 2, 25, 0, 0, 0, 0, loc), End: time.Date(2026, 4, 11, 0, 0, 0, 0, loc)}

	// Without the shared clock: our own, 45 days in about three minutes.
	for _, k := range []string{clock.EnvStart, clock.EnvEpoch, clock.EnvSpeed} {
		t.Setenv(k, "")
	}
	c, how, err := simClock(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := c.(clock.Accelerated)
	if !ok || !a.Start.Equal(s.Start) || a.Speed < 20000 || a.Speed > 23000 || !strings.Contains(how, "speed") {
		t.Errorf("own clock %+v (%s)", c, how)
	}
	if _, _, err := simClock(s, 2e6); err == nil {
		t.Error("speed above clock.MaxSpeed accepted")
	}

	// With it: the services' clock wins over --speed.
	t.Setenv(clock.EnvStart, "2026-03-01T00:00:00+08:00")
	t.Setenv(clock.EnvEpoch, "2026-11-23T00:00:00Z")
	t.Setenv(clock.EnvSpeed, "1000")
	c, how, err = simClock(s, 5)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := c.(clock.Accelerated); !ok || a.Speed != 1000 || !strings.Contains(how, "shared") {
		t.Errorf("shared clock %+v (%s)", c, how)
	}
}

func TestSimulateRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"simulate", "extra"},
		{"simulate", "--complaints", "-1", "--policy", "../../deploy/config/kesu.yaml"},
		{"simulate", "--policy", "/nonexistent.yaml"},
	} {
		t.Setenv("KESU_AUTH_HMAC_KEY", "simulate-test-key-at-least-32-bytes!!")
		fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
		addr := fs.String("addr", "127.0.0.1:1", "")
		if err := simulate(context.Background(), fs, args[1:], addr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
