package adapters_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/natstest"
)

// waitRecorded polls until the request log (intake.requests, folded by the
// projection) holds at least n request ids.
func waitRecorded(t *testing.T, s *stack, n int) {
	t.Helper()
	pool := openPool(t, s.dbURL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM intake.requests`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("request log holds %d request ids, never %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// forgetRequests empties the request log, as a lagging projection would
// look: retries must still be answered, from the complaint stream.
func forgetRequests(t *testing.T, s *stack) {
	t.Helper()
	if _, err := openPool(t, s.dbURL).Exec(context.Background(), `DELETE FROM intake.requests`); err != nil {
		t.Fatal(err)
	}
}

// On one node the server checks the expected subject sequence before
// Nats-Msg-Id, so every retry here takes the path a retry after the
// duplicate window takes on any server: the expectation fails and the
// request's own events are found on the subject.
func TestRetriesAreAnsweredFromTheStreamWithoutTheRequestLog(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	withOrder := request("req-stream-order")
	alone := request("req-stream-alone")
	alone.OrderId = ""
	first := map[string]*intakev1.FileComplaintResponse{}
	for _, r := range []*intakev1.FileComplaintRequest{withOrder, alone} {
		res, err := s.client.FileComplaint(ctx, r)
		if err != nil || !res.GetCreated() {
			t.Fatalf("file %s: %v %v", r.GetClientRequestId(), res, err)
		}
		first[r.GetClientRequestId()] = res
	}
	waitRecorded(t, s, 2)
	forgetRequests(t, s)
	for _, r := range []*intakev1.FileComplaintRequest{withOrder, alone} {
		again, err := s.client.FileComplaint(ctx, r)
		f := first[r.GetClientRequestId()]
		if err != nil || again.GetCreated() || again.GetComplaintId() != f.GetComplaintId() || again.GetStreamSequence() != f.GetStreamSequence() {
			t.Fatalf("retry of %s answered %v %v, first %v", r.GetClientRequestId(), again, err, f)
		}
	}
	if n := streamMessages(t, s.js); n != 4 {
		t.Fatalf("stream holds %d events, want 4 (two filings of two events)", n)
	}
	// The headers of the filing refuse a reused id without the log too.
	forgetRequests(t, s)
	for _, r := range []*intakev1.FileComplaintRequest{withOrder, alone} {
		other := proto.Clone(r).(*intakev1.FileComplaintRequest)
		other.Description = "另一件事"
		_, err := s.client.FileComplaint(ctx, other)
		assertViolation(t, err, "client_request_id", "already used")
	}
}

// A request id reused for another order lands on another dispute: the
// request log, folded by the projection just behind the first filing,
// refuses it.
func TestReusedRequestIDOnAnotherOrderIsRefused(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	if _, err := s.client.FileComplaint(ctx, request("req-reuse")); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, 1)
	other := request("req-reuse")
	other.OrderId = "TB-2027-9999"
	_, err := s.client.FileComplaint(ctx, other)
	assertViolation(t, err, "client_request_id", "already used")
	if n := streamMessages(t, s.js); n != 2 {
		t.Fatalf("stream holds %d events, want 2", n)
	}
}

// A folded request retried after its dispute moved on to a new complaint
// (the old one closed beyond the window) is answered with the complaint it
// joined, not folded again into the new one.
func TestRetryOfAFoldedRequestAfterTheDisputeMovedOn(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	a, err := s.client.FileComplaint(ctx, request("req-moved-a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.client.FileComplaint(ctx, request("req-moved-b"))
	if err != nil || !b.GetFolded() || b.GetComplaintId() != a.GetComplaintId() || b.GetContactNumber() != 2 {
		t.Fatalf("second contact: %v %v", b, err)
	}
	c := waitFor(t, ctx, s.client, a.GetComplaintId(), func(c *intakev1.Complaint) bool { return c.GetContacts() == 2 })
	appendEventAt(t, s.js, c, time.Now().Add(-8*24*time.Hour), &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	next, err := s.client.FileComplaint(ctx, request("req-moved-c"))
	if err != nil || next.GetFolded() || !next.GetCreated() || next.GetComplaintId() == a.GetComplaintId() {
		t.Fatalf("contact after the window: %v %v", next, err)
	}
	waitRecorded(t, s, 3)
	forgetRequests(t, s)
	for _, tc := range []struct {
		req  string
		want *intakev1.FileComplaintResponse
	}{{"req-moved-a", a}, {"req-moved-b", b}, {"req-moved-c", next}} {
		again, err := s.client.FileComplaint(ctx, request(tc.req))
		if err != nil || again.GetCreated() || again.GetComplaintId() != tc.want.GetComplaintId() ||
			again.GetContactNumber() != tc.want.GetContactNumber() || again.GetFolded() != tc.want.GetFolded() {
			t.Fatalf("retry of %s: %v %v, first %v", tc.req, again, err, tc.want)
		}
	}
	if got := types(history(t, s.js, next.GetComplaintId())); fmt.Sprint(got) != "[ComplaintFiled ComplaintClassified]" {
		t.Fatalf("history of the new complaint: %v", got)
	}
}

// Identical requests at the same moment, with and without an order, and
// folding into an existing complaint: one complaint, one contact, exactly
// one call reports it created.
func TestConcurrentIdenticalRequestsStoreOnce(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	alone := request("req-same-alone")
	alone.OrderId = ""
	if _, err := s.client.FileComplaint(ctx, request("req-same-first")); err != nil {
		t.Fatal(err)
	}
	folding := request("req-same-fold") // same order: joins req-same-first's complaint
	for _, r := range []*intakev1.FileComplaintRequest{alone, folding} {
		const n = 8
		var wg sync.WaitGroup
		res := make([]*intakev1.FileComplaintResponse, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = s.client.FileComplaint(ctx, r)
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("%s call %d: %v", r.GetClientRequestId(), i, errs[i])
			}
			if res[i].GetComplaintId() != res[0].GetComplaintId() || res[i].GetContactNumber() != res[0].GetContactNumber() {
				t.Fatalf("%s: answers differ: %v and %v", r.GetClientRequestId(), res[i], res[0])
			}
			if res[i].GetCreated() {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%s: %d calls report created, want 1", r.GetClientRequestId(), created)
		}
		counts := map[string]int{}
		for _, e := range history(t, s.js, res[0].GetComplaintId()) {
			counts[events.TypeOf(e)]++
		}
		if counts["ComplaintFiled"] != 1 || counts["ContactAdded"] > 1 {
			t.Fatalf("%s: history %v", r.GetClientRequestId(), counts)
		}
	}
}

// On a three-node R3 cluster (production) the store answers conflicts and
// duplicates differently from one node: channels racing for one dispute,
// each retried at once, still make one complaint with one contact each.
func TestOneDisputeAcrossRacingChannelsOnACluster(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	s := startIntakeOn(t, c.URLs, 3)
	s.js = c.JetStream(t)
	ctx := as(t, auth.RoleIntegration, 0)
	const channels, tries = 3, 2
	var wg sync.WaitGroup
	res := make([]*intakev1.FileComplaintResponse, channels*tries)
	errs := make([]error, channels*tries)
	for i := range channels * tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := request(fmt.Sprintf("req-cluster-%d", i%channels))
			r.ExternalRef = &complaintv1.ExternalRef{Source: "src", ExternalId: fmt.Sprintf("ext-%d", i%channels)}
			res[i], errs[i] = s.client.FileComplaint(ctx, r)
		}()
	}
	wg.Wait()
	created := 0
	for i := range res {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if res[i].GetComplaintId() != res[0].GetComplaintId() {
			t.Fatalf("two complaints for one dispute: %v and %v", res[i], res[0])
		}
		if res[i].GetCreated() {
			created++
		}
	}
	if created != channels {
		t.Fatalf("%d calls report created, want %d (one per channel)", created, channels)
	}
	// A replica answering the read may lag the leader by a moment.
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := map[string]int{}
		for _, e := range history(t, s.js, res[0].GetComplaintId()) {
			counts[events.TypeOf(e)]++
		}
		if counts["ComplaintFiled"] == 1 && counts["ContactAdded"] == channels-1 {
			return
		}
		if counts["ComplaintFiled"] > 1 || counts["ContactAdded"] > channels-1 || time.Now().After(deadline) {
			t.Fatalf("history %v", counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
