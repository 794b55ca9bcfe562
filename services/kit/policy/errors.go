package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *ValidationError: the policy file
// was read but its content is wrong.
var ErrInvalid = errors.New("policy: invalid")

// ErrYearNotCovered is matched by every *YearNotCoveredError: a working-day
// computation reached a year the holiday calendar does not list. Counting
// weekdays instead would silently put deadlines on Spring Festival.
var ErrYearNotCovered = errors.New("policy: year not covered by the holiday calendar")

// ErrUnknownShop is returned (wrapped, naming the id) by lookups given a shop
// id the policy does not define.
var ErrUnknownShop = errors.New("policy: unknown shop")

// Problem is one thing wrong in a policy file.
type Problem struct {
	// Path is the YAML key path, e.g. "tiers[0].refund_cap" or
	// "seasons.2027.phases[1].start".
	Path string
	// Value is the offending value as written (strings quoted, dates and
	// numbers bare); empty when the key is missing.
	Value string
	// Reason says what is wrong, e.g. "must be ≥ 0".
	Reason string
	// Line is the 1-based line of the key in the file, 0 when unknown. It is
	// not part of Error() so messages stay stable when the file is reformatted.
	Line int
}

// String formats the problem as "path: value: reason" (or "path: reason").
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.Value != "" {
		b.WriteString(": ")
		b.WriteString(p.Value)
	}
	b.WriteString(": ")
	b.WriteString(p.Reason)
	return b.String()
}

// ValidationError lists every problem found in a policy file.
type ValidationError struct {
	// Source names the file ("" when parsed from bytes).
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("policy")
	if e.Source != "" {
		b.WriteString(" ")
		b.WriteString(e.Source)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": 1 problem:")
	} else {
		fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// YearNotCoveredError names the year the holiday calendar lacks.
type YearNotCoveredError struct {
	Year int
}

func (e *YearNotCoveredError) Error() string {
	return fmt.Sprintf("policy: holiday calendar does not cover year %d (add holidays.%d to the policy file)", e.Year, e.Year)
}

// Is makes errors.Is(err, ErrYearNotCovered) true.
func (e *YearNotCoveredError) Is(target error) bool { return target == ErrYearNotCovered }
