package policy

import "time"

// Satisfaction is the survey scale and what counts as (dis)satisfied.
type Satisfaction struct {
	Scale           int // answers run 1..Scale
	SatisfiedMin    int // a score at or above is satisfied
	DissatisfiedMax int // a score at or below is dissatisfied
}

// FollowUp holds the follow-up (回访) rules.
type FollowUp struct {
	// Delay after resolution before the follow-up is due.
	Delay time.Duration
	// ImmediateMinSeverity: complaints this severe or worse are followed up
	// at once ("" never).
	ImmediateMinSeverity Severity
	// RetryAfter[i] is the wait after failed attempt i+1 (the last value
	// repeats); MaxAttempts bounds the attempts.
	RetryAfter  []time.Duration
	MaxAttempts int
	// ReopenWindow: a contact within this long after close reopens the complaint.
	ReopenWindow time.Duration
	// ReopenOnDissatisfied reopens a complaint when the follow-up finds the
	// customer dissatisfied.
	ReopenOnDissatisfied bool
	Satisfaction         Satisfaction
	// Queue holds the follow-up work.
	Queue string
	// SweepAlertBefore: this long before the aftermath phase ends, complaints
	// still not closed raise an aftermath alert (optional; default 3 days).
	SweepAlertBefore time.Duration
}

// DefaultSweepAlertBefore is SweepAlertBefore when the file does not set it.
const DefaultSweepAlertBefore = 3 * 24 * time.Hour

// DelayFor is how long after resolution the follow-up is due for a severity.
func (f FollowUp) DelayFor(s Severity) time.Duration {
	if f.ImmediateMinSeverity != "" && s.Valid() && s.AtLeast(f.ImmediateMinSeverity) {
		return 0
	}
	return f.Delay
}

// RetryDelay is the wait before the next attempt after attempt number
// `attempt` (1-based) failed; ok is false when no attempts remain.
func (f FollowUp) RetryDelay(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt >= f.MaxAttempts || len(f.RetryAfter) == 0 {
		return 0, false
	}
	i := min(attempt-1, len(f.RetryAfter)-1)
	return f.RetryAfter[i], true
}

// Satisfied reports whether a score counts as satisfied.
func (s Satisfaction) Satisfied(score int) bool { return score >= s.SatisfiedMin && score <= s.Scale }

// Dissatisfied reports whether a score counts as dissatisfied.
func (s Satisfaction) Dissatisfied(score int) bool { return score >= 1 && score <= s.DissatisfiedMax }
