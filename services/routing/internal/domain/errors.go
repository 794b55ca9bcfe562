package domain

import (
	"errors"
	"fmt"
)

// ErrNotFound: no such complaint (or agent), or not visible to the caller.
var ErrNotFound = errors.New("not found")

// StateError refuses a command the complaint's current state does not allow
// (responding to a closed complaint, claiming a held one…).
type StateError struct {
	// Kind is a short upper-case reason, e.g. "CLOSED", "ASSIGNED", "NOT_OWNER".
	Kind string
	Msg  string
}

func (e *StateError) Error() string { return e.Msg }

func stateErr(kind, format string, args ...any) error {
	return &StateError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// PermissionError refuses what the actor's role or tier may not do.
type PermissionError struct {
	// Reason is UPPER_SNAKE_CASE, e.g. "ABOVE_TIER_CAP".
	Reason string
	Msg    string
}

func (e *PermissionError) Error() string { return e.Msg }

func permErr(reason, format string, args ...any) error {
	return &PermissionError{Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// Violation is one bad field of a request.
type Violation struct{ Field, Reason string }

// ValidationError lists every bad field of a request.
type ValidationError struct{ Violations []Violation }

func (e *ValidationError) Error() string {
	s := "invalid request:"
	for _, v := range e.Violations {
		s += " " + v.Field + ": " + v.Reason + ";"
	}
	return s
}

// violations collects field problems; err is nil when there are none.
type violations []Violation

func (v *violations) add(field, reason string) { *v = append(*v, Violation{field, reason}) }

func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	return &ValidationError{Violations: v}
}
