package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	routingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/routing/v1"
)

const routingUsage = `usage: kesuctl work SUBCOMMAND [flags] [COMPLAINT_ID]
  queues                          every queue at a glance (depth, waiting, oldest, at risk, agents online)
  queue --queue Q [--unassigned]  a queue's complaints, most urgent first
  mine [--agent A]                the open complaints an agent holds
  show ID                         one complaint's work state
  online|away|offline [--agent A] set presence
  agents [--queue Q]              the roster with loads
  claim ID [--agent A]            take a complaint (a supervisor assigns it to A)
  release ID [--reason R]
  transfer ID --to-agent A | --to-queue Q --reason R
  respond ID
  promise ID --text T --within 10m
  propose ID --kind refund --fen 5000 [--note N]
  approve ID --remedy R | reject ID --remedy R --reason R
  resolve ID --outcome explained|remedy_granted|claim_rejected|withdrawn [--remedy R] [--retention kept|returned] [--summary S]
The token is --role/--tier/--sub (default: agent tier 2 "kesuctl"); routing at KESU_ROUTING_ADDR (127.0.0.1:7102).`

// enumValue looks up NAME in an enum's value map by its lower-case suffix.
func enumValue(values map[string]int32, prefix, s string) (int32, error) {
	if s == "" {
		return 0, nil
	}
	v, ok := values[prefix+strings.ToUpper(s)]
	if !ok {
		return 0, fmt.Errorf("unknown value %q", s)
	}
	return v, nil
}

func routingCmd(ctx context.Context, fs *flag.FlagSet, args []string, role *string, tier *int, sub *string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", routingUsage)
	}
	subcmd, args := args[0], args[1:]
	addr := fs.String("routing-addr", envOr("KESU_ROUTING_ADDR", "127.0.0.1:7102"), "routing gRPC address")
	queue := fs.String("queue", "", "queue id")
	unassigned := fs.Bool("unassigned", false, "only complaints no agent holds")
	agent := fs.String("agent", "", "agent id (default: the token's subject)")
	reason := fs.String("reason", "", "why")
	toAgent := fs.String("to-agent", "", "transfer to this agent")
	toQueue := fs.String("to-queue", "", "transfer to this queue")
	text := fs.String("text", "", "what is promised")
	within := fs.Duration("within", 10*time.Minute, "promise due within")
	kind := fs.String("kind", "", "remedy: refund, exchange, return, compensation, apology, repair, refund_triple, refund_tenfold, other")
	fen := fs.Int64("fen", 0, "amount in fen")
	note := fs.String("note", "", "note")
	remedy := fs.String("remedy", "", "remedy id")
	outcome := fs.String("outcome", "", "resolution outcome")
	retention := fs.String("retention", "", "kept, returned or not_applicable")
	summary := fs.String("summary", "", "resolution summary")
	pageSize := fs.Int("page-size", 50, "page size")
	pageToken := fs.String("page-token", "", "page token from the last page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id := fs.Arg(0)
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
	c := routingv1.NewRoutingServiceClient(conn)
	needID := func() error {
		if id == "" {
			return fmt.Errorf("%s needs a COMPLAINT_ID", subcmd)
		}
		return nil
	}
	var res proto.Message
	switch subcmd {
	case "queues":
		res, err = c.QueueOverview(cctx, &routingv1.QueueOverviewRequest{})
	case "queue":
		res, err = c.ListQueue(cctx, &routingv1.ListQueueRequest{Queue: *queue, UnassignedOnly: *unassigned, PageSize: int32(*pageSize), PageToken: *pageToken})
	case "mine":
		res, err = c.MyWork(cctx, &routingv1.MyWorkRequest{AgentId: *agent, PageSize: int32(*pageSize), PageToken: *pageToken})
	case "agents":
		res, err = c.ListAgents(cctx, &routingv1.ListAgentsRequest{Queue: *queue})
	case "online", "away", "offline":
		p := routingv1.Presence(routingv1.Presence_value["PRESENCE_"+strings.ToUpper(subcmd)])
		res, err = c.SetPresence(cctx, &routingv1.SetPresenceRequest{AgentId: *agent, Presence: p})
	default:
		if err := needID(); err != nil {
			return err
		}
		switch subcmd {
		case "show":
			res, err = c.GetWork(cctx, &routingv1.GetWorkRequest{ComplaintId: id})
		case "claim":
			res, err = c.Claim(cctx, &routingv1.ClaimRequest{ComplaintId: id, AgentId: *agent})
		case "release":
			res, err = c.Release(cctx, &routingv1.ReleaseRequest{ComplaintId: id, Reason: *reason})
		case "transfer":
			res, err = c.Transfer(cctx, &routingv1.TransferRequest{ComplaintId: id, ToAgentId: *toAgent, ToQueue: *toQueue, Reason: *reason})
		case "respond":
			res, err = c.Respond(cctx, &routingv1.RespondRequest{ComplaintId: id})
		case "promise":
			res, err = c.MakePromise(cctx, &routingv1.MakePromiseRequest{ComplaintId: id, Description: *text, Within: durationpb.New(*within)})
		case "propose":
			k, kerr := enumValue(complaintv1.RemedyKind_value, "REMEDY_KIND_", *kind)
			if kerr != nil {
				return fmt.Errorf("--kind: %w", kerr)
			}
			res, err = c.ProposeRemedy(cctx, &routingv1.ProposeRemedyRequest{ComplaintId: id, Kind: complaintv1.RemedyKind(k), AmountFen: *fen, Note: *note})
		case "approve":
			res, err = c.ApproveRemedy(cctx, &routingv1.ApproveRemedyRequest{ComplaintId: id, RemedyId: *remedy})
		case "reject":
			res, err = c.RejectRemedy(cctx, &routingv1.RejectRemedyRequest{ComplaintId: id, RemedyId: *remedy, Reason: *reason})
		case "resolve":
			o, oerr := enumValue(complaintv1.ResolutionOutcome_value, "RESOLUTION_OUTCOME_", *outcome)
			r, rerr := enumValue(complaintv1.Retention_value, "RETENTION_", *retention)
			if oerr != nil || rerr != nil {
				return fmt.Errorf("--outcome / --retention: %v %v", oerr, rerr)
			}
			res, err = c.Resolve(cctx, &routingv1.ResolveRequest{ComplaintId: id, Outcome: complaintv1.ResolutionOutcome(o), RemedyId: *remedy,
				Summary: *summary, Retention: complaintv1.Retention(r)})
		default:
			return fmt.Errorf("unknown work subcommand %q\n%s", subcmd, routingUsage)
		}
	}
	if err != nil {
		return err
	}
	return printJSON(res)
}
