package projection

import "time"

// SetCrashHooks makes r "crash" (Run returns the hook's error at once) after
// Apply and before commit, or after commit and before ack.
func SetCrashHooks(r *Runner, afterApply, afterCommit func() error) {
	r.afterApply, r.afterCommit = afterApply, afterCommit
}

// TrustConsumer skips the start-up consumer check so a test reaches the
// per-batch checks.
func TrustConsumer(r *Runner) { r.trustConsumer = true }

// FastRetry shortens the backoff.
func FastRetry(r *Runner) { r.retryMin, r.retryMax = 5*time.Millisecond, 50*time.Millisecond }
