package domain

import (
	"time"

	"github.com/kesu315/kesu/services/kit/policy"
)

// PolicyPlacer places instants with the policy's seasons, per shop and in the
// shop's time zone.
type PolicyPlacer struct {
	Policy *policy.Policy
}

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation(policy.DefaultTimeZone)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// Place implements Placer. A shop the policy does not know is off season,
// its days judged in Asia/Shanghai.
func (pp PolicyPlacer) Place(shopID string, t time.Time) Placement {
	loc := shanghai
	if sh, ok := pp.Policy.Shop(shopID); ok && sh.Location != nil {
		loc = sh.Location
	}
	d := policy.DateOf(t, loc)
	out := Placement{Phase: string(policy.PhaseOffSeason), Day: d.In(time.UTC)}
	s, ok, err := pp.Policy.SeasonAt(shopID, t)
	if err != nil || !ok {
		return out
	}
	out.Season, out.Phase = s.Year, string(s.PhaseOn(d))
	return out
}
