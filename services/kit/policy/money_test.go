package policy

import (
	"testing"
	"time"
)

func TestParseYuan(t *testing.T) {
	good := map[string]Fen{
		"30": 3000, "30.00": 3000, "30.0": 3000, "30.5": 3050, "0.01": 1, "0": 0,
		"-5": -500, "+7": 700, " 12 ": 1200, "007": 700, "1000.99": 100099,
		"9999999999999.99": 999999999999999,
	}
	for in, want := range good {
		if got, err := ParseYuan(in); err != nil || got != want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "30.", ".5", "30.005", "1e3", "1,000", "30 yuan", "--5", "¥30", "99999999999999", "3０"} {
		if got, err := ParseYuan(in); err == nil {
			t.Errorf("ParseYuan(%q) = %d, want an error", in, got)
		}
	}
}

func TestFenAndCap(t *testing.T) {
	for f, want := range map[Fen]string{3000: "30.00", 1: "0.01", -500: "-5.00", 0: "0.00", 123456: "1234.56"} {
		if got := f.String(); got != want {
			t.Errorf("Fen(%d).String() = %q, want %q", int64(f), got, want)
		}
	}
	c := Cap{Amount: 3000}
	if !c.Allows(3000) || c.Allows(3001) || !(Cap{Unlimited: true}).Allows(1<<60) {
		t.Error("Cap.Allows")
	}
	if (Cap{Unlimited: true}).String() != "unlimited" || c.String() != "30.00" {
		t.Error("Cap.String")
	}
}

func TestParseSpan(t *testing.T) {
	good := map[string]Span{
		"30s": {Duration: 30 * time.Second}, "2h": {Duration: 2 * time.Hour}, "1h30m": {Duration: 90 * time.Minute},
		"7d": {Duration: 168 * time.Hour}, "10wd": {WorkingDays: 10},
	}
	for in, want := range good {
		if got, err := ParseSpan(in); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1.5d", "wd", "10 wd", "2 hours"} {
		if _, err := ParseSpan(in); err == nil {
			t.Errorf("ParseSpan(%q) succeeded", in)
		}
	}
	for in, want := range map[string]string{"80%": "80%", "30m": "30m", "2wd": "2wd", "72h": "72h", "1h30m": "1h30m"} {
		w, err := parseWarn(in)
		if err != nil || w.String() != want {
			t.Errorf("parseWarn(%q) = %v, %v", in, w, err)
		}
	}
}
