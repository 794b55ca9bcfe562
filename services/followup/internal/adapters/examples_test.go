package adapters_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/adapters"
)

// The documented examples decode, and the schema names every field the
// message has: docs and decoder cannot drift apart unnoticed.
func TestDocumentedSurveyExamples(t *testing.T) {
	files, err := filepath.Glob("../../../../docs/examples/surveys/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := adapters.DecodeSurvey("application/json", b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if s.GetSurveyId() == "" || (s.GetComplaintId() == "" && s.GetComplaintRef() == nil) {
			t.Errorf("%s: incomplete: %v", f, s)
		}
	}
	b, err := os.ReadFile("../../../../docs/inbound-survey.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	fields := (&adaptersSurvey{}).fields()
	for _, name := range fields {
		if _, ok := schema.Properties[name]; !ok {
			t.Errorf("schema lacks %s", name)
		}
	}
	if len(schema.Properties) != len(fields) {
		t.Errorf("schema has %d properties, the message %d", len(schema.Properties), len(fields))
	}
}

type adaptersSurvey struct{}

func (adaptersSurvey) fields() []string {
	md := (&followupv1.InboundSurvey{}).ProtoReflect().Descriptor().Fields()
	out := make([]string, md.Len())
	for i := range md.Len() {
		out[i] = string(md.Get(i).Name())
	}
	return out
}
