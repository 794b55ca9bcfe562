package domain

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// ErrClosed: the complaint was closed longer ago than the dispute window; a new
// contact must open a new complaint.
var ErrClosed = errors.New("complaint closed")

// AddContact is the command to record another contact on a complaint. Personal
// holds the contact's message (Text) in the clear until the app seals it.
type AddContact struct {
	ClientRequestID string
	ComplaintID     string
	Channel         complaintv1.Channel
	Personal        *complaintv1.PersonalData
	ExternalRef     *complaintv1.ExternalRef
	ChannelDetails  *complaintv1.ChannelDetails
	OccurredAt      time.Time
}

// Validate checks the command; field paths are those of AddContactRequest.
func (c *AddContact) Validate(now time.Time) error {
	var vs violations
	requiredText(&vs, "client_request_id", c.ClientRequestID, MaxRequestIDLen)
	if c.ComplaintID == "" {
		vs.add("complaint_id", "required")
	} else if !ValidComplaintID(c.ComplaintID) {
		vs.add("complaint_id", "not a UUID")
	}
	channel(&vs, c.Channel)
	requiredRunes(&vs, "message", c.Personal.GetText(), MaxDescriptionRunes)
	externalRef(&vs, c.ExternalRef)
	validateChannelDetails(&vs, c.ChannelDetails)
	if !c.OccurredAt.IsZero() && c.OccurredAt.After(now.Add(ClockSkew)) {
		vs.add("occurred_at", "%s is in the future (now %s)", c.OccurredAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return vs.err()
}

func channel(vs *violations, c complaintv1.Channel) {
	switch {
	case c == complaintv1.Channel_CHANNEL_UNSPECIFIED:
		vs.add("channel", "required")
	case complaintv1.Channel_name[int32(c)] == "":
		vs.add("channel", "%d: unknown channel", int32(c))
	}
}

func externalRef(vs *violations, r *complaintv1.ExternalRef) {
	if r == nil || (r.GetSource() == "" && r.GetExternalId() == "" && r.GetUrl() == "") {
		return
	}
	requiredText(vs, "external_ref.source", r.GetSource(), MaxIDLen)
	requiredText(vs, "external_ref.external_id", r.GetExternalId(), MaxExternalLen)
	optionalRunes(vs, "external_ref.url", r.GetUrl(), MaxURLLen)
}

// Contact is what a contact appends, decided by DecideContact.
type Contact struct {
	Added  *complaintv1.ContactAdded
	Linked *complaintv1.ExternalRefLinked // nil when the ref is absent or linked already
}

// DecideContact decides the events of a contact on a complaint: ContactAdded,
// and ExternalRefLinked for a ref the complaint does not have yet. A closed
// complaint takes contacts for foldWindow after closing (follow-up reopens it);
// after that the customer's new contact is a new complaint.
func DecideContact(state Complaint, channel complaintv1.Channel, ref *complaintv1.ExternalRef, details *complaintv1.ChannelDetails,
	sealed *complaintv1.Sealed, requestID string, folded bool, now time.Time, foldWindow time.Duration) (Contact, error) {
	switch {
	case state.Status == StatusNone:
		return Contact{}, ErrNotFound
	case state.Status == StatusClosed && now.Sub(state.ClosedAt) > foldWindow:
		return Contact{}, fmt.Errorf("%w on %s, more than %s ago", ErrClosed, state.ClosedAt.UTC().Format(time.RFC3339), foldWindow)
	}
	ref = cloneRef(ref)
	out := Contact{Added: &complaintv1.ContactAdded{
		Channel: channel, ExternalRef: ref, ChannelDetails: proto.CloneOf(details), Personal: sealed,
		ContactNumber: int32(state.Contacts + 1), ClientRequestId: requestID, Folded: folded,
	}}
	if ref != nil && !state.HasRef(ref) {
		out.Linked = &complaintv1.ExternalRefLinked{Ref: proto.CloneOf(ref), Channel: channel}
	}
	return out, nil
}

// AttachEvidence is the command to record a piece of evidence.
type AttachEvidence struct {
	ClientRequestID string
	ComplaintID     string
	Kind            complaintv1.EvidenceKind
	MediaType       string
	SizeBytes       int64
	SHA256          string
	StorageURI      string
	FileName        string
	Caption         string
}

// MaxEvidenceBytes bounds one piece of evidence: a long call recording or video.
const MaxEvidenceBytes = 5 << 30

var (
	mediaTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$`)
	sha256Re    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Storage URI schemes of the object stores merchants use.
var storageSchemes = map[string]bool{"s3": true, "oss": true, "cos": true, "obs": true, "gs": true, "https": true}

// Validate checks the command; field paths are those of AttachEvidenceRequest.
func (c *AttachEvidence) Validate() error {
	var vs violations
	requiredText(&vs, "client_request_id", c.ClientRequestID, MaxRequestIDLen)
	if c.ComplaintID == "" {
		vs.add("complaint_id", "required")
	} else if !ValidComplaintID(c.ComplaintID) {
		vs.add("complaint_id", "not a UUID")
	}
	if c.Kind == complaintv1.EvidenceKind_EVIDENCE_KIND_UNSPECIFIED || complaintv1.EvidenceKind_name[int32(c.Kind)] == "" {
		vs.add("kind", "required: photo, video, document, chat_log, receipt, call_recording or other")
	}
	if requiredText(&vs, "media_type", c.MediaType, 128) && !mediaTypeRe.MatchString(c.MediaType) {
		vs.add("media_type", "%q: not a media type like image/jpeg", c.MediaType)
	}
	switch {
	case c.SizeBytes <= 0:
		vs.add("size_bytes", "%d: must be positive", c.SizeBytes)
	case c.SizeBytes > MaxEvidenceBytes:
		vs.add("size_bytes", "%d: more than %d", c.SizeBytes, int64(MaxEvidenceBytes))
	}
	if requiredText(&vs, "sha256", c.SHA256, 64) && !sha256Re.MatchString(c.SHA256) {
		vs.add("sha256", "not 64 lower-case hex digits")
	}
	if requiredText(&vs, "storage_uri", c.StorageURI, MaxURLLen) {
		u, err := url.Parse(c.StorageURI)
		switch {
		case err != nil || u.Host == "":
			vs.add("storage_uri", "not a URI with a bucket or host")
		case !storageSchemes[strings.ToLower(u.Scheme)]:
			vs.add("storage_uri", "scheme %q: use s3, oss, cos, obs, gs or https", u.Scheme)
		}
	}
	optionalRunes(&vs, "file_name", c.FileName, 255)
	optionalRunes(&vs, "caption", c.Caption, 1000)
	if strings.ContainsAny(c.FileName, "/\\") {
		vs.add("file_name", "a name, not a path")
	}
	return vs.err()
}

// DecideEvidence decides the EvidenceAttached event.
func DecideEvidence(state Complaint, c *AttachEvidence, evidenceID string, sealed *complaintv1.Sealed) (*complaintv1.EvidenceAttached, error) {
	if state.Status == StatusNone {
		return nil, ErrNotFound
	}
	return &complaintv1.EvidenceAttached{
		EvidenceId: evidenceID, Kind: c.Kind, MediaType: c.MediaType, SizeBytes: c.SizeBytes,
		Sha256: c.SHA256, StorageUri: c.StorageURI, Personal: sealed, ClientRequestId: c.ClientRequestID,
	}, nil
}

// DecideErase decides PersonalDataErased for a complaint of the erased customer;
// nothing when it is recorded already.
func DecideErase(state Complaint, keyID, reason string) *complaintv1.PersonalDataErased {
	if state.Status == StatusNone || state.Erased {
		return nil
	}
	return &complaintv1.PersonalDataErased{CustomerRef: state.CustomerRef, KeyId: keyID, Reason: reason}
}

// ValidateErase checks an erasure request.
func ValidateErase(shopID, customerRef, phone, reason string) error {
	var vs violations
	requiredText(&vs, "shop_id", shopID, MaxIDLen)
	optionalID(&vs, "customer_ref", customerRef)
	if customerRef == "" && phone == "" {
		vs.add("customer_ref", "customer_ref or phone is required")
	}
	if optionalRunes(&vs, "phone", phone, MaxPhoneLen) && phone != "" && !phoneRe.MatchString(phone) {
		vs.add("phone", "not a phone number")
	}
	requiredRunes(&vs, "reason", reason, 500)
	if utf8.RuneCountInString(strings.TrimSpace(reason)) == 0 && reason != "" {
		vs.add("reason", "required")
	}
	return vs.err()
}
