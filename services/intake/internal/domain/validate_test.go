package domain

import (
	"reflect"
	"strings"
	"testing"
	"time"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

var now = time.Date(2027, 3, 15, 10, 0, 0, 0, time.UTC)

func validCmd() *FileComplaint {
	return &FileComplaint{
		ClientRequestID: "req-1",
		ShopID:          "demo-flagship",
		Channel:         complaintv1.Channel_CHANNEL_ONLINE_CHAT,
		Personal: &complaintv1.PersonalData{
			Name: "张三", Phone: "+86 138 0000 1234", Email: "zhang@example.com",
			Text: "收到的面霜已经过期了，要求退一赔三，不然我就打12315",
		},
		OrderID:          "TB-2027-0001",
		Items:            []*complaintv1.Item{{SkuId: "SKU-1", ProductName: "保湿面霜", Quantity: 1, UnitPriceFen: 19900}},
		OrderAmountFen:   19900,
		ClaimedAmountFen: 59700,
	}
}

func TestValidateAcceptsAGoodComplaint(t *testing.T) {
	if err := validCmd().Validate(now, func(s string) bool { return s == "demo-flagship" }); err != nil {
		t.Fatalf("valid complaint refused: %v", err)
	}
}

func TestValidateNamesEachBadField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *FileComplaint)
		field  string
		reason string
	}{
		{"missing shop", func(c *FileComplaint) { c.ShopID = "" }, "shop_id", "required"},
		{"unknown shop", func(c *FileComplaint) { c.ShopID = "nope" }, "shop_id", "unknown shop"},
		{"shop with dots", func(c *FileComplaint) { c.ShopID = "a.b" }, "shop_id", "letters, digits"},
		{"missing channel", func(c *FileComplaint) { c.Channel = 0 }, "channel", "required"},
		{"unknown channel", func(c *FileComplaint) { c.Channel = 99 }, "channel", "unknown channel"},
		{"missing description", func(c *FileComplaint) { c.Personal.Text = "" }, "description", "required"},
		{"oversize description", func(c *FileComplaint) { c.Personal.Text = strings.Repeat("投", MaxDescriptionRunes+1) }, "description", "too long: 10001 characters, at most 10000"},
		{"invalid UTF-8 description", func(c *FileComplaint) { c.Personal.Text = "坏\xff\xfe" }, "description", "not valid UTF-8"},
		{"NUL in a product name", func(c *FileComplaint) { c.Items[0].ProductName = "面霜\x00" }, "items[0].product_name", "NUL"},
		{"invalid UTF-8 name", func(c *FileComplaint) { c.Personal.Name = "\xc3\x28" }, "customer.name", "not valid UTF-8"},
		{"missing request id", func(c *FileComplaint) { c.ClientRequestID = "" }, "client_request_id", "required"},
		{"no customer at all", func(c *FileComplaint) { c.Personal.Phone = ""; c.CustomerRef = "" }, "customer", "customer_ref or phone is required"},
		{"bad phone", func(c *FileComplaint) { c.Personal.Phone = "call me" }, "customer.phone", "not a phone number"},
		{"bad email", func(c *FileComplaint) { c.Personal.Email = "zhang-at-example" }, "customer.email", "not an e-mail address"},
		{"negative amount", func(c *FileComplaint) { c.ClaimedAmountFen = -1 }, "claimed_amount_fen", "must not be negative"},
		{"negative quantity", func(c *FileComplaint) { c.Items[0].Quantity = -2 }, "items[0].quantity", "must not be negative"},
		{"future occurred_at", func(c *FileComplaint) { c.OccurredAt = now.Add(time.Hour) }, "occurred_at", "is in the future"},
		{"half an external ref", func(c *FileComplaint) { c.ExternalRef = &complaintv1.ExternalRef{Source: "tmall"} }, "external_ref.external_id", "required"},
		{"bad language", func(c *FileComplaint) { c.Language = "fr" }, "language", "use zh-Hans, zh-Hant or en"},
		{"unknown remedy", func(c *FileComplaint) { c.ExpectedRemedies = []complaintv1.RemedyKind{0} }, "expected_remedies[0]", "unknown remedy kind"},
		{"too many items", func(c *FileComplaint) {
			c.Items = make([]*complaintv1.Item, MaxItems+1)
			for i := range c.Items {
				c.Items[i] = &complaintv1.Item{}
			}
		}, "items", "at most 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validCmd()
			tc.mutate(c)
			err := c.Validate(now, func(s string) bool { return s == "demo-flagship" })
			verr, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			for _, v := range verr.Violations {
				if v.Field == tc.field && strings.Contains(v.Reason, tc.reason) {
					return
				}
			}
			t.Fatalf("want violation %s: %q, got %+v", tc.field, tc.reason, verr.Violations)
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := &FileComplaint{}
	err := c.Validate(now, nil).(*ValidationError)
	fields := map[string]bool{}
	for _, v := range err.Violations {
		fields[v.Field] = true
	}
	for _, f := range []string{"client_request_id", "shop_id", "channel", "customer", "description"} {
		if !fields[f] {
			t.Errorf("missing violation for %s in %+v", f, err.Violations)
		}
	}
}

func TestDecideFile(t *testing.T) {
	sealed := &complaintv1.Sealed{KeyId: "k1", Nonce: []byte("n"), Ciphertext: []byte("c")}
	t.Run("given nothing, when filed, then ComplaintFiled without plaintext", func(t *testing.T) {
		cmd := validCmd()
		filed, occurred, err := DecideFile(Complaint{}, cmd, Filing{ComplaintID: "c1", Personal: sealed, CustomerRef: "tel-x"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !occurred.Equal(now) {
			t.Errorf("occurred %v, want now %v", occurred, now)
		}
		if filed.GetCustomerRef() != "tel-x" || filed.GetPersonal() != sealed || filed.GetOrderId() != "TB-2027-0001" {
			t.Errorf("unexpected event %v", filed)
		}
		if filed.GetLanguage() != "zh-Hans" {
			t.Errorf("language %q, want detected zh-Hans", filed.GetLanguage())
		}
		if int(filed.GetDescriptionLength()) != len([]rune(cmd.Personal.Text)) {
			t.Errorf("description length %d", filed.GetDescriptionLength())
		}
	})
	t.Run("given filed, when filed again, then ErrAlreadyFiled", func(t *testing.T) {
		state := Fold([]*complaintv1.Event{{ComplaintId: "c1", Payload: &complaintv1.Event_ComplaintFiled{ComplaintFiled: &complaintv1.ComplaintFiled{}}}})
		if _, _, err := DecideFile(state, validCmd(), Filing{}, now); err != ErrAlreadyFiled {
			t.Fatalf("got %v, want ErrAlreadyFiled", err)
		}
	})
}

func TestEvolveFollowsTheLifeOfAComplaint(t *testing.T) {
	evs := []*complaintv1.Event{
		{ComplaintId: "c1", ShopId: "s", Payload: &complaintv1.Event_ComplaintFiled{ComplaintFiled: &complaintv1.ComplaintFiled{CustomerRef: "r"}}},
		{Payload: &complaintv1.Event_ContactAdded{ContactAdded: &complaintv1.ContactAdded{}}},
		{Payload: &complaintv1.Event_ComplaintResolved{ComplaintResolved: &complaintv1.ComplaintResolved{}}},
		{Payload: &complaintv1.Event_ComplaintReopened{ComplaintReopened: &complaintv1.ComplaintReopened{}}},
		{Payload: &complaintv1.Event_ComplaintClosed{ComplaintClosed: &complaintv1.ComplaintClosed{}}},
		{Payload: &complaintv1.Event_PersonalDataErased{PersonalDataErased: &complaintv1.PersonalDataErased{}}},
	}
	c := Fold(evs)
	want := Complaint{ID: "c1", ShopID: "s", Status: StatusClosed, CustomerRef: "r", Contacts: 2, Erased: true, Events: 6}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestDetectLanguage(t *testing.T) {
	cases := map[string]string{
		"收到的面霜已经过期了，这个质量问题怎么处理":            "zh-Hans",
		"收到的面霜已經過期了，這個質量問題怎麼處理":            "zh-Hant",
		"The cream I received has expired": "en",
		"12315":                            "",
	}
	for text, want := range cases {
		if got := DetectLanguage(text); got != want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestSummarizeEveryEventTypeInBothLanguages(t *testing.T) {
	ev := &complaintv1.Event{}
	fields := ev.ProtoReflect().Descriptor().Oneofs().ByName("payload").Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		e := &complaintv1.Event{}
		e.ProtoReflect().Set(fd, e.ProtoReflect().NewField(fd))
		for _, l := range []Lang{LangZH, LangEN} {
			s := Summarize(e, l)
			if s == "" || strings.Contains(s, "未知事件") || strings.Contains(s, "Unknown event") {
				t.Errorf("%s in %s: no summary (%q)", fd.Message().Name(), l, s)
			}
		}
	}
}
