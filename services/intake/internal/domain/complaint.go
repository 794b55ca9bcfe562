package domain

import (
	"strings"

	"github.com/google/uuid"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Status is where a complaint is in its life.
type Status int

// Statuses of a complaint.
const (
	StatusNone Status = iota // nothing filed yet
	StatusOpen
	StatusResolved
	StatusClosed
)

// Complaint is the state intake decides on, folded from the complaint's events.
type Complaint struct {
	ID          string
	ShopID      string
	Status      Status
	Channel     complaintv1.Channel
	CustomerRef string
	OrderID     string
	Contacts    int
	Erased      bool
	Events      int
	ClosedAt    time.Time
	// Refs are the external refs linked so far, "source\x00id".
	Refs map[string]bool
	// Classification is the latest ComplaintClassified.
	Classification *complaintv1.ComplaintClassified
	Evidence       int
}

func refKey(r *complaintv1.ExternalRef) string { return r.GetSource() + "\x00" + r.GetExternalId() }

// HasRef reports whether the external ref is linked to the complaint.
func (c Complaint) HasRef(r *complaintv1.ExternalRef) bool { return c.Refs[refKey(r)] }

func (c *Complaint) link(r *complaintv1.ExternalRef) {
	if r.GetExternalId() == "" {
		return
	}
	if c.Refs == nil {
		c.Refs = map[string]bool{}
	}
	c.Refs[refKey(r)] = true
}

// Evolve folds one event into the state. Unknown or foreign events only count.
func Evolve(c Complaint, ev *complaintv1.Event) Complaint {
	c.Events++
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		c.ID = ev.GetComplaintId()
		c.ShopID = ev.GetShopId()
		c.Status = StatusOpen
		c.Channel = p.ComplaintFiled.GetChannel()
		c.CustomerRef = p.ComplaintFiled.GetCustomerRef()
		c.OrderID = p.ComplaintFiled.GetOrderId()
		c.Contacts = 1
		c.link(p.ComplaintFiled.GetExternalRef())
	case *complaintv1.Event_ContactAdded:
		c.Contacts++
		c.link(p.ContactAdded.GetExternalRef())
	case *complaintv1.Event_ExternalRefLinked:
		c.link(p.ExternalRefLinked.GetRef())
	case *complaintv1.Event_ComplaintClassified:
		c.Classification = p.ComplaintClassified
	case *complaintv1.Event_EvidenceAttached:
		c.Evidence++
	case *complaintv1.Event_ComplaintResolved:
		c.Status = StatusResolved
	case *complaintv1.Event_ComplaintReopened:
		c.Status = StatusOpen
	case *complaintv1.Event_ComplaintClosed:
		c.Status = StatusClosed
		if ev.GetRecordedAt() != nil {
			c.ClosedAt = ev.GetRecordedAt().AsTime()
		}
	case *complaintv1.Event_PersonalDataErased:
		c.Erased = true
	}
	return c
}

// Fold replays a whole history.
func Fold(history []*complaintv1.Event) Complaint {
	var c Complaint
	for _, ev := range history {
		c = Evolve(c, ev)
	}
	return c
}

// Filing is what DecideFile needs besides the command: the ids chosen for the
// complaint and its first event, and the personal data already sealed.
type Filing struct {
	ComplaintID string
	Personal    *complaintv1.Sealed
	CustomerRef string // resolved: the command's, or derived from the phone
	Actor       *complaintv1.Actor
}

// DecideFile decides what filing the complaint appends: one ComplaintFiled. A
// complaint is filed once; filing it again is ErrAlreadyFiled.
func DecideFile(state Complaint, cmd *FileComplaint, f Filing, now time.Time) (*complaintv1.ComplaintFiled, time.Time, error) {
	if state.Status != StatusNone {
		return nil, time.Time{}, ErrAlreadyFiled
	}
	occurred := cmd.OccurredAt
	if occurred.IsZero() {
		occurred = now
	}
	lang := cmd.Language
	if lang == "" {
		lang = DetectLanguage(cmd.Personal.GetText())
	}
	filed := &complaintv1.ComplaintFiled{
		Channel:           cmd.Channel,
		CustomerRef:       f.CustomerRef,
		OrderId:           cmd.OrderID,
		Items:             cloneItems(cmd.Items),
		OrderAmountFen:    cmd.OrderAmountFen,
		ClaimedAmountFen:  cmd.ClaimedAmountFen,
		Personal:          f.Personal,
		ExternalRef:       cloneRef(cmd.ExternalRef),
		ChannelDetails:    proto.CloneOf(cmd.ChannelDetails),
		Complainant:       proto.CloneOf(cmd.Complainant),
		CustomerType:      cmd.CustomerType,
		ExpectedRemedies:  append([]complaintv1.RemedyKind(nil), cmd.ExpectedRemedies...),
		Language:          lang,
		ClientRequestId:   cmd.ClientRequestID,
		DescriptionLength: int32(utf8.RuneCountInString(cmd.Personal.GetText())),
	}
	return filed, occurred, nil
}

func cloneItems(items []*complaintv1.Item) []*complaintv1.Item {
	out := make([]*complaintv1.Item, 0, len(items))
	for _, it := range items {
		out = append(out, proto.CloneOf(it))
	}
	return out
}

func cloneRef(r *complaintv1.ExternalRef) *complaintv1.ExternalRef {
	if r == nil || (r.GetSource() == "" && r.GetExternalId() == "") {
		return nil
	}
	return proto.CloneOf(r)
}

// Timestamp converts for payload fields, keeping zero times unset.
func Timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Characters that exist in only one script, common in complaint texts. The
// detector counts them; it needs no dictionary and is right on anything longer
// than a phrase, which is all it is used for (the language tag of a complaint).
var traditionalOnly, simplifiedOnly = scriptSets(
	"們這個來說對會時實發過還麼點問題買賣貨訂單費處給應讓質價錢寶貝壞換務態與將後沒開關經聯絡請該區雙為",
	"们这个来说对会时实发过还么点问题买卖货订单费处给应让质价钱宝贝坏换务态与将后没开关经联络请该区双为",
)

// scriptSets returns the two character sets without the characters they share,
// which must count for neither script.
func scriptSets(trad, simp string) (map[rune]bool, map[rune]bool) {
	t, s := map[rune]bool{}, map[rune]bool{}
	for _, r := range trad {
		t[r] = true
	}
	for _, r := range simp {
		s[r] = true
	}
	for r := range t {
		if s[r] {
			delete(t, r)
			delete(s, r)
		}
	}
	return t, s
}

// DetectLanguage tags a text zh-Hant, zh-Hans or en; "" when it cannot tell.
func DetectLanguage(text string) string {
	var han, trad, simp, latin int
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			if traditionalOnly[r] {
				trad++
			}
			if simplifiedOnly[r] {
				simp++
			}
		case r < unicode.MaxASCII && unicode.IsLetter(r):
			latin++
		}
	}
	switch {
	case han == 0 && latin > 0:
		return "en"
	case han == 0:
		return ""
	case trad > simp:
		return "zh-Hant"
	default:
		return "zh-Hans"
	}
}

// ValidComplaintID reports whether id is a UUID in its canonical text form.
func ValidComplaintID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == strings.ToLower(id)
}
