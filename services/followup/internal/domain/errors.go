package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Errors the app layer maps to gRPC codes in ports.
var (
	// ErrNotFound: no such complaint (or not one the caller may see).
	ErrNotFound = errors.New("complaint not found")
	// ErrNotResolved: the command needs a resolved (or closed) complaint.
	ErrNotResolved = errors.New("complaint is not resolved")
	// ErrNotCurrent: the follow-up named is not the complaint's current one.
	ErrNotCurrent = errors.New("follow-up is not the complaint's current follow-up")
	// ErrFollowUpEnded: the follow-up takes no more attempts.
	ErrFollowUpEnded = errors.New("follow-up takes no more attempts")
	// ErrStaleAttempt: the attempt number is not the next one.
	ErrStaleAttempt = errors.New("attempt number is not the next attempt")
	// ErrSurveyReused: a survey id already recorded with a different answer.
	ErrSurveyReused = errors.New("survey already recorded with a different answer")
	// ErrAlreadyClosed: the complaint is closed already.
	ErrAlreadyClosed = errors.New("complaint is closed already")
	// ErrNotReopenable: only a resolved or closed complaint can be reopened.
	ErrNotReopenable = errors.New("complaint is open; only a resolved or closed complaint can be reopened")
)

// Violation is one bad field: its path in the request and why it is bad.
type Violation struct {
	Field  string
	Reason string
}

// ValidationError lists every bad field of a command at once.
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
