package casework

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/clock"
	"github.com/kesu315/kesu/services/kit/policy"
)

// Config sets up the simulated floor.
type Config struct {
	Policy *policy.Policy
	Clock  clock.Clock
	Seed   uint64
	// Shops the callers make follow-up calls for.
	Shops []string
	// Agents is the roster; default Roster(Policy, 3, Seed).
	Agents []Agent
	// Callers make the follow-up calls; default two tier-1 agents of the
	// policy's follow-up queue.
	Callers []Agent
	// Tick is the simulated time between two looks of an agent at its work;
	// default 5 minutes.
	Tick      time.Duration
	Casework  Casework
	FollowUps FollowUps
	// OnError sees every failed call (nil: counted only).
	OnError func(op string, err error)
}

// Stats counts what the floor did.
type Stats struct {
	Claimed, Responded, Promised, Remedies, Transferred, Resolved atomic.Int64
	Kept, Returned                                                atomic.Int64
	Called, Reached, Satisfied, Dissatisfied                      atomic.Int64
	Errors                                                        atomic.Int64
	// ClaimsLost counts claims another agent (or auto-assignment) won.
	ClaimsLost atomic.Int64
}

// Floor is the running simulation.
type Floor struct {
	cfg   Config
	Stats Stats

	mu      sync.Mutex
	answers map[string]Answer // by follow-up id
	seq     int               // answers recorded so far

	stopOnce sync.Once
	stopped  chan struct{}
}

// Answer is what a customer reached by a follow-up call said.
type Answer struct {
	ComplaintID, FollowUpID string
	Score                   int
	// Seq numbers the answers in the order followup acknowledged them (1,
	// 2, …). One caller makes every call of a complaint, one after another,
	// so of a complaint reopened and followed up again the higher Seq is
	// the later answer: the one a report counts.
	Seq int
}

// Answers returns every answer customers gave, one per follow-up: what
// followup and reporting must count.
func (f *Floor) Answers() []Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Answer, 0, len(f.answers))
	for _, a := range f.answers {
		out = append(out, a)
	}
	return out
}

func (f *Floor) answered(followUpID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.answers[followUpID]
	return ok
}

// NewFloor checks the configuration.
func NewFloor(cfg Config) (*Floor, error) {
	if cfg.Policy == nil || cfg.Clock == nil || cfg.Casework == nil {
		return nil, errors.New("casework: Policy, Clock and Casework are required")
	}
	if len(cfg.Agents) == 0 {
		cfg.Agents = Roster(cfg.Policy, 3, cfg.Seed)
	}
	if len(cfg.Callers) == 0 {
		q := cfg.Policy.FollowUp.Queue
		cfg.Callers = []Agent{
			{ID: "sim-caller-1", Name: "回访专员 1", Tier: 1, Queues: []string{q}, Capacity: 20, Speed: 1},
			{ID: "sim-caller-2", Name: "回访专员 2", Tier: 1, Queues: []string{q}, Capacity: 20, Speed: 1},
		}
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Minute
	}
	return &Floor{cfg: cfg, stopped: make(chan struct{})}, nil
}

// Stop ends Run gracefully: each agent and caller finishes the look it is
// taking, with its calls, and Run returns. Cancelling Run's context instead
// abandons calls in flight — a follow-up answer followup recorded while its
// call was cancelled would then be missing from Answers.
func (f *Floor) Stop() { f.stopOnce.Do(func() { close(f.stopped) }) }

// Roster staffs every queue of the policy (but follow-up calls) with
// perQueue agents of the tiers it allows, mostly line 1 where it may; one in
// four also works a second queue.
func Roster(p *policy.Policy, perQueue int, seed uint64) []Agent {
	rng := rand.New(rand.NewPCG(seed, 0xa6e275))
	var out []Agent
	var ids []string
	for _, q := range p.Queues {
		if q.ID == p.FollowUp.Queue {
			continue
		}
		ids = append(ids, q.ID)
	}
	for _, qid := range ids {
		q, _ := p.Queue(qid)
		for i := range perQueue {
			tier := q.MinTier
			switch x := rng.Float64(); {
			case x < 0.15:
				tier = max(tier, 3)
			case x < 0.45:
				tier = max(tier, 2)
			}
			a := Agent{
				ID: fmt.Sprintf("sim-%s-%d", qid, i+1), Name: fmt.Sprintf("%s %d", qid, i+1),
				Tier: tier, Queues: []string{qid}, Capacity: q.MaxPerAgent, Speed: 0.7 + 0.6*rng.Float64(),
			}
			if rng.IntN(4) == 0 {
				if other := ids[rng.IntN(len(ids))]; other != qid {
					if oq, _ := p.Queue(other); oq.MinTier <= tier {
						a.Queues = append(a.Queues, other)
					}
				}
			}
			out = append(out, a)
		}
	}
	return out
}

// Run puts the roster online and works until ctx ends or Stop is called.
func (f *Floor) Run(ctx context.Context) error {
	// The loops wait on idle (ended by Stop as well) and call on ctx.
	idle, endIdle := context.WithCancel(ctx)
	defer endIdle()
	go func() {
		select {
		case <-f.stopped:
			endIdle()
		case <-idle.Done():
		}
	}()
	for _, a := range append(slices.Clone(f.cfg.Agents), f.cfg.Callers...) {
		if err := f.cfg.Casework.UpsertAgent(ctx, a); err != nil {
			return fmt.Errorf("roster %s: %w", a.ID, err)
		}
		if err := f.cfg.Casework.SetOnline(ctx, a, true); err != nil {
			return fmt.Errorf("presence %s: %w", a.ID, err)
		}
	}
	var wg sync.WaitGroup
	for _, a := range f.cfg.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.agentLoop(ctx, idle, a)
		}()
	}
	if f.cfg.FollowUps != nil {
		for i, c := range f.cfg.Callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.callerLoop(ctx, idle, c, i, len(f.cfg.Callers))
			}()
		}
	}
	wg.Wait()
	return nil
}

func (f *Floor) fail(op string, err error) {
	if err == nil || errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled {
		return
	}
	f.Stats.Errors.Add(1)
	if f.cfg.OnError != nil {
		f.cfg.OnError(op, err)
	}
}

func rngFor(seed uint64, id string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// caseState is what an agent remembers of a complaint it holds.
type caseState struct {
	// dropped: routing refused work on it (taken over, escalated, already
	// resolved): the agent leaves it until its work list stops showing it.
	dropped              bool
	respondAt, resolveAt time.Time
	responded            bool
	promiseDue           time.Time
	keepPromise          bool
	considered           bool // transfer considered once
	proposed             bool
	remedyID             string
}

func (f *Floor) agentLoop(ctx, idle context.Context, a Agent) {
	rng := rngFor(f.cfg.Seed, a.ID)
	cw := f.cfg.Casework
	held := map[string]*caseState{}
	next := f.cfg.Clock.Now()
	for {
		// Agents look at their work at slightly different moments.
		next = next.Add(f.cfg.Tick/2 + time.Duration(rng.Int64N(int64(f.cfg.Tick))))
		// Behind the clock (a fast clock, slow services): skip the missed
		// looks instead of hammering routing to catch up.
		if now := f.cfg.Clock.Now(); next.Before(now) {
			next = now.Add(f.cfg.Tick / 2)
		}
		if clock.SleepUntil(idle, f.cfg.Clock, next) != nil {
			return
		}
		now := f.cfg.Clock.Now()
		items, err := cw.MyWork(ctx, a)
		if err != nil {
			f.fail("my work", err)
			continue
		}
		util := float64(len(items)) / float64(max(a.Capacity, 1))
		mine := map[string]bool{}
		for _, it := range items {
			if !it.Open {
				continue
			}
			mine[it.ComplaintID] = true
			st := held[it.ComplaintID]
			if st == nil {
				d := RespondDelay(rng, it, a, util, f.phase(it.ShopID, now))
				st = &caseState{respondAt: now.Add(d)}
				st.resolveAt = st.respondAt.Add(WorkTime(rng, it, a, util))
				held[it.ComplaintID] = st
			}
			if !st.dropped {
				st.dropped = f.work(ctx, rng, a, it, st, now)
			}
		}
		for id := range held {
			if !mine[id] {
				delete(held, id) // resolved, transferred or taken back
			}
		}
		// Take more work while there is room, most urgent first.
		room := a.Capacity - len(items)
		for _, q := range a.Queues {
			if room <= 0 {
				break
			}
			free, err := cw.Unassigned(ctx, a, q)
			if err != nil {
				f.fail("list queue", err)
				continue
			}
			for _, it := range free {
				if room <= 0 {
					break
				}
				if it.TierRequired > a.Tier {
					continue
				}
				if err := cw.Claim(ctx, a, it.ComplaintID); err != nil {
					// Another agent (or auto-assignment, or an escalation)
					// was quicker: normal on a busy floor. The list is stale,
					// so the agent looks again next time.
					f.Stats.ClaimsLost.Add(1)
					if f.cfg.OnError != nil {
						f.cfg.OnError("claim", err)
					}
					break
				}
				f.Stats.Claimed.Add(1)
				room--
			}
		}
	}
}

func (f *Floor) phase(shop string, t time.Time) policy.Phase {
	ph, err := f.cfg.Policy.PhaseAt(shop, t)
	if err != nil {
		return policy.PhaseOffSeason
	}
	return ph
}

// work moves one held complaint on, as far as the agent's time allows. It
// reports whether routing refused the work for good (the complaint is no
// longer the agent's to work: escalated, taken over, resolved).
func (f *Floor) work(ctx context.Context, rng *rand.Rand, a Agent, it Item, st *caseState, now time.Time) (dropped bool) {
	cw := f.cfg.Casework
	fail := func(op string, err error) bool {
		f.fail(op, err)
		switch status.Code(err) {
		case codes.FailedPrecondition, codes.PermissionDenied, codes.NotFound:
			return true
		}
		return false
	}
	if !st.responded {
		if now.Before(st.respondAt) {
			return false
		}
		if err := cw.Respond(ctx, a, it.ComplaintID); err != nil {
			return fail("respond", err)
		}
		f.Stats.Responded.Add(1)
		st.responded = true
		// "I will check and reply within 30 minutes" (seed 000); most
		// promises are kept.
		if rng.Float64() < 0.3 {
			within := 30 * time.Minute
			if err := cw.Promise(ctx, a, it.ComplaintID, "核实后 30 分钟内回复您", within); err != nil {
				f.fail("promise", err)
			} else {
				f.Stats.Promised.Add(1)
				st.promiseDue = now.Add(within)
				st.keepPromise = rng.Float64() < 0.9
			}
		}
		return false
	}
	if !st.promiseDue.IsZero() {
		if st.keepPromise {
			if err := cw.Respond(ctx, a, it.ComplaintID); err != nil {
				f.fail("respond", err)
				return false
			}
			f.Stats.Responded.Add(1)
		}
		st.promiseDue = time.Time{}
		return false
	}
	if now.Before(st.resolveAt) {
		return false
	}
	plan := PlanRemedy(f.cfg.Policy, rng, a, it)
	if !st.considered {
		st.considered = true
		if to, why := TransferTo(rng, a, it, plan); to != "" {
			if err := cw.Transfer(ctx, a, it.ComplaintID, to, why); err != nil {
				return fail("transfer", err)
			}
			f.Stats.Transferred.Add(1)
			return true
		}
	}
	// One remedy per complaint: a failed Resolve is retried with it.
	if !st.proposed && plan.Kind != complaintv1.RemedyKind_REMEDY_KIND_UNSPECIFIED {
		id, approved, err := cw.ProposeRemedy(ctx, a, it.ComplaintID, plan.Kind, plan.AmountFen, plan.Note)
		if err != nil {
			return fail("propose remedy", err)
		}
		f.Stats.Remedies.Add(1)
		st.proposed = true
		if approved {
			st.remedyID = id
		}
	}
	remedyID := st.remedyID
	outcome := complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_EXPLAINED
	if remedyID != "" {
		outcome = complaintv1.ResolutionOutcome_RESOLUTION_OUTCOME_REMEDY_GRANTED
	}
	retention := complaintv1.Retention_RETENTION_NOT_APPLICABLE
	// The customer of a product complaint may have asked for a return or a
	// refund (the agent's work item does not say): the agent asks.
	if plan.AsksReturn || productComplaint(it.Category) {
		// Asking the reason and explaining keeps about one in five (seed 003).
		retention = complaintv1.Retention_RETENTION_RETURNED
		if rng.Float64() < 0.2 {
			retention = complaintv1.Retention_RETENTION_KEPT
		}
	}
	if err := cw.Resolve(ctx, a, it.ComplaintID, outcome, remedyID, plan.Summary, retention); err != nil {
		return fail("resolve", err)
	}
	f.Stats.Resolved.Add(1)
	switch retention {
	case complaintv1.Retention_RETENTION_KEPT:
		f.Stats.Kept.Add(1)
	case complaintv1.Retention_RETENTION_RETURNED:
		f.Stats.Returned.Add(1)
	}
	return false
}

func productComplaint(category string) bool {
	switch category {
	case "service_attitude", "privacy", "other":
		return false
	}
	return true
}

// RespondDelay is how long an agent takes to answer a complaint it just
// got: seconds in chat, minutes on the phone, hours by e-mail; faster for
// severe complaints and in the battle phase (managers on the floor), slower
// the fuller the agent's hands.
func RespondDelay(rng *rand.Rand, it Item, a Agent, util float64, ph policy.Phase) time.Duration {
	lo, hi := 30*time.Minute, 4*time.Hour
	switch it.Channel {
	case complaintv1.Channel_CHANNEL_ONLINE_CHAT, complaintv1.Channel_CHANNEL_IN_STORE:
		lo, hi = 15*time.Second, 3*time.Minute
	case complaintv1.Channel_CHANNEL_HOTLINE_400:
		lo, hi = 5*time.Minute, 40*time.Minute
	case complaintv1.Channel_CHANNEL_WEIBO, complaintv1.Channel_CHANNEL_HEIMAO:
		lo, hi = 10*time.Minute, time.Hour
	}
	d := float64(lo) + rng.Float64()*float64(hi-lo)
	if it.Severity >= complaintv1.Severity_SEVERITY_MAJOR {
		d *= 0.3
	}
	if ph == policy.PhaseBattle {
		d *= 0.7
	}
	d *= max(a.Speed, 0.1) * (1 + 2*util*util)
	return time.Duration(d)
}

// WorkTime is how long after the first answer the complaint is settled.
func WorkTime(rng *rand.Rand, it Item, a Agent, util float64) time.Duration {
	h := 1 + rng.ExpFloat64()*8 // hours: most the same day, a tail over days
	if it.Severity >= complaintv1.Severity_SEVERITY_MAJOR {
		h *= 0.5
	}
	h *= max(a.Speed, 0.1) * (1 + util)
	return time.Duration(math.Min(h, 96) * float64(time.Hour))
}

// Plan is the remedy an agent offers.
type Plan struct {
	Kind      complaintv1.RemedyKind
	AmountFen int64
	Note      string
	Summary   string
	// AsksReturn: a return or refund request, where the agent asks why.
	AsksReturn bool
	// OverCap: what the customer claims is above the agent's cap.
	OverCap bool
}

// PlanRemedy picks a remedy for the category, never above the agent's
// refund cap: above it, a smaller goodwill compensation (or a transfer, see
// TransferTo).
func PlanRemedy(p *policy.Policy, rng *rand.Rand, a Agent, it Item) Plan {
	capFen := int64(0)
	unlimited := false
	if c, ok := p.RefundCap(a.Tier); ok {
		capFen, unlimited = int64(c.Amount), c.Unlimited
	}
	within := func(v int64) bool { return unlimited || v <= capFen }
	pl := Plan{Summary: "已核实并处理", Note: "模拟坐席"}
	amount := max(it.AmountFen, 0)
	switch it.Category {
	case "quality", "expired_goods", "counterfeit", "false_advertising", "after_sales_refusal":
		pl.Kind, pl.AmountFen, pl.AsksReturn = complaintv1.RemedyKind_REMEDY_KIND_REFUND, amount, true
		if it.Category == "quality" && rng.IntN(3) == 0 {
			pl.Kind, pl.AmountFen, pl.AsksReturn = complaintv1.RemedyKind_REMEDY_KIND_EXCHANGE, 0, false
		}
	case "price_size_error", "promotion_rules":
		pl.Kind, pl.AmountFen = complaintv1.RemedyKind_REMEDY_KIND_REFUND, amount
	case "logistics_wrong_item":
		pl.Kind, pl.AmountFen = complaintv1.RemedyKind_REMEDY_KIND_EXCHANGE, 0
		if rng.IntN(2) == 0 {
			pl.Kind, pl.AmountFen = complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION, min(amount, 2000)
		}
	case "service_attitude", "privacy":
		pl.Kind = complaintv1.RemedyKind_REMEDY_KIND_APOLOGY
	default:
		pl.Kind = complaintv1.RemedyKind_REMEDY_KIND_UNSPECIFIED
		pl.Summary = "已解释说明"
	}
	if !within(pl.AmountFen) {
		pl.OverCap = true
		// A goodwill compensation the agent may give, instead of the claim.
		pl.Kind, pl.AmountFen, pl.AsksReturn = complaintv1.RemedyKind_REMEDY_KIND_COMPENSATION, capFen, false
		pl.Summary = "超出权限部分已说明，先行补偿"
	}
	return pl
}

// TransferTo sometimes passes a complaint on: a claim above the agent's cap
// goes to the refund team or a supervisor half of the time, and a few
// complaints are simply passed around (踢皮球), which customers notice.
func TransferTo(rng *rand.Rand, a Agent, it Item, pl Plan) (queue, reason string) {
	if pl.OverCap && rng.IntN(2) == 0 {
		if a.Tier < 2 && !slices.Contains(a.Queues, "refund") {
			return "refund", "金额超出一线权限，转退款组"
		}
		if !slices.Contains(a.Queues, "supervisor") {
			return "supervisor", "金额超出权限，转现场主管审批"
		}
	}
	if rng.Float64() < 0.05 && it.Transfers < 2 {
		to := "after_sales_online"
		if slices.Contains(a.Queues, to) {
			to = "order"
		}
		return to, "非本组业务，转交处理"
	}
	return "", ""
}

// Satisfaction is the customer's score (1..5) for how they were treated:
// slow first answers, having to come back, and being passed around cost
// points; a granted remedy and a quick answer earn them.
func Satisfaction(rng *rand.Rand, it Item, remedyGranted bool) int {
	s := 4.6
	if !it.FirstResponseAt.IsZero() && !it.FiledAt.IsZero() {
		switch wait := it.FirstResponseAt.Sub(it.FiledAt); {
		case wait > 24*time.Hour:
			s -= 2
		case wait > 2*time.Hour:
			s -= 1
		case wait < 5*time.Minute:
			s += 0.3
		}
	}
	s -= 0.8 * float64(max(it.Contacts-1, 0))
	s -= 0.9 * float64(it.Transfers)
	if !remedyGranted {
		s -= 0.6
	}
	if it.Severity >= complaintv1.Severity_SEVERITY_MAJOR {
		s -= 0.4
	}
	s += rng.NormFloat64() * 0.5
	return int(math.Max(1, math.Min(5, math.Round(s))))
}

func (f *Floor) callerLoop(ctx, idle context.Context, c Agent, i, n int) {
	rng := rngFor(f.cfg.Seed, c.ID)
	tried := map[string]int{} // follow-up id → last attempt number made
	next := f.cfg.Clock.Now()
	for {
		next = next.Add(f.cfg.Tick + time.Duration(rng.Int64N(int64(f.cfg.Tick))))
		if now := f.cfg.Clock.Now(); next.Before(now) {
			next = now.Add(f.cfg.Tick)
		}
		if clock.SleepUntil(idle, f.cfg.Clock, next) != nil {
			return
		}
		now := f.cfg.Clock.Now()
		for _, shop := range f.cfg.Shops {
			due, err := f.cfg.FollowUps.Due(ctx, c, shop, now)
			if err != nil {
				f.fail("follow-up queue", err)
				continue
			}
			for _, fu := range due {
				// Callers split the list so two never call one customer.
				if h := fnv.New32a(); func() bool { h.Write([]byte(fu.ComplaintID)); return int(h.Sum32()%uint32(n)) != i }() {
					continue
				}
				// A follow-up answered already may still be listed by a
				// projection that lags: calling again would repeat its
				// attempt number, which followup answers as a replay.
				if f.answered(fu.FollowUpID) {
					continue
				}
				f.Stats.Called.Add(1)
				reached := rng.Float64() < 0.75
				score := 0
				if reached {
					it, err := f.cfg.Casework.Work(ctx, fu.ComplaintID)
					if err != nil {
						f.fail("work state", err)
						continue
					}
					score = Satisfaction(rng, it, it.PendingRemedies == 0)
					f.Stats.Reached.Add(1)
					switch sat := f.cfg.Policy.FollowUp.Satisfaction; {
					case sat.Satisfied(score):
						f.Stats.Satisfied.Add(1)
					case sat.Dissatisfied(score):
						f.Stats.Dissatisfied.Add(1)
					}
				}
				// The caller counts its own attempts: the queue's count may lag,
				// and a repeated attempt number is taken for a replay.
				attempt := max(fu.Attempts, tried[fu.FollowUpID]) + 1
				got, err := f.cfg.FollowUps.Attempt(ctx, c, fu, attempt, reached, score, comment(score))
				if err != nil {
					f.fail("follow-up attempt", err)
					continue
				}
				tried[fu.FollowUpID] = max(got, attempt)
				if got != attempt {
					continue // a replay of an earlier attempt: nothing recorded now
				}
				if reached {
					f.mu.Lock()
					if f.answers == nil {
						f.answers = map[string]Answer{}
					}
					f.seq++
					f.answers[fu.FollowUpID] = Answer{ComplaintID: fu.ComplaintID, FollowUpID: fu.FollowUpID, Score: score, Seq: f.seq}
					f.mu.Unlock()
				}
			}
		}
	}
}

func comment(score int) string {
	switch {
	case score == 0:
		return ""
	case score >= 4:
		return "处理得挺快，满意"
	case score <= 2:
		return "来回折腾好几次，不满意"
	}
	return "还行吧"
}
