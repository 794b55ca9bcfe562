package projection

import "errors"

var (
	// ErrInvalidConfig is wrapped by every validation error of Config.
	ErrInvalidConfig = errors.New("invalid projection config")
	// ErrRunning is returned by Run when the Runner is already running.
	ErrRunning = errors.New("projection runner already running")
)

// errResync asks the loop to recreate the consumer at checkpoint+1: the
// consumer skipped an event that is still out with someone else.
var errResync = errors.New("consumer skipped an event; recreating it at the checkpoint")

// crashError is what a test hook returns: Run stops at once, as if the
// process had died at that point.
type crashError struct{ err error }

func (e crashError) Error() string { return "simulated crash: " + e.err.Error() }
func (e crashError) Unwrap() error { return e.err }
