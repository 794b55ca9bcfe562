package clock

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Environment variables read by ParseEnv.
const (
	EnvStart = "KESU_CLOCK_START" // RFC 3339 simulated instant at EnvEpoch
	EnvSpeed = "KESU_CLOCK_SPEED" // simulated seconds per wall second; default 1
	EnvEpoch = "KESU_CLOCK_EPOCH" // RFC 3339 wall instant shared by every process
)

// MaxSpeed bounds KESU_CLOCK_SPEED: beyond it a season lasts less than a
// couple of seconds of wall time and pollers cannot keep up anyway.
const MaxSpeed = 1e6

// Settings selects a clock. The zero value means the wall clock.
type Settings struct {
	// Start is the simulated instant at wall instant Epoch; zero selects the
	// wall clock.
	Start time.Time
	// Epoch is the wall instant that corresponds to Start.
	Epoch time.Time
	// Speed is the acceleration factor (1 = real time).
	Speed float64
}

// Simulated reports whether the settings select a simulated clock.
func (s Settings) Simulated() bool { return !s.Start.IsZero() }

// Clock returns the clock the settings select.
func (s Settings) Clock() Clock {
	if !s.Simulated() {
		return Wall()
	}
	return Accelerated(s)
}

// String describes the settings for start-up logs.
func (s Settings) String() string {
	if !s.Simulated() {
		return "wall"
	}
	return fmt.Sprintf("simulated start=%s epoch=%s speed=%g",
		s.Start.Format(time.RFC3339), s.Epoch.Format(time.RFC3339), s.Speed)
}

// ParseEnv reads KESU_CLOCK_START, KESU_CLOCK_SPEED and KESU_CLOCK_EPOCH.
// With none set it selects the wall clock. A simulated clock needs START and
// EPOCH together: EPOCH has no safe default because processes that each
// picked their own start-up instant would disagree about the time. Every
// problem is reported, each naming the variable and its value.
func ParseEnv(getenv func(string) string) (Settings, error) {
	start, speed, epoch := getenv(EnvStart), getenv(EnvSpeed), getenv(EnvEpoch)
	var errs []error
	bad := func(name, value, reason string) {
		errs = append(errs, fmt.Errorf("%w: %s=%q: %s", ErrInvalidSetting, name, value, reason))
	}

	s := Settings{Speed: 1}
	if speed != "" {
		f, err := strconv.ParseFloat(speed, 64)
		switch {
		case err != nil:
			bad(EnvSpeed, speed, "not a number")
		case math.IsNaN(f) || f <= 0 || f > MaxSpeed:
			bad(EnvSpeed, speed, fmt.Sprintf("must be greater than 0 and at most %g", float64(MaxSpeed)))
		default:
			s.Speed = f
		}
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339Nano, start)
		if err != nil {
			bad(EnvStart, start, "not an RFC 3339 time (e.g. 2026-03-01T00:00:00+08:00)")
		} else {
			s.Start = t
		}
	}
	if epoch != "" {
		t, err := time.Parse(time.RFC3339Nano, epoch)
		if err != nil {
			bad(EnvEpoch, epoch, "not an RFC 3339 time (e.g. 2026-03-15T09:00:00Z)")
		} else {
			s.Epoch = t
		}
	}
	switch {
	case start != "" && epoch == "":
		bad(EnvEpoch, epoch, "required when "+EnvStart+" is set: every process must share the wall instant the simulation started")
	case start == "" && epoch != "":
		bad(EnvStart, start, "required when "+EnvEpoch+" is set")
	case start == "" && speed != "" && s.Speed != 1:
		bad(EnvStart, start, "required when "+EnvSpeed+" is not 1")
	}
	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	return s, nil
}

// FromEnv returns the clock selected by the KESU_CLOCK_* variables.
func FromEnv(getenv func(string) string) (Clock, error) {
	s, err := ParseEnv(getenv)
	if err != nil {
		return nil, err
	}
	return s.Clock(), nil
}
