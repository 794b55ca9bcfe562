package policy

import (
	"errors"
	"testing"
	"time"
)

func TestPhaseAtShanghaiBoundaries(t *testing.T) {
	p := shipped(t)
	cases := []struct {
		at   string
		want Phase
	}{
		{"2026-02-24 23:59:59", PhaseOffSeason},
		{"2026-02-25 00:00:00", PhasePreparation},
		{"2026-03-10 23:59:59", PhasePreparation},
		{"2026-03-11 00:00:00", PhaseBattle},
		{"2026-03-15 12:00:00", PhaseBattle},
		{"2026-03-20 23:59:59", PhaseBattle},
		{"2026-03-21 00:00:00", PhaseAftermath},
		{"2026-04-10 23:59:59", PhaseAftermath},
		{"2026-04-11 00:00:00", PhaseOffSeason},
		{"2025-03-15 09:00:00", PhaseBattle},
		{"2026-12-31 23:59:59", PhaseOffSeason},
	}
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			// The same instant in UTC must give the same answer: the shop's
			// zone decides, not the caller's.
			for _, in := range []time.Time{at(t, tc.at), at(t, tc.at).UTC()} {
				got, err := p.PhaseAt("demo-flagship", in)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("PhaseAt(%s) = %q, want %q", in, got, tc.want)
				}
			}
		})
	}
}

func TestPhaseAtUsesTheShopsOwnZone(t *testing.T) {
	p := minimal(t)
	// Midnight starting March 11 in Shanghai is still the morning of March 10
	// in Los Angeles.
	instant := at(t, "2026-03-11 00:00:00")
	for shop, want := range map[string]Phase{"sh": PhaseBattle, "la": PhasePreparation} {
		got, err := p.PhaseAt(shop, instant)
		if err != nil || got != want {
			t.Errorf("PhaseAt(%s) = %q, %v; want %q", shop, got, err, want)
		}
	}
	la, _ := p.Shop("la")
	if got, _ := p.PhaseAt("la", time.Date(2026, 3, 11, 0, 0, 0, 0, la.Location)); got != PhaseBattle {
		t.Errorf("PhaseAt(la, LA midnight March 11) = %q, want battle", got)
	}
}

func TestShopSeasonOverride(t *testing.T) {
	p := shipped(t)
	cases := []struct {
		shop, at string
		want     Phase
	}{
		{"demo-outlet", "2026-03-01 12:00:00", PhaseOffSeason},
		{"demo-outlet", "2026-03-12 23:59:59", PhasePreparation},
		{"demo-outlet", "2026-03-13 00:00:00", PhaseBattle},
		{"demo-outlet", "2026-03-18 00:00:00", PhaseAftermath},
		{"demo-outlet", "2026-03-23 00:00:00", PhaseOffSeason},
		{"demo-outlet", "2025-03-15 00:00:00", PhaseOffSeason}, // the override has no 2025 season
		{"demo-flagship", "2026-03-01 12:00:00", PhasePreparation},
	}
	for _, tc := range cases {
		got, err := p.PhaseAt(tc.shop, at(t, tc.at))
		if err != nil || got != tc.want {
			t.Errorf("PhaseAt(%s, %s) = %q, %v; want %q", tc.shop, tc.at, got, err, tc.want)
		}
	}
}

func TestSeasonLookups(t *testing.T) {
	p := shipped(t)
	s, ok, err := p.SeasonFor("demo-flagship", 2026)
	if err != nil || !ok {
		t.Fatalf("SeasonFor 2026 = %v, %v", ok, err)
	}
	start, end := s.Interval(shanghai())
	if !start.Equal(at(t, "2026-02-25 00:00:00")) || !end.Equal(at(t, "2026-04-11 00:00:00")) {
		t.Errorf("season interval = [%s, %s)", start, end)
	}
	bs, be := s.Phases[1].Interval(shanghai())
	if s.Phases[1].Phase != PhaseBattle || !bs.Equal(at(t, "2026-03-11 00:00:00")) || !be.Equal(at(t, "2026-03-21 00:00:00")) {
		t.Errorf("battle interval = %s [%s, %s)", s.Phases[1].Phase, bs, be)
	}
	if _, ok, _ := p.SeasonFor("demo-flagship", 2024); ok {
		t.Error("SeasonFor 2024 found a season the file does not define")
	}
	if _, ok, err := p.SeasonAt("demo-flagship", at(t, "2026-03-15 00:00:00")); !ok || err != nil {
		t.Errorf("SeasonAt during battle = %v, %v", ok, err)
	}
	for _, call := range []func() error{
		func() error { _, err := p.PhaseAt("nope", time.Now()); return err },
		func() error { _, _, err := p.SeasonFor("nope", 2026); return err },
		func() error { _, err := p.Deadline("nope", time.Now(), Span{Duration: time.Hour}); return err },
	} {
		if err := call(); !errors.Is(err, ErrUnknownShop) {
			t.Errorf("unknown shop: err = %v, want ErrUnknownShop", err)
		}
	}
	if PhaseBattle.DisplayName().ZhCN != "作战" || PhaseAftermath.DisplayName().In("en") != "Aftermath" {
		t.Error("phase display names")
	}
}
