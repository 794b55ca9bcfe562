package policy

import (
	"fmt"
	"os"
	"strings"
	"time"
	// Zone data is compiled in so that shop time zones resolve in minimal
	// containers without /usr/share/zoneinfo (the Helm chart runs distroless).
	_ "time/tzdata"
)

// DefaultTimeZone is the shop time zone when the file names none.
const DefaultTimeZone = "Asia/Shanghai"

// DisplayName is a name shown to people, in simplified Chinese and English.
type DisplayName struct {
	ZhCN string
	En   string
}

// In picks the name for a language tag: English for "en" and "en-*",
// simplified Chinese otherwise (zh-CN is the product's default language).
func (d DisplayName) In(lang string) string {
	if lang == "en" || strings.HasPrefix(lang, "en-") {
		return d.En
	}
	return d.ZhCN
}

// Shop is one storefront of the merchant.
type Shop struct {
	ID       string
	Name     DisplayName
	TimeZone string
	// Location is TimeZone loaded; days, phases and working days of the shop
	// are judged in it.
	Location *time.Location
	// Seasons overrides the policy's seasons for this shop when non-nil
	// (a small shop may run only a few days of battle).
	Seasons map[int]Season
}

// Channel is a way complaints arrive.
type Channel struct {
	ID   string
	Name DisplayName
	// Public channels (Weibo, Heimao) are seen by everyone: a complaint there
	// counts as one public signal when judging severity.
	Public bool
	// Fields lists the channel-specific fields a contact from this channel
	// keeps (e.g. an ODR case number); RequiredFields must be present.
	Fields         []string
	RequiredFields []string
}

// Category is a kind of complaint, recognised by keywords.
type Category struct {
	ID       string
	Name     DisplayName
	Keywords []string
}

// Queue is a skill group agents work from.
type Queue struct {
	ID   string
	Name DisplayName
	// MinTier is the lowest agent tier allowed to take work from the queue.
	MinTier int
	// MaxPerAgent is how many open complaints of the queue one agent holds at
	// most; assignment skips agents at capacity.
	MaxPerAgent int
}

// Tier is a line of agents (一线/二线/三线) and its refund authority.
type Tier struct {
	Level     int
	Name      DisplayName
	RefundCap Cap
}

// Disputes holds how contacts fold into one dispute.
type Disputes struct {
	// FoldWindow: a new contact about the same order within this long after
	// the complaint closed folds into it instead of opening a new complaint.
	// Contacts while the complaint is open always fold.
	FoldWindow time.Duration
}

// Policy is a merchant's validated configuration. Build it with Load or
// Parse; it is read-only afterwards and safe for concurrent use.
type Policy struct {
	Version         int
	Shops           []Shop
	Seasons         map[int]Season
	Channels        []Channel
	Categories      []Category
	DefaultCategory string
	Risk            Risk
	Queues          []Queue
	Routing         Routing
	Tiers           []Tier
	// SupervisorRefundCap is what a supervisor may approve (above every tier).
	SupervisorRefundCap Cap
	SLA                 SLA
	Escalation          Escalation
	FollowUp            FollowUp
	Disputes            Disputes
	Calendar            *Calendar
	// CustomerTypes holds the cues of the customer-type hint.
	CustomerTypes CustomerTypes
	// Roster is the agents from the file (optional) and the offline grace.
	Roster Roster
	// Digest is the hex SHA-256 of the policy file's bytes: with Version it
	// names exactly which rules decided something (a classification records
	// it), since the same version number is edited many times.
	Digest string

	shops      map[string]int
	channels   map[string]int
	categories map[string]int
	queues     map[string]int
	signals    map[string]int
	flags      map[string]int
	levels     map[string]int
	matcher    *Matcher
}

// Load reads and validates a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: read %s: %w", path, err)
	}
	p, err := parse(data, path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Parse validates a policy from YAML bytes.
func Parse(data []byte) (*Policy, error) { return parse(data, "") }

// Shop looks a shop up by id.
func (p *Policy) Shop(id string) (Shop, bool) {
	i, ok := p.shops[id]
	if !ok {
		return Shop{}, false
	}
	return p.Shops[i], true
}

// Channel looks a channel up by id.
func (p *Policy) Channel(id string) (Channel, bool) {
	i, ok := p.channels[id]
	if !ok {
		return Channel{}, false
	}
	return p.Channels[i], true
}

// Category looks a category up by id.
func (p *Policy) Category(id string) (Category, bool) {
	i, ok := p.categories[id]
	if !ok {
		return Category{}, false
	}
	return p.Categories[i], true
}

// Queue looks a queue up by id.
func (p *Policy) Queue(id string) (Queue, bool) {
	i, ok := p.queues[id]
	if !ok {
		return Queue{}, false
	}
	return p.Queues[i], true
}

// Signal looks a risk signal up by id.
func (p *Policy) Signal(id string) (Signal, bool) {
	i, ok := p.signals[id]
	if !ok {
		return Signal{}, false
	}
	return p.Risk.Signals[i], true
}

// Flag looks a complainant flag up by id.
func (p *Policy) Flag(id string) (Flag, bool) {
	i, ok := p.flags[id]
	if !ok {
		return Flag{}, false
	}
	return p.Risk.Flags[i], true
}

// Tier looks a tier up by level (1-based).
func (p *Policy) Tier(level int) (Tier, bool) {
	if level < 1 || level > len(p.Tiers) {
		return Tier{}, false
	}
	return p.Tiers[level-1], true
}

// RefundCap is the refund authority of an agent tier.
func (p *Policy) RefundCap(level int) (Cap, bool) {
	t, ok := p.Tier(level)
	return t.RefundCap, ok
}

// TierNeeded is the lowest tier whose refund cap covers amount; ok is false
// when no tier does and a supervisor must approve.
func (p *Policy) TierNeeded(amount Fen) (level int, ok bool) {
	for _, t := range p.Tiers {
		if t.RefundCap.Allows(amount) {
			return t.Level, true
		}
	}
	return 0, false
}

// Matcher is the keyword matcher compiled from the policy's categories,
// risk signals and complainant flags.
func (p *Policy) Matcher() *Matcher { return p.matcher }

// Deadline moves start by a span for a shop: wall-clock for durations,
// the holiday calendar in the shop's time zone for working days.
func (p *Policy) Deadline(shopID string, start time.Time, s Span) (time.Time, error) {
	sh, ok := p.Shop(shopID)
	if !ok {
		return time.Time{}, fmt.Errorf("%w %q", ErrUnknownShop, shopID)
	}
	return p.Calendar.add(start, s, sh.Location)
}
