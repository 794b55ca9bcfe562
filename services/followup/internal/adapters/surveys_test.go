package adapters_test

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/inbound"
)

func (r *rig) publish(subject, contentType string, data []byte) {
	r.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = data
	if contentType != "" {
		m.Header.Set("Content-Type", contentType)
	}
	if _, err := r.js.PublishMsg(r.ctx, m); err != nil {
		r.t.Fatal(err)
	}
}

func jsonMsg(t testing.TB, v map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deadLetters returns the dead letters parked so far, by their class header.
func (r *rig) deadLetters(want int) []*nats.Msg {
	r.t.Helper()
	var out []*nats.Msg
	r.eventually("dead letters", func() (bool, error) {
		s, err := r.js.Stream(r.ctx, eventstore.StreamDeadLetter)
		if err != nil {
			return false, err
		}
		info, err := s.Info(r.ctx)
		if err != nil {
			return false, err
		}
		if int(info.State.Msgs) < want {
			return false, nil
		}
		out = out[:0]
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(r.ctx, seq)
			if err != nil {
				return false, err
			}
			out = append(out, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		}
		return true, nil
	})
	return out
}

func TestInboundSurveys(t *testing.T) {
	r := newRig(t, battle)
	byRef := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-1", true)
	byID := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-2", true)
	dissatisfied := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-3", true)
	open := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-4", false)
	r.settle()

	good := jsonMsg(t, map[string]any{"survey_id": "SV-1", "complaint_ref": map[string]any{"source": "tmall", "external_id": "TM-" + byRef},
		"score": 5, "comment": "满意", "channel": "CHANNEL_ONLINE_CHAT", "retention": "RETENTION_KEPT", "answered_at": "2027-03-16T09:00:00+08:00"})
	r.publish("inbound.surveys.tmall", "application/json", good)
	pb, err := proto.Marshal(&followupv1.InboundSurvey{SurveyId: "SV-2", ComplaintId: byID, Satisfaction: complaintv1.Satisfaction_SATISFACTION_SATISFIED})
	if err != nil {
		t.Fatal(err)
	}
	r.publish("inbound.surveys.jd", "application/protobuf", pb)
	r.publish("inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-3", "complaint_id": dissatisfied, "score": 1}))
	r.eventually("surveys recorded", func() (bool, error) {
		return r.count(byRef, "ComplaintClosed") == 1 && r.count(byID, "ComplaintClosed") == 1 && r.count(dissatisfied, "ComplaintReopened") == 1, nil
	})
	sr := r.last(byRef, "SatisfactionRecorded").GetSatisfactionRecorded()
	if sr.GetSurvey().GetSource() != "tmall" || sr.GetSurvey().GetExternalId() != "SV-1" || sr.GetScore() != 5 ||
		sr.GetChannel() != complaintv1.Channel_CHANNEL_ONLINE_CHAT || sr.GetRetention() != complaintv1.Retention_RETENTION_KEPT {
		t.Fatalf("recorded %v", sr)
	}
	if got := r.last(byRef, "SatisfactionRecorded").GetOccurredAt().AsTime(); !got.Equal(battle.Add(23 * 60 * 60e9)) {
		t.Errorf("occurred_at %s, want the answer time", got)
	}

	// The same survey again (a redelivery, a publisher retry): nothing new.
	r.publish("inbound.surveys.tmall", "application/json", good)
	// Bad messages are dead-lettered with the reason; the good one behind them still goes through.
	bad := []struct {
		subject, contentType string
		data                 []byte
		class                string
	}{
		{"inbound.surveys.tmall", "", []byte(`{"survey_id": "SV-9",`), inbound.ClassDecode},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-10", "complaint_id": byID, "scroe": 5}), inbound.ClassDecode},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"complaint_id": byID, "score": 5}), inbound.ClassValidation},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-11", "complaint_id": byID, "score": 7}), inbound.ClassValidation},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-12", "complaint_ref": map[string]any{"source": "tmall", "external_id": "nope"}, "score": 5}), inbound.ClassRejected},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-13", "complaint_id": open, "score": 5}), inbound.ClassRejected},
		{"inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-1", "complaint_id": byRef, "score": 2}), inbound.ClassReused},
		{"inbound.surveys.tmall.v2", "", good, inbound.ClassValidation},
	}
	for _, b := range bad {
		r.publish(b.subject, b.contentType, b.data)
	}
	late := r.complaint(complaintv1.Severity_SEVERITY_NORMAL, "agent-5", true)
	r.settle()
	r.publish("inbound.surveys.tmall", "", jsonMsg(t, map[string]any{"survey_id": "SV-20", "complaint_id": late, "score": 4}))
	r.eventually("the survey behind the bad ones", func() (bool, error) { return r.count(late, "ComplaintClosed") == 1, nil })

	dls := r.deadLetters(len(bad))
	if len(dls) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dls), len(bad))
	}
	classes := map[string]int{}
	for _, m := range dls {
		classes[m.Header.Get(inbound.HeaderDLQClass)]++
		if m.Header.Get(inbound.HeaderDLQReason) == "" || m.Header.Get(inbound.HeaderDLQConsumer) != "followup-surveys" {
			t.Errorf("dead letter headers %v", m.Header)
		}
	}
	want := map[string]int{}
	for _, b := range bad {
		want[b.class]++
	}
	for k, v := range want {
		if classes[k] != v {
			t.Errorf("class %s: %d dead letters, want %d (all: %v)", k, classes[k], v, classes)
		}
	}
	if n := r.count(byRef, "SatisfactionRecorded"); n != 1 {
		t.Fatalf("%d SatisfactionRecorded after the repeat", n)
	}
	// The survey subjects are INBOUND's, and intake's filter does not see them.
	s, err := r.js.Stream(r.ctx, eventstore.StreamInbound)
	if err != nil {
		t.Fatal(err)
	}
	if subj := s.CachedInfo().Config.Subjects; len(subj) != 2 || subj[0] != eventstore.SubjectInbound || subj[1] != eventstore.SubjectInboundSurveys {
		t.Fatalf("INBOUND subjects %v", subj)
	}
	cons, err := r.js.CreateOrUpdateConsumer(r.ctx, eventstore.StreamInbound, jetstream.ConsumerConfig{Durable: "intake-like", FilterSubject: eventstore.SubjectInbound, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := cons.Info(r.ctx); err != nil || info.NumPending != 0 {
		t.Fatalf("intake's filter sees %v surveys (%v)", info.NumPending, err)
	}
}
