package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	inboundv1 "github.com/kesu315/kesu/proto/gen/go/kesu/inbound/v1"
)

// InboundSubjectPrefix is where other systems publish: inbound.complaints.<source>.
const InboundSubjectPrefix = "inbound.complaints."

// MaxSourceLen bounds a source name, which is a subject token, a metric label
// and part of the request id.
const MaxSourceLen = MaxIDLen

// Content types of an inbound message (header Content-Type). Anything else,
// or none, is read as JSON.
const (
	ContentTypeProtobuf  = "application/protobuf"
	ContentTypeXProtobuf = "application/x-protobuf"
	ContentTypeJSON      = "application/json"
)

// InboundFormat is how an inbound payload is encoded.
type InboundFormat string

// Formats of InboundFormat.
const (
	FormatJSON     InboundFormat = "json"
	FormatProtobuf InboundFormat = "protobuf"
)

// InboundFormatOf picks the format from a Content-Type header value: the
// protobuf media types select protobuf, everything else (JSON's, none, or an
// unknown one) JSON, which then fails with a clear reason if it is not JSON.
func InboundFormatOf(contentType string) InboundFormat {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	switch mt {
	case ContentTypeProtobuf, ContentTypeXProtobuf:
		return FormatProtobuf
	}
	return FormatJSON
}

// DecodeError says why an inbound payload could not be read at all.
type DecodeError struct {
	Format InboundFormat
	// Field is the path of the offending field as the publisher wrote it
	// ("customer.phone", "items[1].sku_id"); empty when the payload is broken
	// before any field (not JSON, truncated protobuf).
	Field  string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cannot decode %s payload: %s", e.Format, e.Reason)
	}
	return fmt.Sprintf("cannot decode %s payload: %s: %s", e.Format, e.Field, e.Reason)
}

// DecodeInbound reads an InboundComplaint. JSON is the protobuf JSON mapping
// (proto and lowerCamel names both accepted, enums by name or number); an
// unknown field is an error in both formats, so a publisher's typo is dead-
// lettered with the field's name instead of silently dropping data.
func DecodeInbound(format InboundFormat, data []byte) (*inboundv1.InboundComplaint, error) {
	m := &inboundv1.InboundComplaint{}
	switch format {
	case FormatProtobuf:
		// Strings are not checked for UTF-8 here (the proto says NONE): the
		// validator names the bad field.
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, &DecodeError{Format: format, Reason: protoReason(err)}
		}
		if path, num := firstUnknown(m.ProtoReflect(), ""); num != 0 {
			return nil, &DecodeError{Format: format, Field: path,
				Reason: fmt.Sprintf("unknown field number %d (not in %s)", num, m.ProtoReflect().Descriptor().FullName())}
		}
	default:
		format = FormatJSON
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, &DecodeError{Format: format, Reason: "empty payload: want a JSON object"}
		}
		// protojson refuses invalid UTF-8 too, but without saying where: find
		// the field first so the reason names it.
		if off := invalidUTF8At(data); off >= 0 {
			return nil, &DecodeError{Format: format, Field: jsonPathAt(data, off),
				Reason: fmt.Sprintf("not valid UTF-8 (byte %d)", off)}
		}
		if err := (protojson.UnmarshalOptions{}).Unmarshal(data, m); err != nil {
			msg := protoReason(err)
			field := ""
			if off, ok := errorOffset(data, msg); ok {
				field = jsonPathAt(data, off)
			}
			return nil, &DecodeError{Format: format, Field: field, Reason: msg}
		}
	}
	return m, nil
}

// protoReason is a protobuf error's text without its "proto:" prefix (which
// the library spells with a space or a no-break space, at random).
func protoReason(err error) string {
	return strings.TrimLeft(strings.TrimPrefix(err.Error(), "proto:"), " \u00a0")
}

var sourceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// InboundSource returns the source a subject names (inbound.complaints.<source>),
// or a *ValidationError on field "subject" saying why it names none.
func InboundSource(subject string) (string, error) {
	src, ok := strings.CutPrefix(subject, InboundSubjectPrefix)
	var vs violations
	switch {
	case !ok:
		vs.add("subject", "%q is not under %q", clip(subject), InboundSubjectPrefix+"<source>")
	case src == "":
		vs.add("subject", "%q has no source token", clip(subject))
	case strings.Contains(src, "."):
		vs.add("subject", "%q: the source must be the one token after %q", clip(subject), InboundSubjectPrefix)
	case len(src) > MaxSourceLen:
		vs.add("subject", "source is %d bytes, at most %d", len(src), MaxSourceLen)
	case !sourceRe.MatchString(src):
		vs.add("subject", "source %q: use letters, digits, '-' and '_' only", clip(src))
	}
	if err := vs.err(); err != nil {
		return "", err
	}
	return src, nil
}

// InboundRequestID is the client request id an inbound message files under:
// one per (source, external_id), which is what makes the inbound path
// idempotent. An id too long for a request id is replaced by its hash.
func InboundRequestID(source, externalID string) string {
	id := "inbound:" + source + ":" + externalID
	if utf8.RuneCountInString(id) <= MaxRequestIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(externalID))
	return "inbound:" + source + ":sha256:" + hex.EncodeToString(sum[:16])
}

// InboundCommand checks an inbound message received on source's subject and
// maps it to the command that files it. It reports every bad field at once,
// named as in InboundComplaint (docs/inbound.md); the shop's existence is left
// to the app, which knows the policy.
func InboundCommand(source string, m *inboundv1.InboundComplaint, now time.Time) (*FileComplaint, error) {
	var vs violations
	switch {
	case m.GetSource() != "" && m.GetSource() != source:
		vs.add("source", "%q does not match the subject's source %q", clip(m.GetSource()), source)
	case source == "" || len(source) > MaxSourceLen || !sourceRe.MatchString(source):
		vs.add("source", "%q: 1 to %d letters, digits, '-' or '_'", clip(source), MaxSourceLen)
	}
	if requiredText(&vs, "external_id", m.GetExternalId(), MaxExternalLen) && hasControl(m.GetExternalId()) {
		vs.add("external_id", "contains a control character")
	}
	if u := m.GetUrl(); u != "" && optionalRunes(&vs, "url", u, MaxURLLen) {
		if p, err := url.Parse(u); err != nil || !p.IsAbs() || hasControl(u) {
			vs.add("url", "not an absolute URL")
		}
	}
	var occurred time.Time
	if ts := m.GetOccurredAt(); ts != nil {
		if err := ts.CheckValid(); err != nil {
			vs.add("occurred_at", "%s", protoReason(err))
		} else {
			occurred = ts.AsTime()
		}
	}
	// PostgreSQL text and jsonb cannot hold U+0000: a NUL that got into an
	// event would stop every projection that stores the field.
	walkStrings(m.ProtoReflect(), "", func(path, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			vs.add(path, "contains a NUL character")
		}
	})

	c := m.GetCustomer()
	cmd := &FileComplaint{
		ClientRequestID: InboundRequestID(source, m.GetExternalId()),
		ShopID:          m.GetShopId(),
		Channel:         m.GetChannel(),
		CustomerRef:     c.GetCustomerRef(),
		Personal: &complaintv1.PersonalData{
			Name: c.GetName(), Phone: c.GetPhone(), Email: c.GetEmail(), Address: c.GetAddress(),
			Text: m.GetDescription(),
		},
		OrderID:          m.GetOrderId(),
		Items:            m.GetItems(),
		OrderAmountFen:   m.GetOrderAmountFen(),
		ClaimedAmountFen: m.GetClaimedAmountFen(),
		OccurredAt:       occurred,
		ExternalRef:      &complaintv1.ExternalRef{Source: source, ExternalId: m.GetExternalId(), Url: m.GetUrl()},
		ChannelDetails:   m.GetChannelDetails(),
		Complainant:      m.GetComplainant(),
		CustomerType:     m.GetCustomerType(),
		ExpectedRemedies: m.GetExpectedRemedies(),
		Language:         m.GetLanguage(),
	}
	if err := cmd.Validate(now, nil); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		for _, v := range InboundViolations(ve).Violations {
			switch {
			case (v.Field == "source" || v.Field == "external_id" || v.Field == "url") && vs.has(v.Field):
				// Checked above with the inbound wording; the command's own
				// check of the same value (also as the request id) repeats it.
			case slices.Contains(vs, v):
			default:
				vs = append(vs, v)
			}
		}
	}
	if err := vs.err(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// InboundViolations renames the fields of a FileComplaint validation error to
// the InboundComplaint fields a publisher sent (external_ref.url → url).
func InboundViolations(e *ValidationError) *ValidationError {
	out := &ValidationError{Violations: make([]Violation, len(e.Violations))}
	for i, v := range e.Violations {
		switch v.Field {
		case "external_ref.source":
			v.Field = "source"
		case "external_ref.external_id", "client_request_id":
			v.Field = "external_id"
		case "external_ref.url":
			v.Field = "url"
		}
		out.Violations[i] = v
	}
	return out
}

func (vs violations) has(field string) bool {
	for _, v := range vs {
		if v.Field == field {
			return true
		}
	}
	return false
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// clip keeps a quoted value in a reason short.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// walkStrings calls fn with every set string field of m (and of the messages
// it holds), with its path in proto field names.
func walkStrings(m protoreflect.Message, prefix string, fn func(path, s string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := joinPath(prefix, string(fd.Name()))
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				p := fmt.Sprintf("%s[%d]", path, i)
				switch fd.Kind() {
				case protoreflect.StringKind:
					fn(p, l.Get(i).String())
				case protoreflect.MessageKind, protoreflect.GroupKind:
					walkStrings(l.Get(i).Message(), p, fn)
				}
			}
		case fd.IsMap():
			// InboundComplaint has no maps.
		case fd.Kind() == protoreflect.StringKind:
			fn(path, v.String())
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			walkStrings(v.Message(), path, fn)
		}
		return true
	})
}

// firstUnknown finds a field the schema does not know, anywhere in m: its
// parent's path and its number (0: none).
func firstUnknown(m protoreflect.Message, prefix string) (string, int32) {
	if raw := m.GetUnknown(); len(raw) > 0 {
		num, _, n := protowire.ConsumeTag(raw)
		if n < 0 || num <= 0 {
			return prefix, -1
		}
		return prefix, int32(num)
	}
	var (
		path string
		num  int32
	)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		p := joinPath(prefix, string(fd.Name()))
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				if path, num = firstUnknown(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i)); num != 0 {
					return false
				}
			}
			return true
		}
		if fd.IsMap() {
			return true
		}
		path, num = firstUnknown(v.Message(), p)
		return num == 0
	})
	return path, num
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// invalidUTF8At returns the offset of the first byte that is not valid UTF-8, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

var positionRe = regexp.MustCompile(`\(line (\d+):(\d+)\)`)

// errorOffset turns protojson's "(line L:C)" (C counted in runes, an invalid
// byte being one) into a byte offset of data.
func errorOffset(data []byte, msg string) (int, bool) {
	sm := positionRe.FindStringSubmatch(msg)
	if sm == nil {
		return 0, false
	}
	line, err1 := strconv.Atoi(sm[1])
	col, err2 := strconv.Atoi(sm[2])
	if err1 != nil || err2 != nil || line < 1 || col < 1 {
		return 0, false
	}
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < col && off < len(data); c++ {
		_, n := utf8.DecodeRune(data[off:])
		off += n
	}
	return off, true
}

// jsonFrame is one open object or array while jsonPathAt scans.
type jsonFrame struct {
	object  bool
	key     string // object: the member being read
	wantKey bool   // object: between members
	index   int    // array: the element being read
}

// jsonPathAt names the JSON value (or member name) at byte offset off, as
// "customer.phone" or "items[2].sku_id", by scanning tokens up to it. Names
// are as the publisher wrote them. A syntax error before off ends the scan
// with the path reached so far.
func jsonPathAt(data []byte, off int) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var st []jsonFrame
	begin := func() {
		if n := len(st); n > 0 && !st[n-1].object {
			st[n-1].index++
		}
	}
	end := func() {
		if n := len(st); n > 0 && st[n-1].object {
			st[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return renderPath(st)
		}
		past := int(dec.InputOffset()) > off
		top := len(st) - 1
		if s, ok := tok.(string); ok && top >= 0 && st[top].object && st[top].wantKey {
			st[top].key, st[top].wantKey = s, false
			if past {
				return renderPath(st)
			}
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			begin()
			if past {
				return renderPath(st)
			}
			st = append(st, jsonFrame{object: tok == json.Delim('{'), wantKey: true, index: -1})
		case json.Delim('}'), json.Delim(']'):
			st = st[:top]
			if past {
				return renderPath(st)
			}
			end()
		default:
			begin()
			if past {
				return renderPath(st)
			}
			end()
		}
	}
}

func renderPath(st []jsonFrame) string {
	var b strings.Builder
	for i, f := range st {
		switch {
		case f.object && (f.key == "" || (i == len(st)-1 && f.wantKey)):
			// Between members: no member to name.
		case f.object:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		case f.index >= 0:
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	return b.String()
}
