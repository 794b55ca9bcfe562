package policy

import (
	"strings"
	"testing"
	"time"
)

// followup.sweep_alert_before is optional: absent it defaults, present it
// must be a duration.
func TestSweepAlertBefore(t *testing.T) {
	base := readFile(t, "testdata/minimal.yaml")
	p, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if p.FollowUp.SweepAlertBefore != DefaultSweepAlertBefore {
		t.Errorf("default %s, want %s", p.FollowUp.SweepAlertBefore, DefaultSweepAlertBefore)
	}
	p, err = Parse([]byte(mutate(t, base, "  queue: followup\n", "  queue: followup\n  sweep_alert_before: 5d\n")))
	if err != nil {
		t.Fatal(err)
	}
	if p.FollowUp.SweepAlertBefore != 5*24*time.Hour {
		t.Errorf("got %s, want 5d", p.FollowUp.SweepAlertBefore)
	}
	problems := problemsOf(t, func() error {
		_, err := Parse([]byte(mutate(t, base, "  queue: followup\n", "  queue: followup\n  sweep_alert_before: 3wd\n")))
		return err
	}())
	if len(problems) != 1 || !strings.HasPrefix(problems[0], `followup.sweep_alert_before: "3wd"`) {
		t.Errorf("problems %v", problems)
	}
}
