package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCalendarWorkingDays(t *testing.T) {
	cal := shipped(t).Calendar
	cases := []struct {
		day     string
		working bool
		why     string
	}{
		{"2025-01-26", true, "2025 Spring Festival make-up Sunday"},
		{"2025-01-28", false, "2025 除夕"},
		{"2025-02-04", false, "2025 Spring Festival last day"},
		{"2025-02-08", true, "2025 make-up Saturday"},
		{"2025-10-08", false, "2025 National Day + Mid-Autumn, 8th day"},
		{"2025-10-11", true, "2025 make-up Saturday"},
		{"2026-01-01", false, "2026 New Year's Day"},
		{"2026-01-04", true, "2026 New Year make-up Sunday"},
		{"2026-02-13", true, "Friday before Spring Festival"},
		{"2026-02-14", true, "2026 Spring Festival make-up Saturday (调休)"},
		{"2026-02-15", false, "2026 Spring Festival first day (Sunday)"},
		{"2026-02-16", false, "2026 除夕 (Monday)"},
		{"2026-02-17", false, "2026 正月初一 (Tuesday)"},
		{"2026-02-23", false, "2026 Spring Festival last day (Monday)"},
		{"2026-02-24", true, "first working day after Spring Festival"},
		{"2026-02-28", true, "2026 Spring Festival make-up Saturday"},
		{"2026-03-01", false, "ordinary Sunday"},
		{"2026-03-16", true, "ordinary Monday in the battle phase"},
		{"2026-04-06", false, "2026 Qingming Monday"},
		{"2026-05-09", true, "2026 Labour Day make-up Saturday"},
		{"2026-06-19", false, "2026 Dragon Boat Friday"},
		{"2026-09-20", true, "2026 National Day make-up Sunday"},
		{"2026-09-25", false, "2026 Mid-Autumn Friday"},
		{"2026-10-01", false, "2026 National Day"},
		{"2026-10-07", false, "2026 National Day week, Wednesday"},
		{"2026-10-08", true, "first working day after National Day"},
		{"2026-10-10", true, "2026 National Day make-up Saturday"},
		{"2026-10-11", false, "ordinary Sunday"},
		{"2027-02-05", false, "2027 除夕 (provisional)"},
		{"2027-02-14", true, "2027 make-up Sunday (provisional)"},
	}
	for _, tc := range cases {
		t.Run(tc.day, func(t *testing.T) {
			got, err := cal.IsWorkingDay(date(t, tc.day))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.working {
				t.Errorf("IsWorkingDay(%s) = %v, want %v (%s)", tc.day, got, tc.working, tc.why)
			}
		})
	}
}

func TestCalendarAddWorkingDays(t *testing.T) {
	cal := shipped(t).Calendar
	cases := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		{"ODR across Spring Festival 2026", at(t, "2026-02-13 15:00:00"), 10, at(t, "2026-03-05 15:00:00")},
		{"ODR across National Day 2026", at(t, "2026-09-30 10:00:00"), 10, at(t, "2026-10-20 10:00:00")},
		{"ODR in an ordinary fortnight", at(t, "2026-03-16 09:00:00"), 10, at(t, "2026-03-30 09:00:00")},
		{"filed during the holiday", at(t, "2026-10-03 09:00:00"), 1, at(t, "2026-10-08 09:00:00")},
		{"filed on a Sunday", at(t, "2026-03-15 22:00:00"), 1, at(t, "2026-03-16 22:00:00")},
		{"next day is a make-up Saturday", at(t, "2026-02-13 18:00:00"), 1, at(t, "2026-02-14 18:00:00")},
		{"counting backwards", at(t, "2026-02-24 10:00:00"), -1, at(t, "2026-02-14 10:00:00")},
		{"zero", at(t, "2026-02-16 10:00:00"), 0, at(t, "2026-02-16 10:00:00")},
		{"judged in the shop zone, not UTC", time.Date(2026, 2, 13, 16, 30, 0, 0, time.UTC), 1, at(t, "2026-02-24 00:30:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cal.AddWorkingDays(tc.start, tc.n, shanghai())
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tc.want) || got.Location().String() != "Asia/Shanghai" {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tc.start, tc.n, got, tc.want)
			}
		})
	}
}

func TestCalendarWorkingDaysBetween(t *testing.T) {
	cal := shipped(t).Calendar
	n, err := cal.WorkingDaysBetween(date(t, "2026-02-13"), date(t, "2026-03-05"))
	if err != nil || n != 10 {
		t.Errorf("WorkingDaysBetween = %d, %v; want 10 (the ODR deadline day counts)", n, err)
	}
	n, err = cal.WorkingDaysBetween(date(t, "2026-03-05"), date(t, "2026-02-13"))
	if err != nil || n != -10 {
		t.Errorf("WorkingDaysBetween reversed = %d, %v; want -10", n, err)
	}
}

func TestCalendarYearNotCovered(t *testing.T) {
	cal := shipped(t).Calendar
	check := func(t *testing.T, err error, year int) {
		t.Helper()
		if !errors.Is(err, ErrYearNotCovered) {
			t.Fatalf("err = %v, want ErrYearNotCovered", err)
		}
		var ye *YearNotCoveredError
		if !errors.As(err, &ye) || ye.Year != year {
			t.Fatalf("err = %v, want a *YearNotCoveredError for %d", err, year)
		}
		if !strings.Contains(err.Error(), "2024") && !strings.Contains(err.Error(), "2028") {
			t.Errorf("message %q does not name the year", err)
		}
	}
	t.Run("IsWorkingDay", func(t *testing.T) {
		_, err := cal.IsWorkingDay(date(t, "2024-12-31"))
		check(t, err, 2024)
	})
	t.Run("AddWorkingDays into the next year", func(t *testing.T) {
		_, err := cal.AddWorkingDays(at(t, "2027-12-24 10:00:00"), 10, shanghai())
		check(t, err, 2028)
	})
	t.Run("WorkingDaysBetween", func(t *testing.T) {
		_, err := cal.WorkingDaysBetween(date(t, "2027-12-01"), date(t, "2028-01-10"))
		check(t, err, 2028)
	})
}

func TestCalendarYearsAndProvisional(t *testing.T) {
	cal := shipped(t).Calendar
	if got := cal.Years(); len(got) != 3 || got[0] != 2025 || got[2] != 2027 {
		t.Errorf("Years() = %v, want [2025 2026 2027]", got)
	}
	if cal.Provisional(2026) || !cal.Provisional(2027) {
		t.Error("2026 is a published schedule and 2027 a provisional one")
	}
	name, ok, err := cal.Holiday(date(t, "2026-02-17"))
	if err != nil || !ok || name.ZhCN != "春节" || name.In("en") != "Spring Festival" {
		t.Errorf("Holiday(2026-02-17) = %v %v %v, want 春节", name, ok, err)
	}
}
