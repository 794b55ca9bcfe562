// Command kesuctl is the command line of Kesu for operators and developers:
// mint a dev token, file a complaint, read it back and its timeline.
//
//	kesuctl token [--role agent --tier 2 --sub alice]
//	kesuctl file --shop demo-flagship --phone 13800001234 --text '收到的面霜过期了' [--channel online_chat]
//	kesuctl get COMPLAINT_ID
//	kesuctl timeline [--lang en] COMPLAINT_ID
//	kesuctl streams [--replicas 3 --max-bytes 10GiB --nats-url nats://… --creds …]
//
// It talks to intake at KESU_INTAKE_ADDR (default 127.0.0.1:7101) and signs its
// token with KESU_AUTH_HMAC_KEY, or the dev key devstack keeps in .data/dev.env.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	complaintv1 "github.com/kesu315/kesu/proto/gen/go/kesu/complaint/v1"
	intakev1 "github.com/kesu315/kesu/proto/gen/go/kesu/intake/v1"
	"github.com/kesu315/kesu/services/kit/auth"
	"github.com/kesu315/kesu/services/kit/grpcerr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kesuctl:", err)
		for _, v := range grpcerr.FieldViolations(err) {
			fmt.Fprintf(os.Stderr, "  %s: %s\n", v.Field, v.Description)
		}
		os.Exit(1)
	}
}

const usage = `usage: kesuctl COMMAND [flags]
  token     print a dev bearer token
  file      file a complaint
  get       show a complaint (from the intake projection)
  timeline  show a complaint's events (from its stream)
  streams   create or update the JetStream streams (the chart's stream-setup job)
  simulate  play a seeded 315 season into Kesu, or push load (--load --rate R --duration D)
  sweep     list a season's complaints not closed yet, by owner and level; followup …: follow-up work (see kesuctl followup)
  work      queues and casework: queues, queue, mine, claim, respond, resolve… (see kesuctl work)
  alerts    watch the war-room alerts live; escalate …: clocks, deadlines, manual escalation, recompute (see kesuctl escalate)
  report    write the season report: --season 2027 --shop … --format html|xlsx|csv|json --lang zh-CN|en -o FILE`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	addr := fs.String("addr", envOr("KESU_INTAKE_ADDR", "127.0.0.1:7101"), "intake gRPC address")
	role := fs.String("role", "agent", "role of the token (agent, supervisor, pr, admin, integration, bi)")
	tier := fs.Int("tier", 2, "agent tier (1-3)")
	sub := fs.String("sub", "kesuctl", "subject (actor id) of the token")
	switch cmd {
	case "token":
		if err := fs.Parse(args); err != nil {
			return err
		}
		tok, err := token(*role, *tier, *sub)
		if err != nil {
			return err
		}
		fmt.Println(tok)
		return nil
	case "file":
		return file(ctx, fs, args, addr, role, tier, sub)
	case "streams":
		return streams(ctx, fs, args)
	case "simulate":
		return simulate(ctx, fs, args, addr)
	case "sweep", "followup":
		return followupCmd(ctx, cmd, fs, args, role, tier, sub)
	case "report":
		return report(ctx, fs, args, role, tier, sub)
	case "work":
		return routingCmd(ctx, fs, args, role, tier, sub)
	case "alerts", "escalate":
		return escalationCmd(ctx, cmd, fs, args, role, tier, sub)
	case "get", "timeline":
		lang := fs.String("lang", "zh-CN", "language of the summaries (zh-CN or en)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("%s needs one COMPLAINT_ID", cmd)
		}
		client, cctx, done, err := dial(ctx, *addr, *role, *tier, *sub)
		if err != nil {
			return err
		}
		defer done()
		var res proto.Message
		if cmd == "get" {
			res, err = client.GetComplaint(cctx, &intakev1.GetComplaintRequest{ComplaintId: fs.Arg(0)})
		} else {
			res, err = client.Timeline(cctx, &intakev1.TimelineRequest{ComplaintId: fs.Arg(0), Language: *lang})
		}
		if err != nil {
			return err
		}
		return printJSON(res)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func file(ctx context.Context, fs *flag.FlagSet, args []string, addr, role *string, tier *int, sub *string) error {
	shop := fs.String("shop", "demo-flagship", "shop id")
	channel := fs.String("channel", "online_chat", "channel: online_chat, hotline_400, email, marketplace_arbitration, odr_12315, consumer_association, weibo, heimao, in_store, other")
	phone := fs.String("phone", "", "customer phone")
	name := fs.String("name", "", "customer name")
	customer := fs.String("customer", "", "customer ref (buyer id)")
	order := fs.String("order", "", "order id")
	text := fs.String("text", "", "what happened, in the customer's words")
	claimed := fs.Int64("claimed-fen", 0, "amount claimed, in fen")
	reqID := fs.String("request-id", "", "client request id (default: a new UUID)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ch, ok := complaintv1.Channel_value["CHANNEL_"+strings.ToUpper(*channel)]
	if !ok {
		return fmt.Errorf("--channel %q: unknown channel", *channel)
	}
	if *reqID == "" {
		*reqID = uuid.NewString()
	}
	client, cctx, done, err := dial(ctx, *addr, *role, *tier, *sub)
	if err != nil {
		return err
	}
	defer done()
	res, err := client.FileComplaint(cctx, &intakev1.FileComplaintRequest{
		ClientRequestId: *reqID, ShopId: *shop, Channel: complaintv1.Channel(ch),
		Customer: &intakev1.Customer{CustomerRef: *customer, Name: *name, Phone: *phone},
		OrderId:  *order, Description: *text, ClaimedAmountFen: *claimed,
	})
	if err != nil {
		return err
	}
	return printJSON(res)
}

func dial(ctx context.Context, addr, role string, tier int, sub string) (intakev1.IntakeServiceClient, context.Context, func(), error) {
	tok, err := token(role, tier, sub)
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cctx = metadata.AppendToOutgoingContext(cctx, "authorization", "Bearer "+tok)
	return intakev1.NewIntakeServiceClient(conn), cctx, func() { cancel(); conn.Close() }, nil
}

func token(role string, tier int, sub string) (string, error) {
	key, err := hmacKey()
	if err != nil {
		return "", err
	}
	r := auth.Role(role)
	if r != auth.RoleAgent {
		tier = 0
	}
	return auth.Mint(key, auth.ClaimsFor(auth.Identity{Subject: sub, Role: r, Tier: tier}), 12*time.Hour)
}

// hmacKey is KESU_AUTH_HMAC_KEY, else the key devstack keeps in .data/dev.env.
func hmacKey() ([]byte, error) {
	if k := os.Getenv("KESU_AUTH_HMAC_KEY"); k != "" {
		return []byte(k), nil
	}
	dir, _ := os.Getwd()
	for {
		b, err := os.ReadFile(filepath.Join(dir, ".data", "dev.env"))
		if err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "KESU_AUTH_HMAC_KEY="); ok {
					return []byte(v), nil
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, errors.New("no KESU_AUTH_HMAC_KEY and no .data/dev.env (start the stack with `make run` first)")
		}
		dir = parent
	}
}

func printJSON(m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
