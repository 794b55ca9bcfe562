package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	"github.com/kesu315/kesu/services/kit/events"
	"github.com/kesu315/kesu/services/kit/eventstore"
)

// streamLog is what the services appended to COMPLAINTS, read straight from
// JetStream: the record every service writes and every projection folds, so
// the invariants check each service's API against it rather than against
// the service's own view.
type streamLog struct {
	js   jetstream.JetStream
	next uint64 // the next stream sequence to read

	// Complaints by id: the shop and the events in stream order.
	complaints map[string]*streamComplaint
	// Which complaints a contact landed on, by the contact's client request
	// id and by its external ref (source|external_id).
	byRequest, byExternal map[string]map[string]bool
	// Breach records per (deadline id, generation).
	breached, broken map[breachKey][]*complaintv1.Event
	// types counts the events by type, for the log.
	types map[string]int
}

type streamComplaint struct {
	id, shop string
	events   []*complaintv1.Event
}

type breachKey struct {
	deadline   string
	generation int64
}

func newStreamLog(js jetstream.JetStream) *streamLog {
	return &streamLog{js: js, next: 1, complaints: map[string]*streamComplaint{},
		byRequest: map[string]map[string]bool{}, byExternal: map[string]map[string]bool{},
		breached: map[breachKey][]*complaintv1.Event{}, broken: map[breachKey][]*complaintv1.Event{}, types: map[string]int{}}
}

// catchUp reads every event appended since the last call, up to the stream's
// last sequence as of now.
func (l *streamLog) catchUp(ctx context.Context) error {
	s, err := l.js.Stream(ctx, eventstore.StreamComplaints)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if last < l.next {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{eventstore.SubjectComplaints},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: l.next,
	})
	if err != nil {
		return err
	}
	for l.next <= last {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		n := 0
		pending := uint64(1)
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			rec, err := eventstore.RecordFromMsg(m)
			if err != nil {
				return err
			}
			ev, err := events.Decode(rec)
			if err != nil {
				return err
			}
			l.add(rec.ComplaintID, ev)
			l.next, pending = rec.StreamSeq+1, md.NumPending
			n++
		}
		if err := batch.Error(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("reading %s: no events after sequence %d, the stream's last is %d", eventstore.StreamComplaints, l.next-1, last)
		}
		// Every message of COMPLAINTS is a complaint event, but the filter
		// would skip anything else: nothing left for it is caught up too.
		if pending == 0 {
			break
		}
	}
	return nil
}

func (l *streamLog) add(id string, ev *complaintv1.Event) {
	c := l.complaints[id]
	if c == nil {
		c = &streamComplaint{id: id}
		l.complaints[id] = c
	}
	c.events = append(c.events, ev)
	l.types[events.TypeOf(ev)]++
	index := func(m map[string]map[string]bool, k string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][id] = true
	}
	extRef := func(r *complaintv1.ExternalRef) {
		if r.GetSource() != "" {
			index(l.byExternal, r.GetSource()+"|"+r.GetExternalId())
		}
	}
	switch p := ev.GetPayload().(type) {
	case *complaintv1.Event_ComplaintFiled:
		c.shop = ev.GetShopId()
		index(l.byRequest, p.ComplaintFiled.GetClientRequestId())
		extRef(p.ComplaintFiled.GetExternalRef())
	case *complaintv1.Event_ContactAdded:
		index(l.byRequest, p.ContactAdded.GetClientRequestId())
		extRef(p.ContactAdded.GetExternalRef())
	case *complaintv1.Event_DeadlineBreached:
		k := breachKey{p.DeadlineBreached.GetDeadlineId(), p.DeadlineBreached.GetGeneration()}
		l.breached[k] = append(l.breached[k], ev)
	case *complaintv1.Event_PromiseBroken:
		k := breachKey{p.PromiseBroken.GetDeadlineId(), p.PromiseBroken.GetGeneration()}
		l.broken[k] = append(l.broken[k], ev)
	}
}

// typeCounts lists the event types read, most frequent first.
func (l *streamLog) typeCounts() string {
	types := make([]string, 0, len(l.types))
	total := 0
	for k, n := range l.types {
		types = append(types, k)
		total += n
	}
	slices.SortFunc(types, func(a, b string) int { return l.types[b] - l.types[a] })
	out := make([]string, len(types))
	for i, k := range types {
		out[i] = fmt.Sprintf("%s %d", k, l.types[k])
	}
	return fmt.Sprintf("%d events: %s", total, strings.Join(out, ", "))
}

// status is the complaint's lifecycle status after its last lifecycle event.
func (c *streamComplaint) status() string {
	st := "open"
	for _, ev := range c.events {
		switch ev.GetPayload().(type) {
		case *complaintv1.Event_ComplaintResolved:
			st = "resolved"
		case *complaintv1.Event_ComplaintReopened:
			st = "open"
		case *complaintv1.Event_ComplaintClosed:
			st = "closed"
		}
	}
	return st
}

// satisfaction returns the complaint's SatisfactionRecorded events by
// follow-up id, in stream order.
func (c *streamComplaint) satisfaction() []*complaintv1.SatisfactionRecorded {
	var out []*complaintv1.SatisfactionRecorded
	for _, ev := range c.events {
		if s := ev.GetSatisfactionRecorded(); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// only returns the one complaint of a set, or an error naming them all.
func only(set map[string]bool) (string, error) {
	if len(set) != 1 {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		return "", fmt.Errorf("on %d complaints %v", len(set), ids)
	}
	for id := range set {
		return id, nil
	}
	return "", nil
}

// consumerLag lists every durable consumer of COMPLAINTS (one per
// projection) with the events it has not yet been delivered and those
// delivered but not acknowledged: where a lagging projection shows.
func consumerLag(ctx context.Context, js jetstream.JetStream) string {
	s, err := js.Stream(ctx, eventstore.StreamComplaints)
	if err != nil {
		return err.Error()
	}
	var out []string
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Config.Durable == "" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %d pending, %d unacked", ci.Name, ci.NumPending, ci.NumAckPending))
	}
	if err := l.Err(); err != nil {
		out = append(out, err.Error())
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}
