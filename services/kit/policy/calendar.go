package policy

import (
	"errors"
	"slices"
	"time"
)

// HolidayPeriod is one official holiday as the State Council announces it:
// the days off (Start..End inclusive) and the weekend days worked instead
// (调休 make-up working days).
type HolidayPeriod struct {
	Name           DisplayName
	Start, End     Date
	MakeupWorkdays []Date
}

// CalendarYear is one year's official holiday schedule.
type CalendarYear struct {
	Year int
	// Source names the notice the schedule comes from.
	Source string
	// Provisional marks a schedule not yet checked against a published notice.
	Provisional bool
	Periods     []HolidayPeriod
}

// Calendar answers working-day questions with China's official holidays and
// make-up working days. A day is a working day when it is a make-up working
// day, or a Monday to Friday that is not a holiday. Only the years listed are
// known; asking about another year is a *YearNotCoveredError, never a guess.
type Calendar struct {
	years   map[int]CalendarYear
	off     map[Date]int // day off -> index into names
	names   []DisplayName
	workday map[Date]bool
}

func newCalendar(years []CalendarYear) *Calendar {
	c := &Calendar{years: map[int]CalendarYear{}, off: map[Date]int{}, workday: map[Date]bool{}}
	for _, y := range years {
		c.years[y.Year] = y
		for _, p := range y.Periods {
			c.names = append(c.names, p.Name)
			for d := p.Start; !d.After(p.End); d = d.AddDays(1) {
				c.off[d] = len(c.names) - 1
			}
			for _, m := range p.MakeupWorkdays {
				c.workday[m] = true
			}
		}
	}
	return c
}

// Covers reports whether the calendar lists the year.
func (c *Calendar) Covers(year int) bool {
	_, ok := c.years[year]
	return ok
}

// Years lists the covered years in order.
func (c *Calendar) Years() []int {
	ys := make([]int, 0, len(c.years))
	for y := range c.years {
		ys = append(ys, y)
	}
	slices.Sort(ys)
	return ys
}

// Year returns one year's schedule.
func (c *Calendar) Year(year int) (CalendarYear, bool) {
	y, ok := c.years[year]
	return y, ok
}

// Provisional reports whether the year's schedule is marked provisional (not
// yet checked against the published notice).
func (c *Calendar) Provisional(year int) bool { return c.years[year].Provisional }

func (c *Calendar) check(d Date) error {
	if !c.Covers(d.Year) {
		return &YearNotCoveredError{Year: d.Year}
	}
	return nil
}

// IsWorkingDay reports whether d is a working day.
func (c *Calendar) IsWorkingDay(d Date) (bool, error) {
	if err := c.check(d); err != nil {
		return false, err
	}
	if c.workday[d] {
		return true, nil
	}
	if _, ok := c.off[d]; ok {
		return false, nil
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday, nil
}

// Holiday returns the name of the official holiday d falls in, if any.
func (c *Calendar) Holiday(d Date) (DisplayName, bool, error) {
	if err := c.check(d); err != nil {
		return DisplayName{}, false, err
	}
	i, ok := c.off[d]
	if !ok {
		return DisplayName{}, false, nil
	}
	return c.names[i], true, nil
}

// AddWorkingDays returns the same local time of day on the n-th working day
// after t's day in loc (t's own location when loc is nil). t's own day is not
// counted, as in PRC law's counting of periods, so a complaint filed on a
// Saturday or during a holiday starts counting on the next working day. A
// negative n counts backwards. The result is in loc.
func (c *Calendar) AddWorkingDays(t time.Time, n int, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = t.Location()
	}
	t = t.In(loc)
	d := DateOf(t, loc)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDays(step)
		ok, err := c.IsWorkingDay(d)
		if err != nil {
			return time.Time{}, err
		}
		if ok {
			n--
		}
	}
	return time.Date(d.Year, d.Month, d.Day, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc), nil
}

// WorkingDaysBetween counts the working days after from up to and including
// to (negative when to is before from). It measures ODR compliance: a contact
// on the 10th working day after filing is on time.
func (c *Calendar) WorkingDaysBetween(from, to Date) (int, error) {
	sign := 1
	if to.Before(from) {
		from, to, sign = to, from, -1
	}
	if err := c.check(from); err != nil {
		return 0, err
	}
	if err := c.check(to); err != nil {
		return 0, err
	}
	n := 0
	for d := from.AddDays(1); !d.After(to); d = d.AddDays(1) {
		ok, err := c.IsWorkingDay(d)
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return sign * n, nil
}

// add moves t by a span: wall-clock for durations, calendar for working days.
func (c *Calendar) add(t time.Time, s Span, loc *time.Location) (time.Time, error) {
	if s.InWorkingDays() {
		if c == nil {
			return time.Time{}, errors.New("policy: no holiday calendar")
		}
		return c.AddWorkingDays(t, s.WorkingDays, loc)
	}
	return t.Add(s.Duration), nil
}
