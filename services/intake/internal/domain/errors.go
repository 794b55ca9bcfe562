// Package domain holds intake's rules as pure functions: what a valid complaint
// is, what filing one decides, and how a complaint's events fold into its state.
// It knows no NATS, Postgres or gRPC (DESIGN.md §1).
package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Errors the app layer maps to gRPC codes in ports.
var (
	// ErrAlreadyFiled: the complaint's stream already has a ComplaintFiled.
	ErrAlreadyFiled = errors.New("complaint already filed")
	// ErrNotFound: no such complaint.
	ErrNotFound = errors.New("complaint not found")
)

// Violation is one bad field: its path in the request (e.g. "customer.phone",
// "items[2].sku_id") and why it is bad, in words a caller can act on.
type Violation struct {
	Field  string
	Reason string
}

// ValidationError lists every bad field of a command at once, so a caller fixes
// them in one round trip.
type ValidationError struct {
	Violations []Violation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Reason
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// violations collects Violations while a command is checked.
type violations []Violation

func (vs *violations) add(field, format string, args ...any) {
	*vs = append(*vs, Violation{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (vs violations) err() error {
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: vs}
}
