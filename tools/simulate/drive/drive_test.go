package drive

import (
	"strings"
	"testing"
	"time"

	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/season"
)

func TestSummarise(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := Summarise(ds)
	if p.N != 100 || p.P50 != 50*time.Millisecond || p.P90 != 90*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Errorf("%+v", p)
	}
	if (Summarise(nil) != Percentiles{}) || Summarise(nil).String() != "n/a" {
		t.Error("empty summary")
	}
	if one := Summarise([]time.Duration{time.Second}); one.P50 != time.Second || one.P99 != time.Second {
		t.Errorf("one sample: %+v", one)
	}
}

// Without a terminal the bars degrade to one line per 10% of each phase,
// and every phase ends on a complete line.
func TestProgressLines(t *testing.T) {
	s := &season.Season{Phases: []season.Phase{
		{Phase: policy.PhasePreparation, Contacts: 20}, {Phase: policy.PhaseBattle, Contacts: 10}, {Phase: policy.PhaseAftermath, Contacts: 0},
	}}
	var out strings.Builder
	p := newProgress(&out, false, s)
	for range 20 {
		p.done(0, false)
	}
	for i := range 10 {
		p.done(1, i == 3)
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d lines, want 10 per non-empty phase:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[9], "备战") || !strings.Contains(lines[9], "100%") || !strings.Contains(lines[19], "errors 1") {
		t.Errorf("lines:\n%s", out.String())
	}
}
