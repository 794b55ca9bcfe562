// Package logging builds the JSON slog logger every service uses. Logs never
// print personal data (DESIGN §8): attributes whose key names personal data
// are replaced with a marker whatever their value.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// Redacted replaces the value of every attribute whose key names personal data.
const Redacted = "[REDACTED]"

// personalKeys are attribute keys that hold personal data or free text that
// may hold it. Matching is on the whole key, case-insensitively, and on the
// suffixes in personalSuffixes, so "customer_phone" is caught but
// "queue_name" and "service" are not.
var personalKeys = map[string]bool{
	"name": true, "full_name": true, "customer_name": true, "contact_name": true, "real_name": true, "nickname": true,
	"phone": true, "mobile": true, "tel": true, "telephone": true,
	"address": true, "email": true, "id_card": true, "idcard": true, "id_number": true,
	"description": true, "text": true, "free_text": true, "content": true, "body": true,
	"note": true, "notes": true, "comment": true, "remark": true, "message_text": true,
	"password": true, "token": true, "authorization": true,
}

var personalSuffixes = []string{
	"_phone", "_mobile", "_address", "_email", "_id_card", "_description", "_text", "_note", "_comment", "_remark",
}

// IsPersonal reports whether an attribute key names personal data (or a
// secret) that must never reach the logs.
func IsPersonal(key string) bool {
	k := strings.ToLower(key)
	if personalKeys[k] {
		return true
	}
	for _, s := range personalSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// Redact is a slog ReplaceAttr function that masks personal data. It keeps
// the key so a reader can see the field was present.
func Redact(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindGroup && IsPersonal(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	return a
}

// New returns a JSON logger writing to w at level, with the service name on
// every record and personal data redacted. Pass os.Stdout in a service.
func New(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: Redact})
	return slog.New(h).With(slog.String("service", service))
}
