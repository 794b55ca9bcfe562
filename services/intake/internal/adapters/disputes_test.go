package adapters_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

func history(t *testing.T, js jetstream.JetStream, complaintID string) []*complaintv1.Event {
	t.Helper()
	store, err := eventstore.New(nil, js, eventstore.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.Load(t.Context(), complaintID)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := events.DecodeAll(recs)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func types(evs []*complaintv1.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = events.TypeOf(e)
	}
	return out
}

func TestEveryChannelKeepsItsDetails(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	at := timestamppb.New(time.Date(2027, 3, 20, 9, 0, 0, 0, time.UTC))
	cases := []struct {
		channel complaintv1.Channel
		details *complaintv1.ChannelDetails
	}{
		{complaintv1.Channel_CHANNEL_ONLINE_CHAT, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Chat{Chat: &complaintv1.ChatDetails{Platform: "wangwang", SessionId: "ww-1"}}}},
		{complaintv1.Channel_CHANNEL_HOTLINE_400, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Hotline{Hotline: &complaintv1.HotlineDetails{CallId: "call-9", CallDuration: durationpb.New(4 * time.Minute), Line: "after-sales"}}}},
		{complaintv1.Channel_CHANNEL_EMAIL, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Email{Email: &complaintv1.EmailDetails{MessageId: "<m1@example.com>"}}}},
		{complaintv1.Channel_CHANNEL_MARKETPLACE_ARBITRATION, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_PlatformDispute{PlatformDispute: &complaintv1.PlatformDisputeDetails{Platform: "tmall", DisputeId: "D-77", RespondBy: at}}}},
		{complaintv1.Channel_CHANNEL_ODR_12315, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_Odr{Odr: &complaintv1.OdrDetails{CaseNumber: "12315-2027-001", RegisteredAt: at, Deadline: at, OdrEnterprise: true}}}},
		{complaintv1.Channel_CHANNEL_CONSUMER_ASSOCIATION, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_ConsumerAssociation{ConsumerAssociation: &complaintv1.ConsumerAssociationDetails{Organisation: "上海市消保委", CaseNumber: "CA-3"}}}},
		{complaintv1.Channel_CHANNEL_WEIBO, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_SocialPost{SocialPost: &complaintv1.SocialPostDetails{Platform: "weibo", PostUrl: "https://weibo.com/1/abc", Followers: 120000}}}},
		{complaintv1.Channel_CHANNEL_HEIMAO, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_SocialPost{SocialPost: &complaintv1.SocialPostDetails{Platform: "heimao", ComplaintNumber: "17390000001"}}}},
		{complaintv1.Channel_CHANNEL_IN_STORE, &complaintv1.ChannelDetails{Details: &complaintv1.ChannelDetails_InStore{InStore: &complaintv1.InStoreDetails{StoreId: "SH-001"}}}},
		{complaintv1.Channel_CHANNEL_OTHER, nil},
	}
	for i, tc := range cases {
		t.Run(tc.channel.String(), func(t *testing.T) {
			r := request(fmt.Sprintf("req-channel-%d", i))
			r.OrderId = fmt.Sprintf("ORDER-CH-%d", i)
			r.Channel, r.ChannelDetails = tc.channel, tc.details
			res, err := s.client.FileComplaint(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			filed := history(t, s.js, res.GetComplaintId())[0].GetComplaintFiled()
			if filed.GetChannel() != tc.channel || !proto.Equal(filed.GetChannelDetails(), tc.details) {
				t.Fatalf("stored %v %v, sent %v %v", filed.GetChannel(), filed.GetChannelDetails(), tc.channel, tc.details)
			}
			if res.GetClassification().GetCategory() == "" {
				t.Fatalf("no classification on arrival: %v", res)
			}
		})
	}
}

func TestTwoChannelsReportingOneDisputeAtOnceMakeOneComplaint(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	channels := []complaintv1.Channel{
		complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_HOTLINE_400,
		complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_ODR_12315,
	}
	var wg sync.WaitGroup
	res := make([]*intakev1.FileComplaintResponse, len(channels))
	errs := make([]error, len(channels))
	for i, ch := range channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := request(fmt.Sprintf("req-dispute-%d", i))
			r.Customer = &intakev1.Customer{CustomerRef: "buyer-315", Phone: "13900000000"}
			r.Channel, r.ChannelDetails = ch, nil
			r.ExternalRef = &complaintv1.ExternalRef{Source: "src-" + ch.String(), ExternalId: fmt.Sprintf("ext-%d", i)}
			res[i], errs[i] = s.client.FileComplaint(ctx, r)
		}()
	}
	wg.Wait()
	folded := 0
	for i := range channels {
		if errs[i] != nil {
			t.Fatalf("channel %d: %v", i, errs[i])
		}
		if res[i].GetComplaintId() != res[0].GetComplaintId() {
			t.Fatalf("two complaints for one dispute: %s and %s", res[i].GetComplaintId(), res[0].GetComplaintId())
		}
		if res[i].GetFolded() {
			folded++
		}
	}
	if folded != len(channels)-1 {
		t.Fatalf("%d folded, want %d", folded, len(channels)-1)
	}
	evs := history(t, s.js, res[0].GetComplaintId())
	counts := map[string]int{}
	numbers := []int{}
	for _, e := range evs {
		counts[events.TypeOf(e)]++
		if c := e.GetContactAdded(); c != nil {
			numbers = append(numbers, int(c.GetContactNumber()))
			if !c.GetFolded() {
				t.Fatalf("folded contact not marked: %v", c)
			}
		}
	}
	sort.Ints(numbers)
	if counts["ComplaintFiled"] != 1 || counts["ContactAdded"] != 3 || fmt.Sprint(numbers) != "[2 3 4]" {
		t.Fatalf("history %v, contact numbers %v", types(evs), numbers)
	}
	c := waitFor(t, ctx, s.client, res[0].GetComplaintId(), func(c *intakev1.Complaint) bool { return c.GetContacts() == 4 })
	if len(c.GetExternalRefs()) != 4 {
		t.Fatalf("external refs %v, want all 4 channels' refs", c.GetExternalRefs())
	}
	// Every channel's ref finds the one complaint.
	for i, ch := range channels {
		page, err := s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship",
			ExternalRef: &complaintv1.ExternalRef{Source: "src-" + ch.String(), ExternalId: fmt.Sprintf("ext-%d", i)}})
		if err != nil || len(page.GetComplaints()) != 1 || page.GetComplaints()[0].GetComplaintId() != res[0].GetComplaintId() {
			t.Fatalf("find by ref %d: %v %v", i, page, err)
		}
	}
}

// waitFor polls GetComplaint until cond holds.
func waitFor(t *testing.T, ctx context.Context, c intakev1.IntakeServiceClient, id string, cond func(*intakev1.Complaint) bool) *intakev1.Complaint {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.GetComplaint(ctx, &intakev1.GetComplaintRequest{ComplaintId: id})
		if err == nil && cond(res.GetComplaint()) {
			return res.GetComplaint()
		}
		if err != nil && status.Code(err) != codes.NotFound {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("complaint %s never reached the expected state (last %v, %v)", id, res.GetComplaint(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestContactAfterCloseFoldsOnlyWithinTheWindow(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleIntegration, 0)
	first, err := s.client.FileComplaint(ctx, request("req-close-1"))
	if err != nil {
		t.Fatal(err)
	}
	c := waitComplaint(t, ctx, s.client, first.GetComplaintId())
	// Closed an hour ago: a new contact about the order is the same dispute.
	appendEventAt(t, s.js, c, time.Now().Add(-time.Hour), &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	again, err := s.client.FileComplaint(ctx, request("req-close-2"))
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetFolded() || again.GetComplaintId() != first.GetComplaintId() {
		t.Fatalf("contact within the window: %v", again)
	}
	// Closed eight days ago (window 7d): the next contact opens a new complaint.
	appendEventAt(t, s.js, c, time.Now().Add(-8*24*time.Hour), &complaintv1.ComplaintClosed{Reason: complaintv1.CloseReason_CLOSE_REASON_SATISFIED})
	third, err := s.client.FileComplaint(ctx, request("req-close-3"))
	if err != nil {
		t.Fatal(err)
	}
	if third.GetFolded() || third.GetComplaintId() == first.GetComplaintId() || !third.GetCreated() {
		t.Fatalf("contact after the window should open a new complaint: %v", third)
	}
	// And the dispute now belongs to the new complaint.
	fourth, err := s.client.FileComplaint(ctx, request("req-close-4"))
	if err != nil {
		t.Fatal(err)
	}
	if !fourth.GetFolded() || fourth.GetComplaintId() != third.GetComplaintId() {
		t.Fatalf("next contact should join the new complaint: %v", fourth)
	}
	// A retry of a folded request answers the same.
	retry, err := s.client.FileComplaint(ctx, request("req-close-4"))
	if err != nil || retry.GetComplaintId() != third.GetComplaintId() || retry.GetContactNumber() != fourth.GetContactNumber() {
		t.Fatalf("retry of a folded request: %v %v (first %v)", retry, err, fourth)
	}
	if got := types(history(t, s.js, third.GetComplaintId())); fmt.Sprint(got) != "[ComplaintFiled ComplaintClassified ContactAdded]" &&
		fmt.Sprint(got) != "[ComplaintFiled ComplaintClassified ContactAdded ComplaintClassified]" {
		t.Fatalf("history of the new complaint: %v", got)
	}
}

func TestAddContactAndAttachEvidenceAreIdempotent(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleAgent, 1)
	filed, err := s.client.FileComplaint(ctx, request("req-ce"))
	if err != nil {
		t.Fatal(err)
	}
	id := filed.GetComplaintId()
	contact := &intakev1.AddContactRequest{ClientRequestId: "c-1", ComplaintId: id, Channel: complaintv1.Channel_CHANNEL_ONLINE_CHAT,
		Message: "已經第二次聯繫了，還是沒人處理，我要找記者曝光", ExternalRef: &complaintv1.ExternalRef{Source: "wangwang", ExternalId: "s-2"}}
	a, err := s.client.AddContact(ctx, contact)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.client.AddContact(ctx, contact)
	if err != nil {
		t.Fatal(err)
	}
	if !a.GetCreated() || b.GetCreated() || a.GetContactNumber() != 2 || b.GetStreamSequence() != a.GetStreamSequence() {
		t.Fatalf("first %v, retry %v", a, b)
	}
	other := proto.CloneOf(contact)
	other.Message = "另一句话"
	if _, err := s.client.AddContact(ctx, other); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("reused request id: %v", err)
	}

	ev := &intakev1.AttachEvidenceRequest{ClientRequestId: "e-1", ComplaintId: id, Kind: complaintv1.EvidenceKind_EVIDENCE_KIND_PHOTO,
		MediaType: "image/jpeg", SizeBytes: 204800, Sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		StorageUri: "oss://kesu-evidence/2027/03/cream.jpg", FileName: "过期日期.jpg", Caption: "生产日期2025年"}
	e1, err := s.client.AttachEvidence(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := s.client.AttachEvidence(ctx, ev)
	if err != nil || !e1.GetCreated() || e2.GetCreated() || e2.GetEvidenceId() != e1.GetEvidenceId() {
		t.Fatalf("evidence first %v, retry %v %v", e1, e2, err)
	}
	bad := proto.CloneOf(ev)
	bad.ClientRequestId, bad.Sha256, bad.StorageUri, bad.SizeBytes = "e-2", "xyz", "ftp://x/y", 0
	_, err = s.client.AttachEvidence(ctx, bad)
	assertViolation(t, err, "sha256", "64 lower-case hex")
	assertViolation(t, err, "storage_uri", "scheme")
	assertViolation(t, err, "size_bytes", "positive")

	counts := map[string]int{}
	for _, e := range history(t, s.js, id) {
		counts[events.TypeOf(e)]++
		if f := e.GetEvidenceAttached(); f != nil && (f.GetPersonal() == nil || proto.Size(f.GetPersonal()) == 0) {
			t.Fatal("evidence file name and caption must be sealed")
		}
	}
	if counts["ContactAdded"] != 1 || counts["EvidenceAttached"] != 1 || counts["ExternalRefLinked"] != 1 {
		t.Fatalf("history counts %v", counts)
	}
	c := waitFor(t, ctx, s.client, id, func(c *intakev1.Complaint) bool { return c.GetEvidenceCount() == 1 && c.GetContacts() == 2 })
	if len(c.GetExternalRefs()) != 1 || c.GetExternalRefs()[0].GetExternalId() != "s-2" {
		t.Fatalf("refs %v", c.GetExternalRefs())
	}
	if _, err := s.client.AddContact(ctx, &intakev1.AddContactRequest{ClientRequestId: "c-9", ComplaintId: "0195f3c2-0000-7000-8000-000000000000",
		Channel: complaintv1.Channel_CHANNEL_EMAIL, Message: "hi"}); status.Code(err) != codes.NotFound {
		t.Fatalf("contact on unknown complaint: %v", err)
	}
}

func TestFindComplaintsFiltersAndPages(t *testing.T) {
	s := startIntake(t)
	ctx := as(t, auth.RoleSupervisor, 0)
	var ids []string
	for i := range 5 {
		r := request(fmt.Sprintf("req-find-%d", i))
		r.OrderId = fmt.Sprintf("ORDER-F-%d", i)
		if i%2 == 1 {
			r.Customer = &intakev1.Customer{Phone: "+86 139 1111 2222"}
		}
		res, err := s.client.FileComplaint(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.GetComplaintId())
	}
	for _, id := range ids {
		waitComplaint(t, ctx, s.client, id)
	}
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		page, err := s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship", PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range page.GetComplaints() {
			if seen[c.GetComplaintId()] {
				t.Fatalf("%s on two pages", c.GetComplaintId())
			}
			seen[c.GetComplaintId()] = true
			if c.GetPersonal() != nil {
				t.Fatal("search results must not carry personal data")
			}
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("%d complaints over %d pages, want 5 over 3", len(seen), pages)
	}
	byPhone, err := s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship", Phone: "13911112222"})
	if err != nil || len(byPhone.GetComplaints()) != 2 {
		t.Fatalf("by phone: %v %v", byPhone, err)
	}
	byOrder, err := s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship", OrderId: "ORDER-F-3"})
	if err != nil || len(byOrder.GetComplaints()) != 1 || byOrder.GetComplaints()[0].GetComplaintId() != ids[3] {
		t.Fatalf("by order: %v %v", byOrder, err)
	}
	open, err := s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship", Status: intakev1.ComplaintStatus_COMPLAINT_STATUS_CLOSED})
	if err != nil || len(open.GetComplaints()) != 0 {
		t.Fatalf("closed: %v %v", open, err)
	}
	_, err = s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{ShopId: "demo-flagship", PageToken: "garbage!"})
	assertViolation(t, err, "page_token", "previous page")
	_, err = s.client.FindComplaints(ctx, &intakev1.FindComplaintsRequest{PageSize: 500})
	assertViolation(t, err, "shop_id", "required")
	assertViolation(t, err, "page_size", "1 to 200")
}

func TestEraseCustomer(t *testing.T) {
	s := startIntake(t)
	admin := as(t, auth.RoleAdmin, 0)
	var ids []string
	for i := range 2 {
		r := request(fmt.Sprintf("req-erase-%d", i))
		r.OrderId = fmt.Sprintf("ORDER-E-%d", i)
		res, err := s.client.FileComplaint(admin, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.GetComplaintId())
		waitComplaint(t, admin, s.client, res.GetComplaintId())
	}
	erase := &intakev1.EraseCustomerRequest{ShopId: "demo-flagship", Phone: "13800001234", Reason: "客户依《个人信息保护法》申请删除"}
	if _, err := s.client.EraseCustomer(as(t, auth.RoleAgent, 3), erase); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("agent erases: %v", err)
	}
	res, err := s.client.EraseCustomer(admin, erase)
	if err != nil || res.GetComplaintsUpdated() != 2 {
		t.Fatalf("erase: %v %v", res, err)
	}
	for _, id := range ids {
		c := waitFor(t, admin, s.client, id, func(c *intakev1.Complaint) bool { return c.GetPersonalDataErased() })
		if c.GetPersonal() != nil {
			t.Fatalf("erased complaint shows %v", c.GetPersonal())
		}
		tl, err := s.client.Timeline(admin, &intakev1.TimelineRequest{ComplaintId: id})
		if err != nil {
			t.Fatal(err)
		}
		if e := tl.GetEntries()[0]; !e.GetPersonalDataErased() || e.GetPersonal() != nil {
			t.Fatalf("timeline of erased customer: %v", e)
		}
	}
	again, err := s.client.EraseCustomer(admin, erase)
	if err != nil || again.GetComplaintsUpdated() != 0 {
		t.Fatalf("second erase: %v %v", again, err)
	}
	if _, err := s.client.FileComplaint(admin, request("req-erase-new")); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("filing for an erased customer: %v, want FailedPrecondition", err)
	}
	_, err = s.client.EraseCustomer(admin, &intakev1.EraseCustomerRequest{ShopId: "demo-flagship"})
	assertViolation(t, err, "customer_ref", "required")
	assertViolation(t, err, "reason", "required")
}
