package adapters_test

import (
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters"
	"github.com/kesu315/kesu/services/kit/alerts"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

// season builds complaints at every stage: open at two levels, resolved
// without a follow-up yet, with one pending, exhausted, and closed ones.
func season(t *testing.T, r *rig) map[string]string {
	ids := map[string]string{}
	ids["open-agent"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", false)
	ids["open-supervisor"] = r.complaint(complaintv1.Severity_SEVERITY_MAJOR, "agent-1", false,
		&complaintv1.ComplaintEscalated{FromLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, ToLevel: complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR})
	ids["unowned"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "", false)
	ids["pending"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-2", true)
	ids["satisfied"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-2", true)
	ids["exhausted"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-2", true)
	r.settle()
	// resolved just now, the poller has not scheduled its follow-up yet
	ids["no-follow-up"] = r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-3", true)
	r.caughtUp()
	caller := r.as(auth.RoleAgent, "caller")
	fid := r.followUp(ids["satisfied"]).GetFollowUpId()
	if _, err := r.api.RecordAttempt(caller, &followupv1.RecordAttemptRequest{ComplaintId: ids["satisfied"], FollowUpId: fid,
		Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_REACHED, Answer: &followupv1.Answer{Score: 5, Retention: complaintv1.Retention_RETENTION_KEPT}}); err != nil {
		t.Fatal(err)
	}
	fid = r.followUp(ids["exhausted"]).GetFollowUpId()
	for range 3 {
		if _, err := r.api.RecordAttempt(caller, &followupv1.RecordAttemptRequest{ComplaintId: ids["exhausted"], FollowUpId: fid,
			Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER, Answer: nil}); err != nil {
			t.Fatal(err)
		}
	}
	r.caughtUp()
	return ids
}

func TestSweepGroupsAndAftermathAlert(t *testing.T) {
	r := newRig(t, battle.AddDate(-1, 0, 0))
	// Last season's open complaint is not in this season's sweep.
	r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", false)
	r.clock.Set(battle)
	ids := season(t, r)
	sup := r.as(auth.RoleSupervisor, "sup")
	res, err := r.api.Sweep(sup, &followupv1.SweepRequest{ShopId: shop, Season: 2027})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetTotal() != 6 {
		t.Fatalf("total %d, want 6: %v", res.GetTotal(), res)
	}
	type g struct {
		owner string
		level complaintv1.EscalationLevel
		n     int
	}
	var got []g
	stages := map[string]string{}
	for _, grp := range res.GetGroups() {
		got = append(got, g{grp.GetOwner(), grp.GetLevel(), len(grp.GetItems())})
		for _, it := range grp.GetItems() {
			stages[it.GetComplaintId()] = it.GetStage()
			if it.GetAgeSeconds() < 0 {
				t.Errorf("age %d", it.GetAgeSeconds())
			}
		}
	}
	want := []g{
		{"agent-1", complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR, 1},
		{"agent-2", complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, 2},
		{"agent-1", complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, 1},
		{"agent-3", complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, 1},
		{"", complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT, 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for k, stage := range map[string]string{"open-agent": "open", "pending": "follow_up_pending", "exhausted": "follow_up_exhausted", "no-follow-up": "resolved_no_follow_up"} {
		if stages[ids[k]] != stage {
			t.Errorf("%s: stage %q, want %q", k, stages[ids[k]], stage)
		}
	}
	if res.GetEndNear() {
		t.Error("end near in the battle phase")
	}

	// Retention: the satisfied one kept the item; all seven of the season were refund requests.
	ret, err := r.api.Retention(sup, &followupv1.RetentionRequest{ShopId: shop, Season: 2027})
	if err != nil {
		t.Fatal(err)
	}
	if ret.GetRequests() != 7 || ret.GetKept() != 1 || ret.GetReturned() != 0 || ret.GetKeptRate() != 1 {
		t.Fatalf("retention %v", ret)
	}

	// Two days before the aftermath ends (2027-04-10 Shanghai): one alert a day.
	am := adapters.NewAftermath(r.pool, r.js, r.svc, r.pol, r.clock, slog.Default(), time.Hour)
	if raised, err := am.RunOnce(r.ctx); err != nil || len(raised) != 0 {
		t.Fatalf("battle phase: %v %v", raised, err)
	}
	r.clock.Set(time.Date(2027, 4, 9, 9, 0, 0, 0, shanghai))
	raised, err := am.RunOnce(r.ctx)
	if err != nil || len(raised) != 1 {
		t.Fatalf("near the end: %v %v", raised, err)
	}
	a := raised[0]
	if a.GetKind() != alertsv1.AlertKind_ALERT_KIND_AFTERMATH_OPEN || a.GetCount() != 6 || a.GetShopId() != shop || a.GetSummaryZh() == "" {
		t.Fatalf("alert %v", a)
	}
	r.clock.Advance(time.Hour)
	if again, err := am.RunOnce(r.ctx); err != nil || len(again) != 0 {
		t.Fatalf("same day again: %v %v", again, err)
	}
	s, err := r.js.Stream(r.ctx, eventstore.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(r.ctx, alerts.Subject(alertsv1.AlertKind_ALERT_KIND_AFTERMATH_OPEN))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(r.ctx); info.State.Msgs != 1 || m.Header.Get("Nats-Msg-Id") != a.GetAlertId() {
		t.Fatalf("alerts stream: %d messages", info.State.Msgs)
	}
	near, err := r.api.Sweep(sup, &followupv1.SweepRequest{ShopId: shop, Season: 2027})
	if err != nil || !near.GetEndNear() || near.GetSecondsToEnd() <= 0 {
		t.Fatalf("sweep near the end: %v %v", near, err)
	}
}

func TestRebuildEqualsLive(t *testing.T) {
	r := newRig(t, battle)
	season(t, r)
	for range 3 {
		id := r.complaint(complaintv1.Severity_SEVERITY_HIGH, "agent-9", true)
		r.settle()
		r.append(id, &complaintv1.ContactAdded{ContactNumber: 2})
		r.settle()
	}
	r.settle()
	live := dump(t, r)
	r.stopProjection()
	if err := r.runner.Rebuild(r.ctx, adapters.NewProjection()); err != nil {
		t.Fatal(err)
	}
	rebuilt := dump(t, r)
	if len(live) == 0 || !reflect.DeepEqual(live, rebuilt) {
		t.Fatalf("rebuild differs:\nlive    %v\nrebuilt %v", live, rebuilt)
	}
	// Live again after the rebuild: new events keep flowing.
	r.startProjection()
	id := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
	r.settle()
	if r.count(id, "FollowUpScheduled") != 1 {
		t.Fatal("not scheduled after the rebuild")
	}
}

func dump(t *testing.T, r *rig) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		"SELECT to_jsonb(c)::text FROM followup.complaints c ORDER BY complaint_id",
		"SELECT to_jsonb(e)::text FROM followup.external_refs e ORDER BY source, external_id",
	} {
		rows, err := r.pool.Query(r.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
	}
	out = append(out, fmt.Sprint(len(out)))
	return out
}
