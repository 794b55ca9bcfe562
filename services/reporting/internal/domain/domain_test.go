package domain_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/reporting/internal/domain"
)

func TestDistributionInterpolatesLikePercentileCont(t *testing.T) {
	cases := []struct {
		vals              []domain.ValueCount
		mean, median, p90 float64
	}{
		{[]domain.ValueCount{{20, 1}, {45, 1}, {1800, 1}, {7200, 1}}, 2266.25, 922.5, 5580},
		{[]domain.ValueCount{{10, 3}}, 10, 10, 10},
		{[]domain.ValueCount{{1, 1}, {2, 8}, {100, 1}}, 11.7, 2, 11.8},
		{nil, 0, 0, 0},
	}
	for _, c := range cases {
		st := domain.Distribution(c.vals, 1)
		if abs(st.Mean-c.mean) > 1e-9 || abs(st.Median-c.median) > 1e-9 || abs(st.P90-c.p90) > 1e-9 {
			t.Errorf("%v: got %+v, want mean %v median %v p90 %v", c.vals, st, c.mean, c.median, c.p90)
		}
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func ev(t *testing.T, at time.Time, p proto.Message) *complaintv1.Event {
	t.Helper()
	e, err := events.New(events.Envelope{ComplaintID: "c", ShopID: "demo-flagship", OccurredAt: at, RecordedAt: at}, p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A complaint resolved within 72 h, reopened and resolved again after 72 h
// counts by its last resolution; a replayed event changes nothing; events
// before the filing are ignored.
func TestFoldReopenedComplaint(t *testing.T) {
	pol, err := policy.Load("../../../../deploy/config/kesu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pl := domain.PolicyPlacer{Policy: pol}
	cst := time.FixedZone("CST", 8*3600)
	t0 := time.Date(2027, 3, 10, 23, 0, 0, 0, cst)
	var f *domain.Fact
	f = domain.Fold(f, 1, ev(t, t0, &complaintv1.ComplaintResolved{}), pl)
	if f != nil {
		t.Fatal("an event before the filing made a fact")
	}
	steps := []proto.Message{
		&complaintv1.ComplaintFiled{Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT},
		&complaintv1.ComplaintResolved{RemedyKind: complaintv1.RemedyKind_REMEDY_KIND_REFUND, RemedyAmountFen: 100},
		&complaintv1.ComplaintReopened{},
		&complaintv1.ComplaintResolved{},
	}
	times := []time.Time{t0, t0.Add(10 * time.Hour), t0.Add(20 * time.Hour), t0.Add(80 * time.Hour)}
	for i, p := range steps {
		f = domain.Fold(f, uint64(i+2), ev(t, times[i], p), pl)
		if i == 1 && !f.ResolvedWithin72h() {
			t.Fatal("resolved in 10 h should count within 72 h")
		}
		if i == 2 && (f.ResolvedWithin72h() || f.Status != domain.StatusOpen) {
			t.Fatal("a reopened complaint is open and not resolved within 72 h")
		}
	}
	if f.ResolvedWithin72h() || f.ResolutionSeconds != 80*3600 || f.Resolutions != 2 || f.Reopens != 1 || f.RemedyKind != "" {
		t.Fatalf("after the second resolution: %+v", f)
	}
	if f.Phase != "preparation" || f.ResolvedPhase != "aftermath" && f.ResolvedPhase != "battle" {
		t.Fatalf("phases %s → %s", f.Phase, f.ResolvedPhase)
	}
	before := *f
	f = domain.Fold(f, 3, ev(t, t0, &complaintv1.ComplaintReopened{}), pl) // redelivered
	if f.Reopens != before.Reopens || f.Status != before.Status {
		t.Fatal("a replayed event changed the fact")
	}
}
