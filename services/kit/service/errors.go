package service

import (
	"errors"
	"fmt"
)

// Exit codes of a service binary.
const (
	ExitFailure = 1 // the service failed while running
	ExitUsage   = 2 // bad command line or configuration: fix and retry
)

// ErrShutdownTimeout means components were still running when the
// shutdown deadline passed.
var ErrShutdownTimeout = errors.New("shutdown deadline passed with components still running")

// ExitError carries the process exit code for an error Run returns.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ExitCode returns the exit code for err: 0 for nil, the ExitError code,
// or ExitFailure.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Code
	}
	return ExitFailure
}
