package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	alertsv1 "github.com/kesu315/kesu/proto/gen/go/kesu/alerts/v1"
	escalationv1 "github.com/kesu315/kesu/proto/gen/go/kesu/escalation/v1"
)

const escalationUsage = `usage:
  kesuctl alerts [--shop SHOP] [--kind at_risk,breached,escalated,major_arrived,spike,promise_broken] [--since 2027-03-15T00:00:00+08:00] [--lang en] [--json]
  kesuctl escalate clocks COMPLAINT_ID
  kesuctl escalate deadlines --shop SHOP [--due-before …] [--page-size 100]
  kesuctl escalate up   [--to supervisor|platform|pr] --reason … COMPLAINT_ID
  kesuctl escalate down [--to agent|supervisor|platform] --reason … COMPLAINT_ID
  kesuctl escalate recompute [--shop SHOP] [--dry-run] [--policy candidate.yaml]
(escalation at --escalation-addr, env KESU_ESCALATION_ADDR, default 127.0.0.1:7103; role defaults to supervisor)`

// escalationCmd runs `kesuctl alerts` (the war-room watch) and `kesuctl escalate SUB`.
func escalationCmd(ctx context.Context, cmd string, fs *flag.FlagSet, args []string, role *string, tier *int, sub *string) error {
	addr := fs.String("escalation-addr", envOr("KESU_ESCALATION_ADDR", "127.0.0.1:7103"), "escalation gRPC address")
	shop := fs.String("shop", "", "shop id")
	kinds := fs.String("kind", "", "alert kinds, comma-separated (default all)")
	since := fs.String("since", "", "replay alerts raised since (RFC 3339)")
	lang := fs.String("lang", "zh-CN", "language of the printout (zh-CN or en)")
	asJSON := fs.Bool("json", false, "print JSON")
	to := fs.String("to", "", "ladder level id")
	reason := fs.String("reason", "", "why the level changes")
	dueBefore := fs.String("due-before", "", "only clocks due before (RFC 3339)")
	pageSize := fs.Int("page-size", 100, "page size")
	dryRun := fs.Bool("dry-run", false, "show what would change, write nothing")
	policyFile := fs.String("policy", "", "a candidate policy file to dry-run")
	subcmd := "watch"
	if cmd == "escalate" {
		if len(args) == 0 {
			return errors.New(escalationUsage)
		}
		subcmd, args = args[0], args[1:]
	}
	if *role == "agent" {
		*role = "supervisor"
	}
	if err := fs.Parse(args); err != nil {
		return err
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
	client := escalationv1.NewEscalationServiceClient(conn)
	cctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	one := func() (string, error) {
		if fs.NArg() != 1 {
			return "", fmt.Errorf("%s needs one COMPLAINT_ID\n%s", subcmd, escalationUsage)
		}
		return fs.Arg(0), nil
	}
	ts := func(name, v string) (*timestamppb.Timestamp, error) {
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, fmt.Errorf("--%s: want RFC 3339, e.g. 2027-03-15T00:00:00+08:00", name)
		}
		return timestamppb.New(t), nil
	}
	switch subcmd {
	case "watch":
		req := &escalationv1.WatchAlertsRequest{ShopId: *shop}
		if req.Since, err = ts("since", *since); err != nil {
			return err
		}
		for _, k := range strings.Split(*kinds, ",") {
			if k = strings.TrimSpace(k); k == "" {
				continue
			}
			v, ok := alertsv1.AlertKind_value["ALERT_KIND_"+strings.ToUpper(k)]
			if !ok {
				return fmt.Errorf("--kind: unknown alert kind %q", k)
			}
			req.Kinds = append(req.Kinds, alertsv1.AlertKind(v))
		}
		stream, err := client.WatchAlerts(cctx, req)
		if err != nil {
			return err
		}
		for {
			m, err := stream.Recv()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if *asJSON {
				if err := printJSON(m); err != nil {
					return err
				}
				continue
			}
			printAlert(os.Stdout, m.GetAlert(), *lang)
		}
	case "clocks":
		id, err := one()
		if err != nil {
			return err
		}
		res, err := client.GetClocks(withTimeout(cctx), &escalationv1.GetClocksRequest{ComplaintId: id})
		if err != nil {
			return err
		}
		return printJSON(res)
	case "deadlines":
		req := &escalationv1.ListDeadlinesRequest{ShopId: *shop, PageSize: int32(*pageSize)}
		if req.DueBefore, err = ts("due-before", *dueBefore); err != nil {
			return err
		}
		res, err := client.ListDeadlines(withTimeout(cctx), req)
		if err != nil {
			return err
		}
		return printJSON(res)
	case "up", "down":
		id, err := one()
		if err != nil {
			return err
		}
		if subcmd == "up" {
			res, err := client.Escalate(withTimeout(cctx), &escalationv1.EscalateRequest{ComplaintId: id, ToLevel: *to, Reason: *reason})
			if err != nil {
				return err
			}
			return printJSON(res)
		}
		res, err := client.Deescalate(withTimeout(cctx), &escalationv1.DeescalateRequest{ComplaintId: id, ToLevel: *to, Reason: *reason})
		if err != nil {
			return err
		}
		return printJSON(res)
	case "recompute":
		req := &escalationv1.RecomputeRequest{ShopId: *shop, DryRun: *dryRun}
		if *policyFile != "" {
			b, err := os.ReadFile(*policyFile)
			if err != nil {
				return err
			}
			req.PolicyYaml = string(b)
		}
		res, err := client.Recompute(withTimeout(cctx), req)
		if err != nil {
			return err
		}
		return printJSON(res)
	}
	return fmt.Errorf("unknown subcommand %q\n%s", subcmd, escalationUsage)
}

func withTimeout(ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(ctx, 5*time.Minute)
	context.AfterFunc(c, cancel)
	return c
}

// printAlert prints one alert as a war-room line: time, kind, shop, complaint, summary.
func printAlert(w io.Writer, a *alertsv1.Alert, lang string) {
	summary := a.GetSummaryZh()
	if lang == "en" || strings.HasPrefix(lang, "en-") {
		summary = a.GetSummaryEn()
	}
	kind := strings.ToLower(strings.TrimPrefix(a.GetKind().String(), "ALERT_KIND_"))
	complaint := a.GetComplaintId()
	if complaint == "" {
		complaint = "-"
	}
	fmt.Fprintf(w, "%s  %-14s %-14s %s  %s\n", a.GetRaisedAt().AsTime().Local().Format("2006-01-02 15:04:05"), kind, a.GetShopId(), complaint, summary)
}
