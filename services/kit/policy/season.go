package policy

import (
	"fmt"
	"time"
)

// Phase is a part of the 315 season.
type Phase string

// The phases, in the order a season runs them; PhaseOffSeason is any time
// outside a configured season.
const (
	PhaseOffSeason   Phase = "off_season"
	PhasePreparation Phase = "preparation" // 备战
	PhaseBattle      Phase = "battle"      // 作战
	PhaseAftermath   Phase = "aftermath"   // 善后
)

// phaseOrder ranks the in-season phases; 0 means unknown.
func (p Phase) order() int {
	switch p {
	case PhasePreparation:
		return 1
	case PhaseBattle:
		return 2
	case PhaseAftermath:
		return 3
	}
	return 0
}

// Valid reports whether p is a known phase (off_season included).
func (p Phase) Valid() bool { return p == PhaseOffSeason || p.order() > 0 }

// DisplayName names the phase for people.
func (p Phase) DisplayName() DisplayName {
	switch p {
	case PhasePreparation:
		return DisplayName{ZhCN: "备战", En: "Preparation"}
	case PhaseBattle:
		return DisplayName{ZhCN: "作战", En: "Battle"}
	case PhaseAftermath:
		return DisplayName{ZhCN: "善后", En: "Aftermath"}
	}
	return DisplayName{ZhCN: "非季内", En: "Off season"}
}

// PhaseRange is one phase's days, Start..End inclusive.
type PhaseRange struct {
	Phase      Phase
	Start, End Date
}

// Interval is the phase as instants in loc: [start, end), midnight to midnight.
func (r PhaseRange) Interval(loc *time.Location) (start, end time.Time) {
	return r.Start.In(loc), r.End.AddDays(1).In(loc)
}

// Season is one year's 315 season. Its phases are contiguous and in order,
// and tile Start..End (inclusive) exactly.
type Season struct {
	Year       int
	Name       DisplayName
	Start, End Date
	Phases     []PhaseRange
}

// Interval is the season as instants in loc: [start, end).
func (s Season) Interval(loc *time.Location) (start, end time.Time) {
	return s.Start.In(loc), s.End.AddDays(1).In(loc)
}

// PhaseOn is the phase of a day (PhaseOffSeason outside the season).
func (s Season) PhaseOn(d Date) Phase {
	for _, r := range s.Phases {
		if !d.Before(r.Start) && !d.After(r.End) {
			return r.Phase
		}
	}
	return PhaseOffSeason
}

// seasonsFor picks the shop's own seasons when it overrides them.
func (p *Policy) seasonsFor(shopID string) (Shop, map[int]Season, error) {
	sh, ok := p.Shop(shopID)
	if !ok {
		return Shop{}, nil, fmt.Errorf("%w %q", ErrUnknownShop, shopID)
	}
	if sh.Seasons != nil {
		return sh, sh.Seasons, nil
	}
	return sh, p.Seasons, nil
}

// PhaseAt is the season phase at instant t for a shop, judged by the date in
// the shop's time zone: 2026-03-11 00:00 in Shanghai is battle even though
// it is still March 10 in UTC.
func (p *Policy) PhaseAt(shopID string, t time.Time) (Phase, error) {
	s, ok, err := p.SeasonAt(shopID, t)
	if err != nil || !ok {
		return PhaseOffSeason, err
	}
	sh, _ := p.Shop(shopID)
	return s.PhaseOn(DateOf(t, sh.Location)), nil
}

// SeasonAt is the season containing instant t for a shop, if any.
func (p *Policy) SeasonAt(shopID string, t time.Time) (Season, bool, error) {
	sh, seasons, err := p.seasonsFor(shopID)
	if err != nil {
		return Season{}, false, err
	}
	d := DateOf(t, sh.Location)
	// A season starts in its key's year but may end in the next one.
	for _, y := range []int{d.Year, d.Year - 1} {
		if s, ok := seasons[y]; ok && !d.Before(s.Start) && !d.After(s.End) {
			return s, true, nil
		}
	}
	return Season{}, false, nil
}

// SeasonFor is a shop's season of a year, if configured. Reporting uses it to
// compare a season with last year's.
func (p *Policy) SeasonFor(shopID string, year int) (Season, bool, error) {
	_, seasons, err := p.seasonsFor(shopID)
	if err != nil {
		return Season{}, false, err
	}
	s, ok := seasons[year]
	return s, ok, nil
}
