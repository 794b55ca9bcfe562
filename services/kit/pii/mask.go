package pii

import (
	"strings"
	"unicode/utf8"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
)

// Mask returns the personal data as shown to a role without the right to see it:
// enough to recognise a customer on the phone, not enough to identify one.
// 张三丰 → 张**, 13800001234 → 138****1234, wang@example.com → w***@example.com,
// an address keeps its first six characters; free text is withheld entirely,
// since it may hold anything.
func Mask(pd *complaintv1.PersonalData) *complaintv1.PersonalData {
	if pd == nil {
		return nil
	}
	return &complaintv1.PersonalData{
		Name:    maskName(pd.GetName()),
		Phone:   MaskPhone(pd.GetPhone()),
		Email:   maskEmail(pd.GetEmail()),
		Address: keepRunes(pd.GetAddress(), 6),
	}
}

// MaskPhone keeps the first three and last four digits: 138****1234.
func MaskPhone(phone string) string {
	var digits []rune
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	// +86 138 0000 1234: the country code is not part of what an agent reads back.
	if len(digits) == 13 && string(digits[:2]) == "86" {
		digits = digits[2:]
	}
	if len(digits) < 8 {
		return strings.Repeat("*", len(digits))
	}
	return string(digits[:3]) + strings.Repeat("*", len(digits)-7) + string(digits[len(digits)-4:])
}

func maskName(name string) string {
	if name == "" {
		return ""
	}
	first, _ := utf8.DecodeRuneInString(name)
	n := utf8.RuneCountInString(name) - 1
	if n < 1 {
		n = 1
	}
	return string(first) + strings.Repeat("*", n)
}

func maskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 1 {
		return keepRunes(email, 1)
	}
	first, _ := utf8.DecodeRuneInString(email)
	return string(first) + "***" + email[at:]
}

func keepRunes(s string, n int) string {
	if s == "" {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return strings.Repeat("*", utf8.RuneCountInString(s))
	}
	return string([]rune(s)[:n]) + "****"
}
