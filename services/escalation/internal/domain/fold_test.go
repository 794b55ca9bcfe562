package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/escalation/internal/domain"
	"github.com/kesu315/kesu/services/kit/policy"
)

const shipped = "../../../../deploy/config/kesu.yaml"

var sh = mustLoc("Asia/Shanghai")

func mustLoc(n string) *time.Location {
	l, err := time.LoadLocation(n)
	if err != nil {
		panic(err)
	}
	return l
}

func loadPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// history builds a complaint's events one call at a time.
type history struct {
	id  string
	evs []*complaintv1.Event
}

func newHistory() *history { return &history{id: uuid.Must(uuid.NewV7()).String()} }

func (h *history) add(at time.Time, payload proto.Message) *complaintv1.Event {
	ev := &complaintv1.Event{
		EventId: uuid.Must(uuid.NewV7()).String(), ComplaintId: h.id, ShopId: "demo-flagship",
		OccurredAt: timestamppb.New(at), RecordedAt: timestamppb.New(at),
	}
	switch p := payload.(type) {
	case *complaintv1.ComplaintFiled:
		ev.Payload = &complaintv1.Event_ComplaintFiled{ComplaintFiled: p}
	case *complaintv1.ComplaintClassified:
		ev.Payload = &complaintv1.Event_ComplaintClassified{ComplaintClassified: p}
	case *complaintv1.ContactAdded:
		ev.Payload = &complaintv1.Event_ContactAdded{ContactAdded: p}
	case *complaintv1.AgentResponded:
		ev.Payload = &complaintv1.Event_AgentResponded{AgentResponded: p}
	case *complaintv1.PromiseMade:
		ev.Payload = &complaintv1.Event_PromiseMade{PromiseMade: p}
	case *complaintv1.ComplaintResolved:
		ev.Payload = &complaintv1.Event_ComplaintResolved{ComplaintResolved: p}
	case *complaintv1.ComplaintReopened:
		ev.Payload = &complaintv1.Event_ComplaintReopened{ComplaintReopened: p}
	case *complaintv1.ComplaintClosed:
		ev.Payload = &complaintv1.Event_ComplaintClosed{ComplaintClosed: p}
	case *complaintv1.FollowUpScheduled:
		ev.Payload = &complaintv1.Event_FollowUpScheduled{FollowUpScheduled: p}
	case *complaintv1.FollowUpAttempted:
		ev.Payload = &complaintv1.Event_FollowUpAttempted{FollowUpAttempted: p}
	case *complaintv1.SatisfactionRecorded:
		ev.Payload = &complaintv1.Event_SatisfactionRecorded{SatisfactionRecorded: p}
	case *complaintv1.ComplaintTransferred:
		ev.Payload = &complaintv1.Event_ComplaintTransferred{ComplaintTransferred: p}
	case *complaintv1.ComplaintEscalated:
		ev.Payload = &complaintv1.Event_ComplaintEscalated{ComplaintEscalated: p}
	case *complaintv1.DeadlineBreached:
		ev.Payload = &complaintv1.Event_DeadlineBreached{DeadlineBreached: p}
	case *complaintv1.PromiseBroken:
		ev.Payload = &complaintv1.Event_PromiseBroken{PromiseBroken: p}
	case *complaintv1.RiskFlagged:
		ev.Payload = &complaintv1.Event_RiskFlagged{RiskFlagged: p}
	default:
		panic(fmt.Sprintf("unsupported %T", payload))
	}
	h.evs = append(h.evs, ev)
	return ev
}

func (h *history) file(at time.Time, ch complaintv1.Channel, sev complaintv1.Severity) {
	h.add(at, &complaintv1.ComplaintFiled{Channel: ch, Items: []*complaintv1.Item{{SkuId: "SKU-1"}}})
	h.add(at, &complaintv1.ComplaintClassified{Category: "product_quality", Severity: sev})
}

func (h *history) fold(p *policy.Policy) *domain.Complaint { return domain.Fold(h.id, h.evs, nil, p) }

func clockOf(t *testing.T, c *domain.Complaint, clk policy.Clock, key string) *domain.Clock {
	t.Helper()
	cl := c.Clocks[domain.ClockKey(clk, key)]
	if cl == nil {
		t.Fatalf("no %s/%s clock; have %v", clk, key, c.Clocks)
	}
	return cl
}

// Off season: 2026-06-10 (a Wednesday), Shanghai.
var t0 = time.Date(2026, 6, 10, 10, 0, 0, 0, sh)

func TestFirstResponseClockPerChannelAndStop(t *testing.T) {
	p := loadPolicy(t)
	cases := []struct {
		ch              complaintv1.Channel
		sev             complaintv1.Severity
		at              time.Time
		target, limit   time.Duration
		warnAfter       time.Duration
		wantPhase       policy.Phase
		wantResolution  time.Duration
		wantODR         bool
		wantODRDueLocal string
	}{
		{ch: complaintv1.Channel_CHANNEL_ONLINE_CHAT, sev: complaintv1.Severity_SEVERITY_NORMAL, at: t0,
			target: 30 * time.Second, limit: 2 * time.Hour, warnAfter: time.Hour, wantPhase: policy.PhaseOffSeason, wantResolution: 72 * time.Hour},
		{ch: complaintv1.Channel_CHANNEL_HOTLINE_400, sev: complaintv1.Severity_SEVERITY_NORMAL, at: t0,
			target: time.Hour, limit: 24 * time.Hour, warnAfter: 18 * time.Hour, wantPhase: policy.PhaseOffSeason, wantResolution: 72 * time.Hour},
		// War-room mode: the battle phase tightens first response to 12 h and resolution to 48 h.
		{ch: complaintv1.Channel_CHANNEL_HOTLINE_400, sev: complaintv1.Severity_SEVERITY_NORMAL, at: time.Date(2026, 3, 15, 9, 0, 0, 0, sh),
			target: time.Hour, limit: 12 * time.Hour, warnAfter: 6 * time.Hour, wantPhase: policy.PhaseBattle, wantResolution: 48 * time.Hour},
		// A major complaint: 15 min target, 1 h limit, resolution in 24 h.
		{ch: complaintv1.Channel_CHANNEL_WEIBO, sev: complaintv1.Severity_SEVERITY_MAJOR, at: t0,
			target: 15 * time.Minute, limit: time.Hour, warnAfter: 30 * time.Minute, wantPhase: policy.PhaseOffSeason, wantResolution: 24 * time.Hour},
		{ch: complaintv1.Channel_CHANNEL_ODR_12315, sev: complaintv1.Severity_SEVERITY_NORMAL, at: t0,
			target: 4 * time.Hour, limit: 24 * time.Hour, warnAfter: 18 * time.Hour, wantPhase: policy.PhaseOffSeason, wantResolution: 72 * time.Hour,
			wantODR: true, wantODRDueLocal: "2026-06-25 10:00"}, // 10 working days, Dragon Boat (19th) off
	}
	for _, tc := range cases {
		t.Run(tc.ch.String()+"/"+tc.sev.String()+"/"+string(tc.wantPhase), func(t *testing.T) {
			h := newHistory()
			h.file(tc.at, tc.ch, tc.sev)
			c := h.fold(p)
			fr := clockOf(t, c, policy.ClockFirstResponse, "")
			if fr.Status != domain.ClockRunning || fr.Generation != 1 || fr.Phase != tc.wantPhase {
				t.Fatalf("first response %+v", fr)
			}
			if got := fr.Target.Sub(tc.at); got != tc.target {
				t.Errorf("target %s, want %s", got, tc.target)
			}
			if got := fr.Due.Sub(tc.at); got != tc.limit {
				t.Errorf("due %s, want %s", got, tc.limit)
			}
			if got := fr.Warn.Sub(tc.at); got != tc.warnAfter {
				t.Errorf("warn %s, want %s", got, tc.warnAfter)
			}
			if got := clockOf(t, c, policy.ClockResolution, "").Due.Sub(tc.at); got != tc.wantResolution {
				t.Errorf("resolution %s, want %s", got, tc.wantResolution)
			}
			odr := c.Clocks[domain.ClockKey(policy.ClockODR, "")]
			if (odr != nil) != tc.wantODR {
				t.Fatalf("odr clock %v, want %v", odr, tc.wantODR)
			}
			if odr != nil && odr.Due.In(sh).Format("2006-01-02 15:04") != tc.wantODRDueLocal {
				t.Errorf("odr due %s, want %s", odr.Due.In(sh), tc.wantODRDueLocal)
			}
			// Responding stops the first-response clock; the others keep running.
			h.add(tc.at.Add(time.Minute), &complaintv1.AgentResponded{AgentId: "a1", FirstResponse: true})
			c = h.fold(p)
			if fr := clockOf(t, c, policy.ClockFirstResponse, ""); fr.Status != domain.ClockStopped || !fr.FireAt().IsZero() {
				t.Errorf("after response: %+v", fr)
			}
			if clockOf(t, c, policy.ClockResolution, "").Status != domain.ClockRunning {
				t.Error("resolution stopped by a response")
			}
		})
	}
}

func TestNextResponseRestartsPerRepeatContact(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	h.add(t0.Add(time.Hour), &complaintv1.ContactAdded{ContactNumber: 2})
	c := h.fold(p)
	nr := clockOf(t, c, policy.ClockNextResponse, "")
	if nr.Status != domain.ClockRunning || nr.Generation != 1 || nr.Due.Sub(t0.Add(time.Hour)) != 12*time.Hour {
		t.Fatalf("next response %+v", nr)
	}
	// A second contact while waiting keeps the earlier wait.
	h.add(t0.Add(2*time.Hour), &complaintv1.ContactAdded{ContactNumber: 3})
	if got := clockOf(t, h.fold(p), policy.ClockNextResponse, ""); got.Generation != 1 || !got.Start.Equal(t0.Add(time.Hour)) {
		t.Fatalf("second contact restarted the wait: %+v", got)
	}
	h.add(t0.Add(3*time.Hour), &complaintv1.AgentResponded{AgentId: "a1"})
	if got := clockOf(t, h.fold(p), policy.ClockNextResponse, ""); got.Status != domain.ClockStopped {
		t.Fatalf("response did not stop it: %+v", got)
	}
	h.add(t0.Add(5*time.Hour), &complaintv1.ContactAdded{ContactNumber: 4})
	got := clockOf(t, h.fold(p), policy.ClockNextResponse, "")
	if got.Status != domain.ClockRunning || got.Generation != 2 || !got.Start.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("new contact after a response: %+v", got)
	}
}

func TestResolutionPausesAndResumesWithTimeLeft(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_EMAIL, complaintv1.Severity_SEVERITY_NORMAL)
	h.add(t0.Add(10*time.Hour), &complaintv1.ComplaintResolved{})
	c := h.fold(p)
	res := clockOf(t, c, policy.ClockResolution, "")
	if res.Status != domain.ClockPaused || res.Remaining != 62*time.Hour || !res.FireAt().IsZero() {
		t.Fatalf("paused %+v", res)
	}
	reopen := t0.Add(100 * time.Hour)
	h.add(reopen, &complaintv1.ComplaintReopened{Via: complaintv1.ReopenVia_REOPEN_VIA_DISSATISFIED_FOLLOW_UP})
	res = clockOf(t, h.fold(p), policy.ClockResolution, "")
	if res.Status != domain.ClockRunning || !res.Due.Equal(reopen.Add(62*time.Hour)) || res.Generation != 2 {
		t.Fatalf("resumed %+v, want due %s", res, reopen.Add(62*time.Hour))
	}
	// 80% warning: 57.6h of 72h, i.e. 14.4h before due, kept across the pause.
	if got := res.Due.Sub(res.Warn); got != time.Duration(0.2*float64(72*time.Hour)) {
		t.Errorf("warn lead %s", got)
	}
	h.add(reopen.Add(time.Hour), &complaintv1.ComplaintClosed{})
	c = h.fold(p)
	for _, cl := range c.SortedClocks() {
		if cl.Status == domain.ClockRunning || cl.Status == domain.ClockPaused {
			t.Errorf("closed complaint keeps %s %s", cl.Clock, cl.Status)
		}
	}
}

func TestStoppedAfterDueStillBreaches(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Severity_SEVERITY_NORMAL)
	// The poller was down: the agent answered 3 h later, past the 2 h limit.
	h.add(t0.Add(3*time.Hour), &complaintv1.AgentResponded{AgentId: "a1"})
	c := h.fold(p)
	fr := clockOf(t, c, policy.ClockFirstResponse, "")
	if fr.Status != domain.ClockStopped || !fr.Late(t0.Add(4*time.Hour)) || !fr.FireAt().Equal(fr.Due) {
		t.Fatalf("late stop %+v", fr)
	}
	decs := domain.Breach(c, p, fr.ID, fr.Generation, fr.Due, t0.Add(4*time.Hour))
	if len(decs) != 1 {
		t.Fatalf("want a breach, got %d", len(decs))
	}
}

func TestPromiseClock(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Severity_SEVERITY_NORMAL)
	h.add(t0.Add(time.Minute), &complaintv1.AgentResponded{AgentId: "a1", FirstResponse: true})
	h.add(t0.Add(2*time.Minute), &complaintv1.PromiseMade{PromiseId: "p1", AgentId: "a1", DueAt: timestamppb.New(t0.Add(12 * time.Minute))})
	h.add(t0.Add(3*time.Minute), &complaintv1.PromiseMade{PromiseId: "p2", AgentId: "a1"}) // no time: the 1 h default
	c := h.fold(p)
	p1, p2 := clockOf(t, c, policy.ClockPromise, "p1"), clockOf(t, c, policy.ClockPromise, "p2")
	if !p1.Due.Equal(t0.Add(12*time.Minute)) || !p1.Warn.Equal(t0.Add(10*time.Minute)) || p1.Agent != "a1" {
		t.Fatalf("p1 %+v", p1)
	}
	if !p2.Due.Equal(t0.Add(63 * time.Minute)) {
		t.Fatalf("p2 %+v", p2)
	}
	now := t0.Add(13 * time.Minute)
	decs := domain.Breach(c, p, p1.ID, p1.Generation, p1.Due, now)
	if len(decs) != 1 {
		t.Fatalf("promise breach: %v", decs)
	}
	pb, ok := decs[0].Payload.(*complaintv1.PromiseBroken)
	if !ok || pb.GetPromiseId() != "p1" || pb.GetAgentId() != "a1" {
		t.Fatalf("decision %T %v", decs[0].Payload, decs[0].Payload)
	}
	// The broken promise is both a promise breach ("next") and promise_broken
	// (supervisor): evaluated together from one level, it moves one rung.
	cc := domain.NewComplaint(h.id)
	for _, e := range h.evs {
		cc.Apply(e, 0, p)
	}
	fx := cc.Apply(h.add(now, pb), 0, p)
	if len(fx.Reactions) != 1 {
		t.Fatalf("reactions %+v", fx.Reactions)
	}
	esc, step := domain.Escalate(cc, p, fx.Reactions[0])
	if len(esc) != 1 || step.To.ID != "supervisor" || step.Trigger != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BROKEN_PROMISE {
		t.Fatalf("promise escalation %v %+v", esc, step)
	}
	// The agent replies: p2 is kept.
	h.add(t0.Add(20*time.Minute), &complaintv1.AgentResponded{AgentId: "a1"})
	if got := clockOf(t, h.fold(p), policy.ClockPromise, "p2"); got.Status != domain.ClockStopped || got.Late(now.Add(time.Hour)) {
		t.Fatalf("kept promise %+v", got)
	}
}

func TestFollowUpClock(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_EMAIL, complaintv1.Severity_SEVERITY_NORMAL)
	h.add(t0.Add(time.Hour), &complaintv1.ComplaintResolved{})
	h.add(t0.Add(time.Hour), &complaintv1.FollowUpScheduled{FollowUpId: "f1", DueAt: timestamppb.New(t0.Add(25 * time.Hour))})
	fu := clockOf(t, h.fold(p), policy.ClockFollowUp, "f1")
	if fu.Status != domain.ClockRunning || !fu.Due.Equal(t0.Add(73*time.Hour)) || !fu.Target.Equal(t0.Add(25*time.Hour)) {
		t.Fatalf("follow-up %+v", fu)
	}
	h.add(t0.Add(30*time.Hour), &complaintv1.FollowUpAttempted{FollowUpId: "f1", Outcome: complaintv1.FollowUpOutcome_FOLLOW_UP_OUTCOME_NO_ANSWER})
	if clockOf(t, h.fold(p), policy.ClockFollowUp, "f1").Status != domain.ClockRunning {
		t.Fatal("no answer stopped the follow-up clock")
	}
	ev := h.add(t0.Add(31*time.Hour), &complaintv1.SatisfactionRecorded{FollowUpId: "f1", Satisfaction: complaintv1.Satisfaction_SATISFACTION_DISSATISFIED, Score: 1})
	c := domain.NewComplaint(h.id)
	var last domain.Effects
	for _, e := range h.evs {
		last = c.Apply(e, 0, p)
	}
	if clockOf(t, c, policy.ClockFollowUp, "f1").Status != domain.ClockStopped {
		t.Fatal("satisfaction did not stop the follow-up clock")
	}
	if len(last.Reactions) != 1 || last.Reactions[0].Facts.Event != policy.TriggerDissatisfiedFollowUp || last.Reactions[0].CauseEvent != ev.GetEventId() {
		t.Fatalf("dissatisfied reaction %+v", last.Reactions)
	}
	decs, step := domain.Escalate(c, p, last.Reactions[0])
	if len(decs) != 1 || step.To.ID != "supervisor" {
		t.Fatalf("dissatisfied escalation %v %+v", decs, step)
	}
}

func TestODRWorkingDaysAcrossHolidays(t *testing.T) {
	p := loadPolicy(t)
	cases := []struct {
		name           string
		filed          time.Time
		wantDue        string
		wantWarn       string
		wantPhase      policy.Phase
		notCoveredYear int
	}{
		// Thu 30 Apr 2026; 1–5 May off; Sat 9 May is a make-up working day.
		{name: "May Day 2026", filed: time.Date(2026, 4, 30, 10, 0, 0, 0, sh), wantDue: "2026-05-18 10:00", wantWarn: "2026-05-14 10:00"},
		// Filed on the Mid-Autumn holiday (Fri 25 Sep); 1–7 Oct off; Sat 10 Oct worked.
		{name: "Mid-Autumn and National Day 2026", filed: time.Date(2026, 9, 25, 15, 30, 0, 0, sh), wantDue: "2026-10-15 15:30", wantWarn: "2026-10-13 15:30"},
		// Sun 20 Sep 2026 is a make-up working day: it counts.
		{name: "make-up Sunday counts", filed: time.Date(2026, 9, 18, 9, 0, 0, 0, sh), wantDue: "2026-10-09 09:00", wantWarn: "2026-09-30 09:00"},
		// National Day 2025 (1–8 Oct) with make-up Sun 28 Sep and Sat 11 Oct.
		{name: "National Day 2025", filed: time.Date(2025, 9, 26, 11, 0, 0, 0, sh), wantDue: "2025-10-16 11:00", wantWarn: "2025-10-14 11:00"},
		// A deadline running into a year the calendar does not list is an error, never a guess.
		{name: "year not covered", filed: time.Date(2027, 12, 24, 10, 0, 0, 0, sh), notCoveredYear: 2028},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory()
			h.file(tc.filed, complaintv1.Channel_CHANNEL_ODR_12315, complaintv1.Severity_SEVERITY_NORMAL)
			odr := clockOf(t, h.fold(p), policy.ClockODR, "")
			if tc.notCoveredYear != 0 {
				if odr.Status != domain.ClockUnscheduled || !strings.Contains(odr.Err, fmt.Sprint(tc.notCoveredYear)) || !odr.FireAt().IsZero() {
					t.Fatalf("want unscheduled naming %d, got %+v", tc.notCoveredYear, odr)
				}
				_, err := p.Calendar.AddWorkingDays(tc.filed, 10, sh)
				var nc *policy.YearNotCoveredError
				if !errors.As(err, &nc) || nc.Year != tc.notCoveredYear {
					t.Fatalf("calendar error %v", err)
				}
				return
			}
			if got := odr.Due.In(sh).Format("2006-01-02 15:04"); got != tc.wantDue {
				t.Errorf("due %s, want %s", got, tc.wantDue)
			}
			if got := odr.Warn.In(sh).Format("2006-01-02 15:04"); got != tc.wantWarn {
				t.Errorf("warn %s, want %s", got, tc.wantWarn)
			}
		})
	}
}

func TestReclassificationTightensRunningClocks(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	ev := h.add(t0.Add(10*time.Minute), &complaintv1.ComplaintClassified{Category: "product_quality", Severity: complaintv1.Severity_SEVERITY_MAJOR,
		RiskSignals: []*complaintv1.RiskSignal{{Code: "threat_315"}}})
	c := domain.NewComplaint(h.id)
	var fx domain.Effects
	for _, e := range h.evs {
		fx = c.Apply(e, 0, p)
	}
	fr := clockOf(t, c, policy.ClockFirstResponse, "")
	if fr.Generation != 2 || !fr.Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("tightened %+v", fr)
	}
	kinds := map[domain.ReactionKind]int{}
	for _, r := range fx.Reactions {
		kinds[r.Kind]++
		if r.CauseEvent != ev.GetEventId() {
			t.Errorf("reaction cause %s", r.CauseEvent)
		}
	}
	if kinds[domain.ReactMajorArrived] != 1 || kinds[domain.ReactEscalate] != 2 {
		t.Fatalf("reactions %+v", fx.Reactions)
	}
}

func TestLadder(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	c := h.fold(p)
	fr := clockOf(t, c, policy.ClockFirstResponse, "")
	// Not yet due: nothing.
	if decs := domain.Breach(c, p, fr.ID, fr.Generation, fr.Due, fr.Due.Add(-time.Second)); decs != nil {
		t.Fatal("breached before due")
	}
	// A stale generation: nothing.
	if decs := domain.Breach(c, p, fr.ID, fr.Generation+1, fr.Due, fr.Due); decs != nil {
		t.Fatal("breached another generation")
	}
	decs := domain.Breach(c, p, fr.ID, fr.Generation, fr.Due, fr.Due)
	if len(decs) != 1 {
		t.Fatalf("breach: %v", decs)
	}
	// The breach event makes a ladder reaction; the reaction lifts one rung.
	c = domain.NewComplaint(h.id)
	for _, e := range h.evs {
		c.Apply(e, 0, p)
	}
	fx := c.Apply(h.add(fr.Due, decs[0].Payload), 0, p)
	if len(fx.Reactions) != 1 || fx.Reactions[0].Facts.Clock != policy.ClockFirstResponse || fx.Reactions[0].DeadlineID != fr.ID {
		t.Fatalf("breach reaction %+v", fx.Reactions)
	}
	esc, step := domain.Escalate(c, p, fx.Reactions[0])
	if len(esc) != 1 || step.To.ID != "supervisor" || step.From.ID != "agent" {
		t.Fatalf("escalation: %v %+v", esc, step)
	}
	ce := esc[0].Payload.(*complaintv1.ComplaintEscalated)
	if ce.GetQueue() != "supervisor" || ce.GetToLevel() != complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR ||
		ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_BREACH || ce.GetDeadlineId() != fr.ID {
		t.Fatalf("escalated %v", ce)
	}
	h.add(fr.Due, ce)
	c = h.fold(p)
	if again := domain.Breach(c, p, fr.ID, fr.Generation, fr.Due, fr.Due.Add(time.Hour)); again != nil {
		t.Fatal("breached twice")
	}
	if c.CurrentLevel(p) != "supervisor" {
		t.Fatalf("level %s", c.CurrentLevel(p))
	}
	// The next breach (resolution) takes it one further: platform.
	r := domain.Reaction{ID: "r", Facts: policy.EscalationFacts{Event: policy.TriggerBreach, Clock: policy.ClockResolution}}
	if _, step := domain.Escalate(c, p, r); step == nil || step.To.ID != "platform" {
		t.Fatalf("second breach step %+v", step)
	}
	// An ODR breach goes to platform intervention with an alert.
	r = domain.Reaction{ID: "o", Facts: policy.EscalationFacts{Event: policy.TriggerBreach, Clock: policy.ClockODR}}
	if _, step := domain.Escalate(c, p, r); step == nil || step.To.ID != "platform" || !step.Alert {
		t.Fatalf("odr breach step %+v", step)
	}
	// Transfers over the threshold: supervisor — already there, so no move.
	r = domain.Reaction{ID: "x", Facts: policy.EscalationFacts{Event: policy.TriggerTransfers, Count: 2}}
	if decs, _ := domain.Escalate(c, p, r); decs != nil {
		t.Fatal("escalated to the level it is at")
	}
	// Crisis on arrival goes straight to PR.
	r = domain.Reaction{ID: "y", Facts: policy.EscalationFacts{Event: policy.TriggerSeverity, Severity: policy.SeverityCrisis}}
	if _, step := domain.Escalate(c, p, r); step == nil || step.To.ID != "pr" || !step.Alert {
		t.Fatalf("crisis step %+v", step)
	}
	// Repeat contacts: 2 is below the threshold of 3.
	fresh := newHistory()
	fresh.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	fc := fresh.fold(p)
	if decs, _ := domain.Escalate(fc, p, domain.Reaction{ID: "z", Facts: policy.EscalationFacts{Event: policy.TriggerRepeatContacts, Count: 2}}); decs != nil {
		t.Fatal("2 repeat contacts escalated")
	}
	if _, step := domain.Escalate(fc, p, domain.Reaction{ID: "z", Facts: policy.EscalationFacts{Event: policy.TriggerRepeatContacts, Count: 3}}); step == nil || step.To.ID != "supervisor" {
		t.Fatal("3 repeat contacts did not escalate")
	}
}

func TestManualMoves(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	c := h.fold(p)
	if _, _, err := domain.Manual(c, p, "", false, "r"); !errors.Is(err, domain.ErrWrongWay) {
		t.Fatalf("down from the bottom: %v", err)
	}
	if _, _, err := domain.Manual(c, p, "agent", true, "r"); !errors.Is(err, domain.ErrWrongWay) {
		t.Fatalf("up to the same level: %v", err)
	}
	ce, step, err := domain.Manual(c, p, "platform", true, "媒体关注")
	if err != nil || ce.GetToLevelId() != "platform" || ce.GetQueue() != "platform" || step.From.ID != "agent" {
		t.Fatalf("up: %v %v %v", ce, step, err)
	}
	h.add(t0.Add(time.Minute), ce)
	c = h.fold(p)
	ce, _, err = domain.Manual(c, p, "", false, "已安抚")
	if err != nil || ce.GetToLevelId() != "supervisor" || ce.GetTrigger() != complaintv1.EscalationTrigger_ESCALATION_TRIGGER_MANUAL {
		t.Fatalf("down: %v %v", ce, err)
	}
	h.add(t0.Add(2*time.Minute), &complaintv1.ComplaintClosed{})
	if _, _, err := domain.Manual(h.fold(p), p, "", true, "r"); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if r := domain.ValidateReason(""); r == "" {
		t.Error("empty reason accepted")
	}
}

func TestWarnOncePerGeneration(t *testing.T) {
	p := loadPolicy(t)
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_HOTLINE_400, complaintv1.Severity_SEVERITY_NORMAL)
	c := h.fold(p)
	fr := clockOf(t, c, policy.ClockFirstResponse, "")
	if !fr.FireAt().Equal(fr.Warn) {
		t.Fatalf("fire at %s, want the warning %s", fr.FireAt(), fr.Warn)
	}
	decs := domain.Warn(c, fr.ID, fr.Generation, fr.Due)
	if len(decs) != 1 {
		t.Fatalf("warn %v", decs)
	}
	h.add(fr.Warn, decs[0].Payload)
	c = h.fold(p)
	if fr := clockOf(t, c, policy.ClockFirstResponse, ""); !fr.Warned || !fr.FireAt().Equal(fr.Due) {
		t.Fatalf("after warning %+v", fr)
	}
	if again := domain.Warn(c, fr.ID, fr.Generation, fr.Due); again != nil {
		t.Fatal("warned twice")
	}
}

// A ladder evaluation that no trigger of the policy holds for is not stored:
// a normal complaint's classification and a second contact move nothing at
// any level; a major classification and a third contact are evaluated.
func TestOnlyEvaluationsATriggerHoldsForAreStored(t *testing.T) {
	p := loadPolicy(t)
	escalations := func(fx domain.Effects) (n int) {
		for _, r := range fx.Reactions {
			if r.Kind == domain.ReactEscalate {
				n++
			}
		}
		return n
	}
	h := newHistory()
	h.file(t0, complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Severity_SEVERITY_NORMAL)
	c := domain.NewComplaint(h.id)
	var got []int
	for _, e := range h.evs {
		got = append(got, escalations(c.Apply(e, 0, p)))
	}
	for i := 1; i <= 3; i++ {
		got = append(got, escalations(c.Apply(h.add(t0.Add(time.Duration(i)*time.Minute), &complaintv1.ContactAdded{}), 0, p)))
	}
	got = append(got, escalations(c.Apply(h.add(t0.Add(5*time.Minute), &complaintv1.ComplaintClassified{Category: "product_quality", Severity: complaintv1.Severity_SEVERITY_MAJOR}), 0, p)))
	// filed, classified normal, repeat contacts 1 and 2 (the policy's rule
	// starts at 3), repeat contact 3, reclassified major.
	if fmt.Sprint(got) != "[0 0 0 0 1 1]" {
		t.Fatalf("escalate reactions per event %v, want [0 0 0 0 1 1]", got)
	}
}
