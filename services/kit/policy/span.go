package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Span is a length of time: a wall-clock duration or a number of working
// days. Exactly one is set. Working days exist because the 12315 ODR rule
// counts them ("within 10 working days"), and a Spring Festival week must not
// be counted as seven days of work.
type Span struct {
	Duration    time.Duration
	WorkingDays int
}

// ParseSpan parses a Go duration ("30s", "2h", "1h30m"), whole calendar
// days ("7d" = 168h) or working days ("10wd").
func ParseSpan(s string) (Span, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Span{}, errors.New("empty")
	}
	if n, ok := strings.CutSuffix(s, "wd"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return Span{}, errors.New(`not working days: want a whole number then "wd", like "10wd"`)
		}
		return Span{WorkingDays: v}, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v > 100000 || v < -100000 {
			return Span{}, errors.New(`not days: want a whole number then "d", like "7d"`)
		}
		return Span{Duration: time.Duration(v) * 24 * time.Hour}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Span{}, errors.New(`not a duration: want e.g. "30s", "2h", "72h", "7d" or "10wd"`)
	}
	return Span{Duration: d}, nil
}

// IsZero reports whether neither part is set.
func (s Span) IsZero() bool { return s.Duration == 0 && s.WorkingDays == 0 }

// InWorkingDays reports whether the span counts working days.
func (s Span) InWorkingDays() bool { return s.WorkingDays != 0 }

func (s Span) positive() bool { return s.Duration > 0 || s.WorkingDays > 0 }

// sameUnit reports whether both spans count the same kind of time, which is
// what makes them comparable.
func (s Span) sameUnit(o Span) bool { return s.InWorkingDays() == o.InWorkingDays() }

// less compares spans of the same unit.
func (s Span) less(o Span) bool {
	if s.InWorkingDays() {
		return s.WorkingDays < o.WorkingDays
	}
	return s.Duration < o.Duration
}

// String formats the span the way the YAML writes it.
func (s Span) String() string {
	if s.InWorkingDays() {
		return fmt.Sprintf("%dwd", s.WorkingDays)
	}
	return formatDuration(s.Duration)
}

// formatDuration drops the zero minutes and seconds Go prints ("72h0m0s" ->
// "72h") so messages show durations the way the YAML writes them.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Warn is when a clock warns before it breaches: at a fraction of the time
// allowed (Fraction in (0,1)), or a span before the breach (Before). Exactly
// one is set on a configured clock.
type Warn struct {
	Fraction float64
	Before   Span
}

// IsZero reports whether the warning is unset.
func (w Warn) IsZero() bool { return w.Fraction == 0 && w.Before.IsZero() }

// String formats the warning as written in YAML ("80%" or "30m").
func (w Warn) String() string {
	if w.Fraction != 0 {
		return strconv.FormatFloat(w.Fraction*100, 'f', -1, 64) + "%"
	}
	return w.Before.String()
}

// parseWarn parses "80%" or a span.
func parseWarn(s string) (Warn, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Warn{}, errors.New(`not a percentage: want e.g. "80%"`)
		}
		return Warn{Fraction: v / 100}, nil
	}
	sp, err := ParseSpan(s)
	if err != nil {
		return Warn{}, errors.New(`not a warning point: want a percentage of the time allowed ("80%") or a span before the breach ("30m", "2wd")`)
	}
	return Warn{Before: sp}, nil
}
