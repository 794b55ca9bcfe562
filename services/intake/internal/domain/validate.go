package domain

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Limits bound what one complaint may carry. Every string is also checked for
// valid UTF-8: a complaint is read by people, reports and BI tools for years.
const (
	MaxRequestIDLen     = 128
	MaxIDLen            = 64 // shop, order, sku, product, customer ref
	MaxDescriptionRunes = 10000
	MaxNameRunes        = 100
	MaxPhoneLen         = 32
	MaxEmailLen         = 254
	MaxAddressRunes     = 500
	MaxProductNameRunes = 200
	MaxItems            = 100
	MaxExternalLen      = 256
	MaxURLLen           = 2048
	// MaxAmountFen bounds money fields: ten million yuan is beyond any consumer complaint.
	MaxAmountFen = 1_000_000_000
	// ClockSkew is how far in the future occurred_at may be before it is refused.
	ClockSkew = 5 * time.Minute
)

var (
	idRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
	shopRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	phoneRe = regexp.MustCompile(`^\+?[0-9][0-9 -]{4,}$`)
)

// FileComplaint is the command to open a complaint. Personal holds the personal
// data in the clear; the app layer seals it before anything is stored.
type FileComplaint struct {
	ClientRequestID  string
	ShopID           string
	Channel          complaintv1.Channel
	CustomerRef      string
	Personal         *complaintv1.PersonalData // name, phone, email, address; Text = description
	OrderID          string
	Items            []*complaintv1.Item
	OrderAmountFen   int64
	ClaimedAmountFen int64
	OccurredAt       time.Time // zero: now
	ExternalRef      *complaintv1.ExternalRef
	ChannelDetails   *complaintv1.ChannelDetails
	Complainant      *complaintv1.Complainant
	CustomerType     complaintv1.CustomerType
	ExpectedRemedies []complaintv1.RemedyKind
	Language         string
}

// ShopKnown reports whether a shop id is configured in the policy.
type ShopKnown func(shopID string) bool

// Validate checks the command and reports every bad field at once. Field paths
// are those of kesu.intake.v1.FileComplaintRequest.
func (c *FileComplaint) Validate(now time.Time, shopKnown ShopKnown) error {
	var vs violations
	requiredText(&vs, "client_request_id", c.ClientRequestID, MaxRequestIDLen)
	if requiredText(&vs, "shop_id", c.ShopID, MaxIDLen) {
		switch {
		case !shopRe.MatchString(c.ShopID):
			vs.add("shop_id", "%q: use letters, digits, '-' and '_' only", c.ShopID)
		case shopKnown != nil && !shopKnown(c.ShopID):
			vs.add("shop_id", "%q: unknown shop (not in the policy's shops)", c.ShopID)
		}
	}
	channel(&vs, c.Channel)

	pd := c.Personal
	if pd == nil {
		pd = &complaintv1.PersonalData{}
	}
	optionalID(&vs, "customer.customer_ref", c.CustomerRef)
	if c.CustomerRef == "" && pd.GetPhone() == "" {
		vs.add("customer", "customer_ref or phone is required to identify the customer")
	}
	optionalRunes(&vs, "customer.name", pd.GetName(), MaxNameRunes)
	if optionalRunes(&vs, "customer.phone", pd.GetPhone(), MaxPhoneLen) && pd.GetPhone() != "" && !phoneRe.MatchString(pd.GetPhone()) {
		vs.add("customer.phone", "%q: not a phone number (digits, optional leading +, spaces and dashes)", pd.GetPhone())
	}
	if optionalRunes(&vs, "customer.email", pd.GetEmail(), MaxEmailLen) && pd.GetEmail() != "" {
		if _, err := mail.ParseAddress(pd.GetEmail()); err != nil {
			vs.add("customer.email", "not an e-mail address")
		}
	}
	optionalRunes(&vs, "customer.address", pd.GetAddress(), MaxAddressRunes)
	requiredRunes(&vs, "description", pd.GetText(), MaxDescriptionRunes)

	optionalID(&vs, "order_id", c.OrderID)
	if len(c.Items) > MaxItems {
		vs.add("items", "%d items: at most %d", len(c.Items), MaxItems)
	}
	for i, it := range c.Items {
		p := fmt.Sprintf("items[%d]", i)
		if it == nil {
			vs.add(p, "empty item")
			continue
		}
		optionalID(&vs, p+".sku_id", it.GetSkuId())
		optionalID(&vs, p+".product_id", it.GetProductId())
		optionalRunes(&vs, p+".product_name", it.GetProductName(), MaxProductNameRunes)
		if it.GetQuantity() < 0 {
			vs.add(p+".quantity", "%d: must not be negative", it.GetQuantity())
		}
		amount(&vs, p+".unit_price_fen", it.GetUnitPriceFen())
	}
	amount(&vs, "order_amount_fen", c.OrderAmountFen)
	amount(&vs, "claimed_amount_fen", c.ClaimedAmountFen)
	if !c.OccurredAt.IsZero() && c.OccurredAt.After(now.Add(ClockSkew)) {
		vs.add("occurred_at", "%s is in the future (now %s)", c.OccurredAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	externalRef(&vs, c.ExternalRef)
	if cp := c.Complainant; cp != nil {
		optionalRunes(&vs, "complainant.level", cp.GetLevel(), MaxIDLen)
	}
	if complaintv1.CustomerType_name[int32(c.CustomerType)] == "" {
		vs.add("customer_type", "%d: unknown customer type", int32(c.CustomerType))
	}
	for i, k := range c.ExpectedRemedies {
		if k == complaintv1.RemedyKind_REMEDY_KIND_UNSPECIFIED || complaintv1.RemedyKind_name[int32(k)] == "" {
			vs.add(fmt.Sprintf("expected_remedies[%d]", i), "%d: unknown remedy kind", int32(k))
		}
	}
	switch c.Language {
	case "", "zh-Hans", "zh-Hant", "en":
	default:
		vs.add("language", "%q: use zh-Hans, zh-Hant or en", c.Language)
	}
	validateChannelDetails(&vs, c.ChannelDetails)
	return vs.err()
}

func validateChannelDetails(vs *violations, d *complaintv1.ChannelDetails) {
	if d == nil {
		return
	}
	const p = "channel_details"
	switch x := d.GetDetails().(type) {
	case *complaintv1.ChannelDetails_Chat:
		optionalRunes(vs, p+".chat.platform", x.Chat.GetPlatform(), MaxIDLen)
		optionalRunes(vs, p+".chat.session_id", x.Chat.GetSessionId(), MaxExternalLen)
	case *complaintv1.ChannelDetails_Hotline:
		optionalRunes(vs, p+".hotline.call_id", x.Hotline.GetCallId(), MaxExternalLen)
		optionalRunes(vs, p+".hotline.line", x.Hotline.GetLine(), MaxIDLen)
		if x.Hotline.GetCallDuration().AsDuration() < 0 {
			vs.add(p+".hotline.call_duration", "must not be negative")
		}
	case *complaintv1.ChannelDetails_Email:
		optionalRunes(vs, p+".email.message_id", x.Email.GetMessageId(), MaxExternalLen)
	case *complaintv1.ChannelDetails_PlatformDispute:
		optionalRunes(vs, p+".platform_dispute.platform", x.PlatformDispute.GetPlatform(), MaxIDLen)
		optionalRunes(vs, p+".platform_dispute.dispute_id", x.PlatformDispute.GetDisputeId(), MaxExternalLen)
	case *complaintv1.ChannelDetails_Odr:
		optionalRunes(vs, p+".odr.case_number", x.Odr.GetCaseNumber(), MaxExternalLen)
	case *complaintv1.ChannelDetails_ConsumerAssociation:
		optionalRunes(vs, p+".consumer_association.organisation", x.ConsumerAssociation.GetOrganisation(), MaxNameRunes)
		optionalRunes(vs, p+".consumer_association.case_number", x.ConsumerAssociation.GetCaseNumber(), MaxExternalLen)
	case *complaintv1.ChannelDetails_SocialPost:
		optionalRunes(vs, p+".social_post.platform", x.SocialPost.GetPlatform(), MaxIDLen)
		optionalRunes(vs, p+".social_post.post_url", x.SocialPost.GetPostUrl(), MaxURLLen)
		optionalRunes(vs, p+".social_post.complaint_number", x.SocialPost.GetComplaintNumber(), MaxExternalLen)
		if x.SocialPost.GetFollowers() < 0 {
			vs.add(p+".social_post.followers", "must not be negative")
		}
	case *complaintv1.ChannelDetails_InStore:
		optionalRunes(vs, p+".in_store.store_id", x.InStore.GetStoreId(), MaxIDLen)
	}
}

// requiredText checks a required string; it reports whether the value is usable.
func requiredText(vs *violations, field, s string, maxLen int) bool {
	if s == "" {
		vs.add(field, "required")
		return false
	}
	return optionalRunes(vs, field, s, maxLen)
}

func requiredRunes(vs *violations, field, s string, maxRunes int) bool {
	return requiredText(vs, field, s, maxRunes)
}

// optionalRunes checks UTF-8 validity and length in characters (not bytes: one
// Chinese character is three bytes and counts as one).
func optionalRunes(vs *violations, field, s string, maxRunes int) bool {
	if !utf8.ValidString(s) {
		vs.add(field, "not valid UTF-8")
		return false
	}
	// PostgreSQL text cannot hold NUL: accepted, it would stop the projection.
	if strings.IndexByte(s, 0) >= 0 {
		vs.add(field, "contains a NUL character")
		return false
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		vs.add(field, "too long: %d characters, at most %d", n, maxRunes)
		return false
	}
	return true
}

func optionalID(vs *violations, field, s string) {
	if s == "" {
		return
	}
	if optionalRunes(vs, field, s, MaxIDLen) && !idRe.MatchString(s) {
		vs.add(field, "%q: use letters, digits and - _ . : only", s)
	}
}

func amount(vs *violations, field string, fen int64) {
	switch {
	case fen < 0:
		vs.add(field, "%d: must not be negative", fen)
	case fen > MaxAmountFen:
		vs.add(field, "%d: more than %d fen", fen, MaxAmountFen)
	}
}
