package adapters

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
	"github.com/kesu315/kesu/services/followup/internal/app"
	"github.com/kesu315/kesu/services/followup/internal/domain"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/inbound"
)

// SurveysConsumer is the durable consumer followup reads survey results with.
const SurveysConsumer = "followup-surveys"

// SurveysDeadLetterPrefix + source is where bad survey messages go.
const SurveysDeadLetterPrefix = "deadletter.surveys."

// SurveyRecorder records a survey answer (app.Service).
type SurveyRecorder interface {
	RecordSatisfaction(ctx context.Context, cmd *app.SatisfactionCmd) (app.AttemptResult, error)
	ComplaintByRef(ctx context.Context, ref *complaintv1.ExternalRef) (string, error)
}

// NewSurveys returns the consumer of inbound.surveys.<source>.
func NewSurveys(js jetstream.JetStream, rec SurveyRecorder, cfg inbound.Config) (*inbound.Consumer, error) {
	cfg.Durable = SurveysConsumer
	cfg.Description = "followup: satisfaction survey results other systems publish (docs/followup.md)"
	cfg.FilterSubject = eventstore.SubjectInboundSurveys
	cfg.DeadLetterPrefix = SurveysDeadLetterPrefix
	cfg.Metrics = "kesu.inbound.surveys"
	return inbound.New(js, func(ctx context.Context, m inbound.Message) (string, error) {
		return handleSurvey(ctx, rec, m.Source, inbound.Header(m.Msg.Headers(), "Content-Type"), m.Msg.Data(), m.Msg.Headers().Get(jetstream.MsgIDHeader))
	}, cfg)
}

// DecodeSurvey reads a survey message: protobuf when the content type says
// so, JSON (the default) otherwise. Unknown JSON fields are refused, so a
// misspelt field is reported instead of silently dropped.
func DecodeSurvey(contentType string, data []byte) (*followupv1.InboundSurvey, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	msg := &followupv1.InboundSurvey{}
	if len(data) == 0 {
		return nil, inbound.Rejectf(inbound.ClassDecode, nil, "empty message")
	}
	switch strings.ToLower(mt) {
	case "application/protobuf", "application/x-protobuf", "application/vnd.google.protobuf":
		if err := proto.Unmarshal(data, msg); err != nil {
			return nil, inbound.Rejectf(inbound.ClassDecode, nil, "not a kesu.followup.v1.InboundSurvey: %v", err)
		}
	default:
		if !utf8.Valid(data) {
			return nil, inbound.Rejectf(inbound.ClassDecode, nil, "JSON is not valid UTF-8")
		}
		if err := protojson.Unmarshal(data, msg); err != nil {
			return nil, inbound.Rejectf(inbound.ClassDecode, nil, "JSON does not match docs/inbound-survey.schema.json: %v", err)
		}
	}
	return msg, nil
}

// SurveyCommand turns a decoded survey into the command (without the
// complaint id when only a ref names it).
func SurveyCommand(source string, s *followupv1.InboundSurvey) *app.SatisfactionCmd {
	cmd := &app.SatisfactionCmd{ComplaintID: s.GetComplaintId(), Satisfaction: domain.Satisfaction{
		Survey: &complaintv1.ExternalRef{Source: source, ExternalId: s.GetSurveyId()},
		Answer: &domain.Answer{Satisfaction: s.GetSatisfaction(), Score: int(s.GetScore()), Comment: s.GetComment(),
			Retention: s.GetRetention()},
		Channel: s.GetChannel(),
	}}
	if s.GetAnsweredAt() != nil && s.GetAnsweredAt().CheckValid() == nil {
		cmd.OccurredAt = s.GetAnsweredAt().AsTime()
	}
	return cmd
}

func handleSurvey(ctx context.Context, rec SurveyRecorder, source, contentType string, data []byte, msgID string) (string, error) {
	s, err := DecodeSurvey(contentType, data)
	if err != nil {
		return "", err
	}
	var fields []string
	if s.GetSurveyId() == "" {
		fields = append(fields, "survey_id")
	}
	if s.GetComplaintId() == "" && s.GetComplaintRef().GetExternalId() == "" {
		fields = append(fields, "complaint_id")
	}
	if s.GetAnsweredAt() != nil && s.GetAnsweredAt().CheckValid() != nil {
		fields = append(fields, "answered_at")
	}
	if len(fields) > 0 {
		return "", inbound.Rejectf(inbound.ClassValidation, fields, "%s: required (complaint_id or complaint_ref.source + external_id names the complaint); answered_at must be a valid time", strings.Join(fields, ", "))
	}
	cmd := SurveyCommand(source, s)
	cmd.Correlation = msgID
	if cmd.ComplaintID == "" {
		id, err := rec.ComplaintByRef(ctx, s.GetComplaintRef())
		if errors.Is(err, domain.ErrNotFound) {
			return "", inbound.Rejectf(inbound.ClassRejected, []string{"complaint_ref"}, "complaint_ref: no complaint is known as %s/%s", s.GetComplaintRef().GetSource(), s.GetComplaintRef().GetExternalId())
		}
		if err != nil {
			return "", err
		}
		cmd.ComplaintID = id
	}
	ctx = auth.WithIdentity(ctx, auth.Identity{Subject: "inbound:" + source, Role: auth.RoleIntegration})
	res, err := rec.RecordSatisfaction(ctx, cmd)
	var ve *domain.ValidationError
	switch {
	case err == nil:
		if res.Created {
			return "created", nil
		}
		return "repeat", nil
	case errors.As(err, &ve):
		var fs []string
		for _, v := range ve.Violations {
			f := strings.TrimPrefix(v.Field, "answer.")
			if f == "survey.external_id" {
				f = "survey_id"
			}
			fs = append(fs, f)
		}
		return "", inbound.Rejectf(inbound.ClassValidation, fs, "%s", ve.Error())
	case errors.Is(err, domain.ErrNotFound):
		return "", inbound.Rejectf(inbound.ClassRejected, []string{"complaint_id"}, "complaint_id: no such complaint")
	case errors.Is(err, domain.ErrNotResolved):
		return "", inbound.Rejectf(inbound.ClassRejected, []string{"complaint_id"}, "complaint_id: %v", err)
	case errors.Is(err, domain.ErrSurveyReused):
		return "", inbound.Rejectf(inbound.ClassReused, []string{"survey_id"}, "survey_id: already recorded with a different answer; publish a change as a new survey_id")
	}
	return "", fmt.Errorf("record survey: %w", err)
}
