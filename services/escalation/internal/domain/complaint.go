// Package domain holds the escalation service's pure rules: how a complaint's
// events start, pause, resume and stop its SLA clocks, when a clock warns and
// breaches, and where the ladder takes a complaint. It imports no NATS, pgx or
// gRPC; the same fold serves the live projection, the poller's state checks and
// the recompute after a policy change, so the three cannot disagree.
package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Status is where a complaint stands in its lifecycle.
type Status string

// The lifecycle every projection agrees on.
const (
	StatusOpen     Status = "open"
	StatusResolved Status = "resolved"
	StatusClosed   Status = "closed"
)

// Complaint is what the clocks need to know of a complaint. Clocks are keyed
// by ClockKey.
type Complaint struct {
	ID             string    `json:"id"`
	ShopID         string    `json:"shop_id"`
	Channel        string    `json:"channel"`
	Category       string    `json:"category"`
	Severity       string    `json:"severity"`
	Signals        []string  `json:"signals,omitempty"`
	Products       []string  `json:"products,omitempty"`
	FiledAt        time.Time `json:"filed_at"`
	Status         Status    `json:"status"`
	Classified     bool      `json:"classified"`
	LevelID        string    `json:"level_id"`
	RepeatContacts int       `json:"repeat_contacts"`
	Transfers      int       `json:"transfers"`
	LastSeq        uint64    `json:"last_seq"`

	Clocks map[string]*Clock `json:"-"`
}

// ClockStatus is where a clock stands.
type ClockStatus string

// Clock statuses.
const (
	ClockRunning     ClockStatus = "running"
	ClockPaused      ClockStatus = "paused"
	ClockStopped     ClockStatus = "stopped"
	ClockBreached    ClockStatus = "breached"
	ClockUnscheduled ClockStatus = "unscheduled" // its deadline cannot be placed (Err says why)
)

// Clock is one run of an SLA clock. Generation counts its (re)starts, so
// (ID, Generation) names one possible breach.
type Clock struct {
	ID         string
	Complaint  string
	ShopID     string
	Clock      policy.Clock
	Key        string // promise id, follow-up id; "" otherwise
	Generation int64
	Status     ClockStatus
	Phase      policy.Phase
	Start      time.Time
	Target     time.Time
	Warn       time.Time
	Due        time.Time
	Warned     bool
	Stopped    time.Time // when stopped or paused
	Breached   time.Time
	Remaining  time.Duration // time left when paused
	Err        string
	// Promise details, for PromiseBroken.
	Agent       string
	Description string
}

// Late reports whether the clock ran past its due instant without a breach
// being recorded yet: running past due, or stopped / paused only after due.
// Such a clock must still breach: nothing may pass its deadline silently.
func (c *Clock) Late(now time.Time) bool {
	if c.Due.IsZero() || now.Before(c.Due) {
		return false
	}
	switch c.Status {
	case ClockRunning:
		return true
	case ClockStopped, ClockPaused:
		return c.Stopped.After(c.Due)
	}
	return false
}

// FireAt is the next instant the poller must look at the clock; zero when
// nothing is left to do.
func (c *Clock) FireAt() time.Time {
	switch c.Status {
	case ClockRunning:
		if !c.Warned && !c.Warn.IsZero() && c.Warn.Before(c.Due) {
			return c.Warn
		}
		return c.Due
	case ClockStopped, ClockPaused:
		if !c.Due.IsZero() && c.Stopped.After(c.Due) {
			return c.Due
		}
	}
	return time.Time{}
}

// ClockKey is the key of a clock in Complaint.Clocks.
func ClockKey(c policy.Clock, key string) string { return string(c) + "/" + key }

var idSpace = uuid.MustParse("5e7a1c3b-9d2f-4b6a-8c15-315315315315")

// DeadlineID is the stable id of a complaint's clock: the same complaint,
// clock and key give the same id on every replica and every refold.
func DeadlineID(complaintID string, c policy.Clock, key string) string {
	return uuid.NewSHA1(idSpace, []byte(complaintID+"\x00"+string(c)+"\x00"+key)).String()
}

// DerivedID derives an event or row id from the parts naming its cause, so a
// cause handled twice (two replicas, a redelivery, a retry) yields one id.
func DerivedID(parts ...string) string {
	return uuid.NewSHA1(idSpace, []byte(strings.Join(parts, "\x00"))).String()
}

// ChannelID is the policy id of a channel enum: CHANNEL_ONLINE_CHAT → online_chat.
func ChannelID(c complaintv1.Channel) string {
	if c == complaintv1.Channel_CHANNEL_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(c.String(), "CHANNEL_"))
}

// SeverityID is the policy severity of a severity enum.
func SeverityID(s complaintv1.Severity) policy.Severity {
	if s == complaintv1.Severity_SEVERITY_UNSPECIFIED {
		return ""
	}
	return policy.Severity(strings.ToLower(strings.TrimPrefix(s.String(), "SEVERITY_")))
}

// SeverityEnum is the enum of a policy severity.
func SeverityEnum(s string) complaintv1.Severity {
	return complaintv1.Severity(complaintv1.Severity_value["SEVERITY_"+strings.ToUpper(s)])
}

// ClockEnum is the ClockKind of a policy clock.
func ClockEnum(c policy.Clock) complaintv1.ClockKind {
	if c == policy.ClockFollowUp {
		return complaintv1.ClockKind_CLOCK_KIND_FOLLOW_UP
	}
	return complaintv1.ClockKind(complaintv1.ClockKind_value["CLOCK_KIND_"+strings.ToUpper(string(c))])
}

// ClockFromEnum is the policy clock of a ClockKind.
func ClockFromEnum(k complaintv1.ClockKind) policy.Clock {
	if k == complaintv1.ClockKind_CLOCK_KIND_FOLLOW_UP {
		return policy.ClockFollowUp
	}
	return policy.Clock(strings.ToLower(strings.TrimPrefix(k.String(), "CLOCK_KIND_")))
}

// LevelEnum maps a ladder level id to the enum: the four standard rungs by
// id, other ids by their place on the ladder.
func LevelEnum(p *policy.Policy, id string) complaintv1.EscalationLevel {
	switch id {
	case "agent", "":
		return complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT
	case "supervisor":
		return complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR
	case "platform":
		return complaintv1.EscalationLevel_ESCALATION_LEVEL_PLATFORM
	case "pr":
		return complaintv1.EscalationLevel_ESCALATION_LEVEL_PR
	}
	i := LevelIndex(p, id)
	return complaintv1.EscalationLevel(min(i+1, int(complaintv1.EscalationLevel_ESCALATION_LEVEL_PR)))
}

// LevelIndex is a level's place on the ladder; "" and unknown ids are the first.
func LevelIndex(p *policy.Policy, id string) int {
	for i, l := range p.Escalation.Levels {
		if l.ID == id {
			return i
		}
	}
	return 0
}

// CurrentLevel is the complaint's level id, the ladder's first level when none.
func (c *Complaint) CurrentLevel(p *policy.Policy) string {
	if c.LevelID != "" {
		return c.LevelID
	}
	if len(p.Escalation.Levels) > 0 {
		return p.Escalation.Levels[0].ID
	}
	return ""
}

// Clock returns a clock by id.
func (c *Complaint) ClockByID(id string) *Clock {
	for _, k := range c.sortedKeys() {
		if c.Clocks[k].ID == id {
			return c.Clocks[k]
		}
	}
	return nil
}

func (c *Complaint) sortedKeys() []string {
	keys := make([]string, 0, len(c.Clocks))
	for k := range c.Clocks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// SortedClocks lists the clocks in a stable order.
func (c *Complaint) SortedClocks() []*Clock {
	out := make([]*Clock, 0, len(c.Clocks))
	for _, k := range c.sortedKeys() {
		out = append(out, c.Clocks[k])
	}
	return out
}
