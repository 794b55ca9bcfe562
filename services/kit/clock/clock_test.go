package clock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kesu315/kesu/services/kit/clock"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var seasonStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

func TestAcceleratedNowScalesWallTime(t *testing.T) {
	epoch := time.Now().Add(-2 * time.Second)
	a := clock.Accelerated{Start: seasonStart, Epoch: epoch, Speed: 3600}

	before := time.Now()
	now := a.Now()
	after := time.Now()

	lo := seasonStart.Add(time.Duration(float64(before.Sub(epoch)) * 3600))
	hi := seasonStart.Add(time.Duration(float64(after.Sub(epoch)) * 3600))
	if now.Before(lo) || now.After(hi) {
		t.Fatalf("Now() = %s, want within [%s, %s]", now, lo, hi)
	}
	// Two wall seconds at 3600x are two simulated hours.
	if got := now.Sub(seasonStart); got < 2*time.Hour {
		t.Fatalf("simulated elapsed %s, want at least 2h", got)
	}
}

func TestAcceleratedProcessesShareOneClock(t *testing.T) {
	epoch := time.Now()
	a := clock.Accelerated{Start: seasonStart, Epoch: epoch, Speed: 1000}
	b := clock.Accelerated{Start: seasonStart, Epoch: epoch, Speed: 1000} // "another process"
	w := time.Now()
	if !a.At(w).Equal(b.At(w)) {
		t.Fatalf("two clocks with equal settings disagree: %s vs %s", a.At(w), b.At(w))
	}
}

func TestAcceleratedWallAtInvertsAt(t *testing.T) {
	a := clock.Accelerated{Start: seasonStart, Epoch: time.Now(), Speed: 7.3}
	for _, d := range []time.Duration{0, time.Nanosecond, 72 * time.Hour, 45 * 24 * time.Hour, -time.Hour} {
		target := seasonStart.Add(d)
		if got := a.At(a.WallAt(target)); got.Before(target) {
			t.Errorf("At(WallAt(%s)) = %s, reads before the target", target, got)
		}
	}
}

func TestAcceleratedTimerFiresAtSimulatedInstant(t *testing.T) {
	ctx := testContext(t)
	// 72 simulated hours at 1e6x is about a quarter of a wall second.
	a := clock.Accelerated{Start: seasonStart, Epoch: time.Now(), Speed: 1e6}
	deadline := a.Now().Add(72 * time.Hour)
	if err := clock.SleepUntil(ctx, a, deadline); err != nil {
		t.Fatalf("SleepUntil: %v", err)
	}
	if now := a.Now(); now.Before(deadline) {
		t.Fatalf("woke at %s, before the deadline %s", now, deadline)
	}
}

func TestAcceleratedTimerStop(t *testing.T) {
	a := clock.Accelerated{Start: seasonStart, Epoch: time.Now(), Speed: 1}
	tm := a.TimerAt(a.Now().Add(time.Hour))
	if !tm.Stop() {
		t.Fatal("Stop on a pending timer returned false")
	}
	if tm.Stop() {
		t.Fatal("second Stop returned true")
	}
}

func TestSleepReturnsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	for name, c := range map[string]clock.Clock{
		"wall":        clock.Wall(),
		"accelerated": clock.Accelerated{Start: seasonStart, Epoch: time.Now(), Speed: 10},
		"manual":      clock.NewManual(seasonStart),
	} {
		if err := clock.Sleep(ctx, c, time.Hour); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Sleep = %v, want context.Canceled", name, err)
		}
	}
}

func TestWallTimerInThePastFiresAtOnce(t *testing.T) {
	ctx := testContext(t)
	if err := clock.SleepUntil(ctx, clock.Wall(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestManualTimersFireWhenAdvanced(t *testing.T) {
	ctx := testContext(t)
	m := clock.NewManual(seasonStart)
	early := m.TimerAt(seasonStart.Add(time.Hour))
	late := clock.NewTimer(m, 72*time.Hour)
	stopped := m.TimerAt(seasonStart.Add(2 * time.Hour))
	if err := m.WaitForTimers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if !stopped.Stop() {
		t.Fatal("Stop on a pending manual timer returned false")
	}

	m.Advance(90 * time.Minute)
	select {
	case got := <-early.C():
		if want := seasonStart.Add(90 * time.Minute); !got.Equal(want) {
			t.Fatalf("early fired with %s, want %s", got, want)
		}
	default:
		t.Fatal("timer due within the advance did not fire")
	}
	select {
	case <-late.C():
		t.Fatal("timer due after the advance fired")
	default:
	}
	if n := m.Timers(); n != 1 {
		t.Fatalf("Timers() = %d, want 1", n)
	}

	m.Set(seasonStart.Add(72 * time.Hour))
	select {
	case <-late.C():
	default:
		t.Fatal("72h timer did not fire when the clock was set to 72h")
	}
	select {
	case <-stopped.C():
		t.Fatal("stopped timer fired")
	default:
	}
}

func TestManualSleepWakesOnAdvance(t *testing.T) {
	ctx := testContext(t)
	m := clock.NewManual(seasonStart)
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(ctx, m, 10*time.Minute) }()
	if err := m.WaitForTimers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m.Advance(10 * time.Minute)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("Sleep did not return after the clock advanced")
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseEnv(t *testing.T) {
	start := "2026-03-01T00:00:00+08:00"
	epoch := "2026-03-15T09:00:00Z"
	tests := []struct {
		name      string
		env       map[string]string
		simulated bool
		speed     float64
		wantErrs  []string // substrings, each naming variable and value
	}{
		{name: "nothing set is the wall clock", env: nil, speed: 1},
		{name: "speed 1 alone is the wall clock", env: map[string]string{clock.EnvSpeed: "1"}, speed: 1},
		{name: "full simulation", env: map[string]string{clock.EnvStart: start, clock.EnvEpoch: epoch, clock.EnvSpeed: "2880"}, simulated: true, speed: 2880},
		{name: "start and epoch default speed", env: map[string]string{clock.EnvStart: start, clock.EnvEpoch: epoch}, simulated: true, speed: 1},
		{name: "bad speed", env: map[string]string{clock.EnvSpeed: "fast"}, wantErrs: []string{`KESU_CLOCK_SPEED="fast": not a number`}},
		{name: "zero speed", env: map[string]string{clock.EnvStart: start, clock.EnvEpoch: epoch, clock.EnvSpeed: "0"}, wantErrs: []string{`KESU_CLOCK_SPEED="0": must be greater than 0`}},
		{name: "NaN speed", env: map[string]string{clock.EnvStart: start, clock.EnvEpoch: epoch, clock.EnvSpeed: "NaN"}, wantErrs: []string{`KESU_CLOCK_SPEED="NaN"`}},
		{name: "start without epoch", env: map[string]string{clock.EnvStart: start}, wantErrs: []string{`KESU_CLOCK_EPOCH="": required when KESU_CLOCK_START is set`}},
		{name: "epoch without start", env: map[string]string{clock.EnvEpoch: epoch}, wantErrs: []string{`KESU_CLOCK_START="": required when KESU_CLOCK_EPOCH is set`}},
		{name: "speed without start", env: map[string]string{clock.EnvSpeed: "100"}, wantErrs: []string{`KESU_CLOCK_START="": required when KESU_CLOCK_SPEED is not 1`}},
		{name: "every problem at once", env: map[string]string{clock.EnvStart: "March 1st", clock.EnvEpoch: "yesterday", clock.EnvSpeed: "-3"},
			wantErrs: []string{`KESU_CLOCK_START="March 1st": not an RFC 3339 time`, `KESU_CLOCK_EPOCH="yesterday": not an RFC 3339 time`, `KESU_CLOCK_SPEED="-3"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := clock.ParseEnv(env(tt.env))
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("ParseEnv = %+v, want errors %q", s, tt.wantErrs)
				}
				if !errors.Is(err, clock.ErrInvalidSetting) {
					t.Errorf("error %v does not wrap ErrInvalidSetting", err)
				}
				for _, w := range tt.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnv: %v", err)
			}
			if s.Simulated() != tt.simulated || s.Speed != tt.speed {
				t.Fatalf("ParseEnv = %+v (simulated %v), want simulated %v speed %g", s, s.Simulated(), tt.simulated, tt.speed)
			}
			c := s.Clock()
			if _, ok := c.(clock.Accelerated); ok != tt.simulated {
				t.Fatalf("Clock() = %T, simulated %v", c, tt.simulated)
			}
		})
	}
}

func TestFromEnvSimulatedReadsSharedInstant(t *testing.T) {
	epoch := time.Now().UTC().Truncate(time.Second)
	c, err := clock.FromEnv(env(map[string]string{
		clock.EnvStart: "2026-03-01T00:00:00+08:00",
		clock.EnvEpoch: epoch.Format(time.RFC3339),
		clock.EnvSpeed: "60",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if now := c.Now(); now.Before(seasonStart) || now.After(seasonStart.Add(24*time.Hour)) {
		t.Fatalf("Now() = %s, want shortly after %s", now, seasonStart)
	}
}
