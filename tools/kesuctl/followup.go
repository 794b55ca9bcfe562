package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	followupv1 "github.com/kesu315/kesu/proto/gen/go/kesu/followup/v1"
)

const followupUsage = `usage:
  kesuctl sweep --shop SHOP --season 2027 [--json] [--lang en]
  kesuctl followup queue --shop SHOP [--due-before 2027-03-20T18:00:00+08:00] [--page-size 50]
  kesuctl followup get COMPLAINT_ID
  kesuctl followup attempt --follow-up ID --outcome reached|no_answer|refused [--score 1-5 --comment … --kept|--returned] COMPLAINT_ID
  kesuctl followup answer --survey-source S --survey-id ID --score 1-5 [--comment …] COMPLAINT_ID
  kesuctl followup reopen --reason … COMPLAINT_ID
  kesuctl followup close --note … COMPLAINT_ID
  kesuctl followup retention --shop SHOP [--season 2027]
(followup at --followup-addr, env KESU_FOLLOWUP_ADDR, default 127.0.0.1:7104)`

// followupCmd runs `kesuctl sweep` and `kesuctl followup SUB`.
func followupCmd(ctx context.Context, cmd string, fs *flag.FlagSet, args []string, role *string, tier *int, sub *string) error {
	addr := fs.String("followup-addr", envOr("KESU_FOLLOWUP_ADDR", "127.0.0.1:7104"), "followup gRPC address")
	shop := fs.String("shop", "demo-flagship", "shop id")
	season := fs.Int("season", 0, "season year, e.g. 2027")
	asJSON := fs.Bool("json", false, "print the response as JSON")
	lang := fs.String("lang", "zh-CN", "language of the printout (zh-CN or en)")
	dueBefore := fs.String("due-before", "", "only follow-ups due by then (RFC 3339)")
	pageSize := fs.Int("page-size", 50, "page size")
	pageToken := fs.String("page-token", "", "page token from the last page")
	fid := fs.String("follow-up", "", "follow-up id (from the queue)")
	outcome := fs.String("outcome", "", "reached, no_answer or refused")
	score := fs.Int("score", 0, "satisfaction score 1..5")
	satisfaction := fs.String("satisfaction", "", "satisfied, neutral or dissatisfied (default: from the score)")
	comment := fs.String("comment", "", "the customer's comment")
	kept := fs.Bool("kept", false, "a return / refund customer kept the item")
	returned := fs.Bool("returned", false, "a return / refund customer returned the item")
	surveySource := fs.String("survey-source", "kesuctl", "survey source system")
	surveyID := fs.String("survey-id", "", "survey id in its source (idempotency key)")
	reason := fs.String("reason", "", "why (reopen)")
	note := fs.String("note", "", "why (close)")
	subcmd := "sweep"
	if cmd == "followup" {
		if len(args) == 0 {
			return fmt.Errorf("%s", followupUsage)
		}
		subcmd, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *role == "agent" && (subcmd == "sweep" || subcmd == "retention" || subcmd == "reopen" || subcmd == "close") {
		*role = "supervisor" // what these need; --role still overrides
	}
	tok, err := token(*role, *tier, *sub)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cctx = metadata.AppendToOutgoingContext(cctx, "authorization", "Bearer "+tok)
	client := followupv1.NewFollowUpServiceClient(conn)
	complaint := func() (string, error) {
		if fs.NArg() != 1 {
			return "", fmt.Errorf("followup %s needs one COMPLAINT_ID", subcmd)
		}
		return fs.Arg(0), nil
	}
	answer := func() (*followupv1.Answer, error) {
		a := &followupv1.Answer{Score: int32(*score), Comment: *comment}
		if *satisfaction != "" {
			v, ok := complaintv1.Satisfaction_value["SATISFACTION_"+strings.ToUpper(*satisfaction)]
			if !ok {
				return nil, fmt.Errorf("--satisfaction %q: satisfied, neutral or dissatisfied", *satisfaction)
			}
			a.Satisfaction = complaintv1.Satisfaction(v)
		}
		switch {
		case *kept && *returned:
			return nil, fmt.Errorf("--kept and --returned exclude each other")
		case *kept:
			a.Retention = complaintv1.Retention_RETENTION_KEPT
		case *returned:
			a.Retention = complaintv1.Retention_RETENTION_RETURNED
		}
		return a, nil
	}
	var res proto.Message
	switch subcmd {
	case "sweep":
		if *season == 0 {
			return fmt.Errorf("sweep needs --season (e.g. 2027)")
		}
		sw, err := client.Sweep(cctx, &followupv1.SweepRequest{ShopId: *shop, Season: int32(*season)})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(sw)
		}
		return printSweep(os.Stdout, sw, *lang)
	case "queue":
		req := &followupv1.FollowUpQueueRequest{ShopId: *shop, PageSize: int32(*pageSize), PageToken: *pageToken}
		if *dueBefore != "" {
			t, err := time.Parse(time.RFC3339, *dueBefore)
			if err != nil {
				return fmt.Errorf("--due-before: %w", err)
			}
			req.DueBefore = timestamppb.New(t)
		}
		res, err = client.FollowUpQueue(cctx, req)
	case "get":
		id, err := complaint()
		if err != nil {
			return err
		}
		res, err = client.GetFollowUp(cctx, &followupv1.GetFollowUpRequest{ComplaintId: id})
		if err != nil {
			return err
		}
	case "attempt":
		id, err := complaint()
		if err != nil {
			return err
		}
		o, ok := complaintv1.FollowUpOutcome_value["FOLLOW_UP_OUTCOME_"+strings.ToUpper(*outcome)]
		if !ok || o == 0 {
			return fmt.Errorf("--outcome %q: reached, no_answer or refused", *outcome)
		}
		req := &followupv1.RecordAttemptRequest{ComplaintId: id, FollowUpId: *fid, Outcome: complaintv1.FollowUpOutcome(o)}
		if *score != 0 || *satisfaction != "" {
			if req.Answer, err = answer(); err != nil {
				return err
			}
		}
		res, err = client.RecordAttempt(cctx, req)
		if err != nil {
			return err
		}
	case "answer":
		id, err := complaint()
		if err != nil {
			return err
		}
		a, err := answer()
		if err != nil {
			return err
		}
		res, err = client.RecordSatisfaction(cctx, &followupv1.RecordSatisfactionRequest{ComplaintId: id, Answer: a,
			Survey: &complaintv1.ExternalRef{Source: *surveySource, ExternalId: *surveyID}})
		if err != nil {
			return err
		}
	case "reopen":
		id, err := complaint()
		if err != nil {
			return err
		}
		res, err = client.Reopen(cctx, &followupv1.ReopenRequest{ComplaintId: id, Reason: *reason})
		if err != nil {
			return err
		}
	case "close":
		id, err := complaint()
		if err != nil {
			return err
		}
		res, err = client.Close(cctx, &followupv1.CloseRequest{ComplaintId: id, Note: *note})
		if err != nil {
			return err
		}
	case "retention":
		res, err = client.Retention(cctx, &followupv1.RetentionRequest{ShopId: *shop, Season: int32(*season)})
	default:
		return fmt.Errorf("unknown followup command %q\n%s", subcmd, followupUsage)
	}
	if err != nil {
		return err
	}
	return printJSON(res)
}

var levelNames = map[complaintv1.EscalationLevel][2]string{
	complaintv1.EscalationLevel_ESCALATION_LEVEL_UNSPECIFIED: {"一线", "agent"},
	complaintv1.EscalationLevel_ESCALATION_LEVEL_AGENT:       {"一线", "agent"},
	complaintv1.EscalationLevel_ESCALATION_LEVEL_SUPERVISOR:  {"主管", "supervisor"},
	complaintv1.EscalationLevel_ESCALATION_LEVEL_PLATFORM:    {"平台介入", "platform"},
	complaintv1.EscalationLevel_ESCALATION_LEVEL_PR:          {"危机公关", "PR"},
}

var stageNames = map[string][2]string{
	"open":                      {"未解决", "open"},
	"resolved_no_follow_up":     {"已解决·未排回访", "resolved, no follow-up yet"},
	"follow_up_pending":         {"待回访", "follow-up pending"},
	"follow_up_exhausted":       {"回访未接通·待结案", "no answer, closing"},
	"follow_up_done_not_closed": {"已回访·未结案", "followed up, not closed"},
}

// printSweep prints the sweep grouped by escalation level and owner, oldest
// complaints first, in zh-CN (default) or en.
func printSweep(w io.Writer, sw *followupv1.SweepResponse, lang string) error {
	en := strings.HasPrefix(strings.ToLower(lang), "en")
	pick := func(p [2]string) string {
		if en {
			return p[1]
		}
		return p[0]
	}
	days := float64(sw.GetSecondsToEnd()) / 86400
	end := sw.GetAftermathEnd().AsTime().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04")
	if en {
		fmt.Fprintf(w, "Aftermath sweep %s, season %d: %d not closed; aftermath ends %s (%.1f days)\n", sw.GetShopId(), sw.GetSeason(), sw.GetTotal(), end, days)
	} else {
		fmt.Fprintf(w, "善后清零 %s %d 季：%d 件未结案；善后阶段截止 %s（剩 %.1f 天）\n", sw.GetShopId(), sw.GetSeason(), sw.GetTotal(), end, days)
	}
	if sw.GetEndNear() {
		fmt.Fprintln(w, pick([2]string{"⚠ 即将截止，请尽快结案", "⚠ the end is near: close these now"}))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, g := range sw.GetGroups() {
		owner := g.GetOwner()
		if owner == "" {
			owner = pick([2]string{"（无人负责）", "(nobody)"})
		}
		fmt.Fprintf(tw, "\n[%s] %s\t%d\t%s %s\n", pick(levelNames[g.GetLevel()]), owner, len(g.GetItems()),
			pick([2]string{"最久", "oldest"}), age(g.GetOldestAgeSeconds(), en))
		for _, it := range g.GetItems() {
			st := stageNames[it.GetStage()]
			if st[0] == "" {
				st = [2]string{it.GetStage(), it.GetStage()}
			}
			sev := strings.ToLower(strings.TrimPrefix(it.GetSeverity().String(), "SEVERITY_"))
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", it.GetComplaintId(), pick(st), sev, it.GetCategory(), age(it.GetAgeSeconds(), en))
		}
	}
	return tw.Flush()
}

func age(sec int64, en bool) string {
	d, h := sec/86400, (sec%86400)/3600
	if en {
		return fmt.Sprintf("%dd%dh", d, h)
	}
	return fmt.Sprintf("%d天%d小时", d, h)
}
