package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/tools/simulate/casework"
	"github.com/kesu315/kesu/tools/simulate/drive"
	"github.com/kesu315/kesu/tools/simulate/season"
)

// The invariants a merchant relies on (issue #8), each checked against a
// source the answering service does not control: the events in JetStream
// (streamLog) or what the simulator did (the season, the floor's answers).
// Projections lag, so each check polls until it holds, within a bound: a
// check still failing at its bound is a finding, never a slow machine's
// timing (nothing here times how fast anything happened).

// pollUntil calls check until it reports no problems, waiting between
// calls; at the bound (or when ctx ends) it fails the test with what is
// still wrong.
func pollUntil(ctx context.Context, t *testing.T, bound time.Duration, what string, check func() []string) bool {
	t.Helper()
	start := time.Now()
	deadline, report := start.Add(bound), start.Add(10*time.Second)
	for {
		problems := check()
		if len(problems) == 0 {
			return true
		}
		if time.Now().After(report) {
			report = time.Now().Add(10 * time.Second)
			t.Logf("%s: %d problems after %s, e.g. %s", what, len(problems), time.Since(start).Round(time.Second), problems[0])
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			sort.Strings(problems)
			t.Errorf("%s: still %d problems after %s, e.g.\n  %s", what, len(problems), bound,
				strings.Join(problems[:min(len(problems), 10)], "\n  "))
			return false
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond): // polling a projection
		}
	}
}

// seasonShops lists the shops the season files complaints for.
func seasonShops(s *season.Season) []string {
	var shops []string
	for _, c := range s.Contacts {
		if !slices.Contains(shops, c.ShopID) {
			shops = append(shops, c.ShopID)
		}
	}
	sort.Strings(shops)
	return shops
}

// checkDisputes checks (e): every contact of the season is on exactly one
// complaint in JetStream, every contact of a dispute on the same one, no two
// disputes on one complaint, and there are as many complaint streams as
// disputes. It returns each dispute's complaint id.
func checkDisputes(ctx context.Context, t *testing.T, s *season.Season, res *drive.PlayResult, stream *streamLog) map[int]string {
	t.Helper()
	onComplaints := func(c season.Contact) map[string]bool {
		if c.Via == season.ViaInbound {
			return stream.byExternal[c.Source+"|"+c.ExternalID]
		}
		return stream.byRequest[c.RequestID]
	}
	// Inbound contacts are filed asynchronously: wait until intake has
	// filed every contact somewhere.
	ok := pollUntil(ctx, t, 2*time.Minute, "every contact filed on a complaint in JetStream", func() []string {
		if err := stream.catchUp(ctx); err != nil {
			return []string{err.Error()}
		}
		var missing []string
		for _, c := range s.Contacts {
			if len(onComplaints(c)) == 0 {
				missing = append(missing, fmt.Sprintf("contact %d (dispute %d, %s) on no complaint", c.Seq, c.Dispute, via(c)))
			}
		}
		return missing
	})
	if !ok {
		return nil
	}
	byDispute := map[int]string{}
	disputeOf := map[string]int{}
	for _, c := range s.Contacts {
		id, err := only(onComplaints(c))
		if err != nil {
			t.Errorf("contact %d (dispute %d, %s) %v", c.Seq, c.Dispute, via(c), err)
			continue
		}
		if prev, ok := byDispute[c.Dispute]; ok && prev != id {
			t.Errorf("dispute %d: contact %d (%s) on %s, an earlier contact on %s", c.Dispute, c.Seq, via(c), id, prev)
			continue
		}
		byDispute[c.Dispute] = id
		if d, ok := disputeOf[id]; ok && d != c.Dispute {
			t.Errorf("complaint %s holds disputes %d and %d", id, d, c.Dispute)
		}
		disputeOf[id] = c.Dispute
		if shop := stream.complaints[id].shop; shop != c.ShopID {
			t.Errorf("dispute %d of %s filed as complaint %s of shop %q", c.Dispute, c.ShopID, id, shop)
		}
	}
	if len(byDispute) != s.Disputes || len(stream.complaints) != s.Disputes {
		t.Errorf("%d disputes played, %d complaint streams in JetStream (%d disputes found on them)", s.Disputes, len(stream.complaints), len(byDispute))
	}
	// What intake answered the gRPC contacts agrees with the stream.
	if len(res.Split) > 0 {
		t.Errorf("disputes %v: gRPC contacts landed on different complaints", res.Split)
	}
	for d, id := range res.Complaints {
		if byDispute[d] != id {
			t.Errorf("dispute %d: FileComplaint answered %s, the stream has it on %s", d, id, byDispute[d])
		}
	}
	return byDispute
}

func via(c season.Contact) string {
	if c.Via == season.ViaInbound {
		return "inbound " + c.Source + ":" + c.ExternalID
	}
	return "gRPC " + c.RequestID
}

// checkAnswersRecorded checks that the answers the customers gave are the
// SatisfactionRecorded events of the stream, one for one, and that followup
// shows each (unless a later follow-up of the complaint superseded it).
func checkAnswersRecorded(ctx context.Context, t *testing.T, stream *streamLog, fc followupv1.FollowUpServiceClient, sup string, answers []casework.Answer) {
	t.Helper()
	given := map[string]casework.Answer{}
	for _, a := range answers {
		given[a.FollowUpID] = a
	}
	pollUntil(ctx, t, time.Minute, "the stream records the answers the customers gave", func() []string {
		if err := stream.catchUp(ctx); err != nil {
			return []string{err.Error()}
		}
		var problems []string
		seen := map[string]bool{}
		for id, c := range stream.complaints {
			for _, sr := range c.satisfaction() {
				a, ok := given[sr.GetFollowUpId()]
				switch {
				case !ok:
					problems = append(problems, fmt.Sprintf("%s: follow-up %s recorded score %d, no customer gave it", id, sr.GetFollowUpId(), sr.GetScore()))
				case a.ComplaintID != id || int(sr.GetScore()) != a.Score || seen[a.FollowUpID]:
					problems = append(problems, fmt.Sprintf("%s: follow-up %s recorded score %d (recorded before: %v); the customer of %s gave %d",
						id, sr.GetFollowUpId(), sr.GetScore(), seen[a.FollowUpID], a.ComplaintID, a.Score))
				}
				seen[sr.GetFollowUpId()] = true
			}
		}
		for _, a := range answers {
			if !seen[a.FollowUpID] {
				problems = append(problems, fmt.Sprintf("%s: the customer gave %d on follow-up %s, not in the stream", a.ComplaintID, a.Score, a.FollowUpID))
			}
		}
		return problems
	})
	superseded := 0
	pollUntil(ctx, t, time.Minute, "followup shows the answers the customers gave", func() []string {
		var problems []string
		superseded = 0
		for _, a := range answers {
			g, err := fc.GetFollowUp(ctx, &followupv1.GetFollowUpRequest{ComplaintId: a.ComplaintID}, grpcBearer(sup))
			if err == nil && g.GetFollowUp().GetFollowUpId() != a.FollowUpID {
				superseded++ // reopened and resolved again since: a new follow-up
				continue
			}
			if err != nil || int(g.GetFollowUp().GetScore()) != a.Score {
				problems = append(problems, fmt.Sprintf("%s: gave %d, followup has %d (%v)", a.ComplaintID, a.Score, g.GetFollowUp().GetScore(), err))
			}
		}
		return problems
	})
	if superseded == len(answers) && len(answers) > 0 {
		t.Errorf("every one of %d answered follow-ups was superseded", len(answers))
	}
}

// seasonReport is the part of the report document the invariants read.
type seasonReport struct {
	Overview struct {
		Total struct {
			Complaints float64 `json:"complaints"`
			Rated      float64 `json:"rated"`
			Satisfied  float64 `json:"satisfied"`
		} `json:"total"`
		ByDay []struct {
			Complaints float64 `json:"complaints"`
		} `json:"by_day"`
	} `json:"overview"`
	Satisfaction struct {
		Rated     float64 `json:"rated"`
		Satisfied float64 `json:"satisfied"`
	} `json:"satisfaction"`
}

// checkReport checks (c) and (d) per shop: the report's season total is the
// number of disputes the season filed for the shop, and its satisfaction
// counts are the customers' answers — a report counts each complaint's
// latest answer (rated: complaints answered; satisfied: those whose latest
// answer is satisfied by the policy's thresholds).
func checkReport(ctx context.Context, t *testing.T, p *policy.Policy, s *season.Season, stream *streamLog,
	rc reportingv1.ReportingServiceClient, byDispute map[int]string, answers []casework.Answer) {
	t.Helper()
	shopOf := map[string]string{} // complaint → shop, from the season
	type want struct{ complaints, rated, satisfied int }
	wants := map[string]*want{}
	for _, c := range s.Contacts {
		if wants[c.ShopID] == nil {
			wants[c.ShopID] = &want{}
		}
		if c.Number == 1 {
			wants[c.ShopID].complaints++
		}
		shopOf[byDispute[c.Dispute]] = c.ShopID
	}
	latest := map[string]casework.Answer{}
	for _, a := range answers {
		if l, ok := latest[a.ComplaintID]; !ok || a.Seq > l.Seq {
			latest[a.ComplaintID] = a
		}
	}
	again := 0
	for _, a := range answers {
		if latest[a.ComplaintID].Seq != a.Seq {
			again++
		}
	}
	t.Logf("%d answers on %d complaints (%d superseded by a later follow-up's answer)", len(answers), len(latest), again)
	for id, a := range latest {
		w := wants[shopOf[id]]
		if w == nil {
			t.Errorf("complaint %s answered, but the season filed no such complaint", id)
			continue
		}
		w.rated++
		if p.FollowUp.Satisfaction.Satisfied(a.Score) {
			w.satisfied++
		}
	}
	sup, err := drive.Token([]byte(hmacKey), supervisorIdentity)
	if err != nil {
		t.Fatal(err)
	}
	for _, shop := range seasonShops(s) {
		w := wants[shop]
		if n := countShop(stream, shop); n != w.complaints {
			t.Errorf("%s: the season filed %d complaints, JetStream has %d", shop, w.complaints, n)
		}
		var rep seasonReport
		pollUntil(ctx, t, 2*time.Minute, shop+": the season report counts what was filed and answered", func() []string {
			res, err := rc.GetSeasonReport(ctx, &reportingv1.GetSeasonReportRequest{Season: int32(s.Year), ShopId: shop}, grpcBearer(sup))
			if err != nil {
				return []string{"GetSeasonReport: " + err.Error()}
			}
			b, err := protojson.Marshal(res.GetReport())
			if err == nil {
				err = json.Unmarshal(b, &rep)
			}
			if err != nil {
				return []string{"report document: " + err.Error()}
			}
			var problems []string
			tot := rep.Overview.Total
			if int(tot.Complaints) != w.complaints {
				problems = append(problems, fmt.Sprintf("total complaints %v, the season filed %d", tot.Complaints, w.complaints))
			}
			if int(rep.Satisfaction.Rated) != w.rated || int(tot.Rated) != w.rated {
				problems = append(problems, fmt.Sprintf("rated %v (overview %v), customers answered on %d complaints", rep.Satisfaction.Rated, tot.Rated, w.rated))
			}
			if int(rep.Satisfaction.Satisfied) != w.satisfied || int(tot.Satisfied) != w.satisfied {
				problems = append(problems, fmt.Sprintf("satisfied %v (overview %v), the latest answer is satisfied on %d complaints", rep.Satisfaction.Satisfied, tot.Satisfied, w.satisfied))
			}
			return problems
		})
		days := 0
		for _, d := range rep.Overview.ByDay {
			days += int(d.Complaints)
		}
		if days != w.complaints {
			t.Errorf("%s: the report's days add up to %d complaints, the season filed %d", shop, days, w.complaints)
		}
		t.Logf("%s: report: %v complaints, %v rated, %v satisfied", shop, rep.Overview.Total.Complaints, rep.Satisfaction.Rated, rep.Satisfaction.Satisfied)
	}
}

func countShop(stream *streamLog, shop string) int {
	n := 0
	for _, c := range stream.complaints {
		if c.shop == shop {
			n++
		}
	}
	return n
}

// checkBreaches checks (b): in the stream at most one DeadlineBreached and
// one PromiseBroken per (deadline id, generation), none before its due
// instant; and every clock escalation shows as breached, or past its due
// instant (by cutoff) while running or stopped / paused only after it, has
// its breach event in the stream once the poller has caught up.
func checkBreaches(ctx context.Context, t *testing.T, stream *streamLog, ec escalationv1.EscalationServiceClient, sup string, cutoff time.Time) {
	t.Helper()
	ids := make([]string, 0, len(stream.complaints))
	for id := range stream.complaints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var clocks, late, breached int
	pollUntil(ctx, t, 2*time.Minute, "every clock past due has its breach event in JetStream", func() []string {
		clocks, late, breached = 0, 0, 0
		var problems []string
		var all []*escalationv1.Clock
		for _, id := range ids {
			res, err := ec.GetClocks(ctx, &escalationv1.GetClocksRequest{ComplaintId: id}, grpcBearer(sup))
			if err != nil {
				problems = append(problems, fmt.Sprintf("GetClocks(%s): %v", id, err))
				continue
			}
			all = append(all, res.GetClocks()...)
		}
		// Read the stream after the clocks: a breach escalation shows
		// was appended before it showed it.
		if err := stream.catchUp(ctx); err != nil {
			return []string{err.Error()}
		}
		for _, c := range all {
			clocks++
			k := breachKey{c.GetDeadlineId(), c.GetGeneration()}
			recorded := stream.breached[k]
			if c.GetClock() == complaintv1.ClockKind_CLOCK_KIND_PROMISE {
				recorded = stream.broken[k]
			}
			due := ts(c.GetDueAt())
			name := fmt.Sprintf("%s %s clock %s gen %d (%v, due %s)", c.GetComplaintId(), c.GetClock(), c.GetDeadlineId(), c.GetGeneration(), c.GetStatus(), fmtTime(due))
			st := c.GetStatus()
			switch {
			case st == escalationv1.ClockStatus_CLOCK_STATUS_UNSCHEDULED:
				problems = append(problems, name+": unscheduled: "+c.GetError())
				continue
			case st == escalationv1.ClockStatus_CLOCK_STATUS_BREACHED:
				breached++
			case due.IsZero() || due.After(cutoff):
				continue
			case st == escalationv1.ClockStatus_CLOCK_STATUS_RUNNING,
				(st == escalationv1.ClockStatus_CLOCK_STATUS_STOPPED || st == escalationv1.ClockStatus_CLOCK_STATUS_PAUSED) && ts(c.GetStoppedAt()).After(due):
				late++
			default:
				if len(recorded) > 0 {
					problems = append(problems, fmt.Sprintf("%s: stopped in time at %s, yet breached in the stream", name, fmtTime(ts(c.GetStoppedAt()))))
				}
				continue
			}
			if len(recorded) == 0 {
				problems = append(problems, name+": no breach event in the stream")
			}
		}
		return problems
	})
	if err := stream.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for kind, m := range map[string]map[breachKey][]*complaintv1.Event{"DeadlineBreached": stream.breached, "PromiseBroken": stream.broken} {
		for k, evs := range m {
			if len(evs) > 1 {
				t.Errorf("%d %s events for deadline %s generation %d (complaint %s)", len(evs), kind, k.deadline, k.generation, evs[0].GetComplaintId())
			}
			for _, ev := range evs {
				due, at := ts(ev.GetPromiseBroken().GetDueAt()), ts(ev.GetOccurredAt())
				if b := ev.GetDeadlineBreached(); b != nil {
					due, at = ts(b.GetDueAt()), ts(b.GetBreachedAt())
				}
				if due.IsZero() || at.Before(due) {
					t.Errorf("%s %s of deadline %s generation %d at %s, due %s: early", ev.GetComplaintId(), kind, k.deadline, k.generation, fmtTime(at), fmtTime(due))
				}
			}
		}
	}
	t.Logf("clocks: %d checked, %d breached and %d late by %s in escalation; the stream has %d DeadlineBreached and %d PromiseBroken",
		clocks, breached, late, cutoff.Format(time.RFC3339), len(stream.breached), len(stream.broken))
}

func ts(x *timestamppb.Timestamp) time.Time {
	if x == nil {
		return time.Time{}
	}
	return x.AsTime()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// checkQueues checks (a): every complaint is open in a queue or with an
// owner, or resolved or closed — as its events in the stream say.
func checkQueues(ctx context.Context, t *testing.T, stream *streamLog, rc routingv1.RoutingServiceClient, sup string, byDispute map[int]string) {
	t.Helper()
	want := map[string]routingv1.WorkStatus{
		"open": routingv1.WorkStatus_WORK_STATUS_OPEN, "resolved": routingv1.WorkStatus_WORK_STATUS_RESOLVED,
		"closed": routingv1.WorkStatus_WORK_STATUS_CLOSED,
	}
	counts := map[routingv1.WorkStatus]int{}
	pollUntil(ctx, t, time.Minute, "every complaint in one queue, with one agent, or resolved or closed as its events say", func() []string {
		var problems []string
		items := map[int]*routingv1.WorkItem{}
		for d, id := range byDispute {
			w, err := rc.GetWork(ctx, &routingv1.GetWorkRequest{ComplaintId: id}, grpcBearer(sup))
			if err != nil {
				problems = append(problems, fmt.Sprintf("dispute %d: GetWork(%s): %v", d, id, err))
				continue
			}
			items[d] = w.GetItem()
		}
		if err := stream.catchUp(ctx); err != nil {
			return []string{err.Error()}
		}
		clear(counts)
		for d, it := range items {
			id := byDispute[d]
			counts[it.GetStatus()]++
			if it.GetStatus() == routingv1.WorkStatus_WORK_STATUS_OPEN && it.GetQueue() == "" && it.GetOwner() == "" {
				problems = append(problems, fmt.Sprintf("dispute %d: open complaint %s in no queue and with no agent", d, id))
			}
			if st := stream.complaints[id].status(); it.GetStatus() != want[st] {
				problems = append(problems, fmt.Sprintf("dispute %d: routing has complaint %s %v, its events say %s", d, id, it.GetStatus(), st))
			}
		}
		return problems
	})
	t.Logf("routing: %v", counts)
}
