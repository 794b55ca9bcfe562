package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Fen is an amount of money in fen (1 yuan = 100 fen). Integer arithmetic
// keeps refund caps exact; a float would turn 0.1 + 0.2 yuan into a cap check
// that fails by a rounding error.
type Fen int64

// maxYuanDigits bounds the integer part so the fen value fits int64 with room
// for sums (10^13 yuan is far above any refund).
const maxYuanDigits = 13

var errYuanSyntax = errors.New("not a yuan amount: want digits with at most 2 decimals, like 30 or 30.00")

// ParseYuan parses a yuan amount written as text, such as "30", "30.5",
// "30.00" or "-5", into fen exactly. Thousands separators, exponents and more
// than two decimals are refused rather than rounded.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) || (hasDot && (frac == "" || !allDigits(frac))) {
		return 0, errYuanSyntax
	}
	if len(frac) > 2 {
		return 0, errors.New("more than 2 decimal places: fen is the smallest unit")
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > maxYuanDigits {
		return 0, fmt.Errorf("too large: at most %d digits before the decimal point", maxYuanDigits)
	}
	var v int64
	if whole != "" {
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return 0, errYuanSyntax
		}
		v = n * 100
	}
	switch len(frac) {
	case 1:
		v += int64(frac[0]-'0') * 10
	case 2:
		v += int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	if neg {
		v = -v
	}
	return Fen(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount in yuan with two decimals, e.g. "30.00".
func (f Fen) String() string {
	v := int64(f)
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// Cap is a refund authority limit: an amount, or unlimited.
type Cap struct {
	Amount    Fen
	Unlimited bool
}

// Allows reports whether an amount is within the cap (the cap itself included).
func (c Cap) Allows(amount Fen) bool { return c.Unlimited || amount <= c.Amount }

// AtLeast reports whether c is at least as large as o.
func (c Cap) AtLeast(o Cap) bool {
	switch {
	case c.Unlimited:
		return true
	case o.Unlimited:
		return false
	default:
		return c.Amount >= o.Amount
	}
}

// String is "unlimited" or the amount in yuan.
func (c Cap) String() string {
	if c.Unlimited {
		return "unlimited"
	}
	return c.Amount.String()
}
