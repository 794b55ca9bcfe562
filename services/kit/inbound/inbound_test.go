package inbound

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigNamesEveryProblem(t *testing.T) {
	_, err := New(nil, nil, Config{FilterSubject: "inbound.surveys", DeadLetterPrefix: "x", Concurrency: -1})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Durable", "FilterSubject", "DeadLetterPrefix", "Metrics", "Concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestSourceOf(t *testing.T) {
	var js jetstream.JetStream // never contacted before Run
	_, err := New(js, func(context.Context, Message) (string, error) { return "", nil }, Config{
		Durable: "d", FilterSubject: "inbound.surveys.>", DeadLetterPrefix: "deadletter.surveys.", Metrics: "m"})
	if err == nil {
		t.Fatal("nil js accepted")
	}
	c := &Consumer{prefix: "inbound.surveys."}
	for subject, want := range map[string]string{
		"inbound.surveys.tmall":    "tmall",
		"inbound.surveys.tmall.v2": "",
		"inbound.surveys.":         "",
		"inbound.complaints.tmall": "",
	} {
		if got := c.SourceOf(subject); got != want {
			t.Errorf("SourceOf(%q) = %q, want %q", subject, got, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := nats.Header{"content-type": {"application/protobuf"}}
	if got := Header(h, "Content-Type"); got != "application/protobuf" {
		t.Errorf("Header = %q", got)
	}
	long := strings.Repeat("坏", 2000) + "\n\xff"
	v := HeaderValue(long)
	if len(v) > maxReasonLen+len("…") || strings.ContainsAny(v, "\r\n") || !strings.HasSuffix(v, "…") {
		t.Errorf("HeaderValue: %d bytes %q…", len(v), v[:10])
	}
	rej := Rejectf(ClassValidation, []string{"survey_id"}, "survey_id: %s", "required")
	if rej.Error() != "validation: survey_id: required" {
		t.Errorf("Reject = %q", rej.Error())
	}
}
