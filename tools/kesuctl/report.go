package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	reportingv1 "github.com/kesu315/kesu/proto/gen/go/kesu/reporting/v1"
)

const reportUsage = `usage: kesuctl report --season 2027 [--shop demo-flagship] [--format html|xlsx|csv|json] [--lang zh-CN|en] [-o FILE]
(reporting at --reporting-addr, env KESU_REPORTING_ADDR, default 127.0.0.1:7105;
 -o - writes to stdout; without -o the server's file name is used in the current directory)`

var reportFormats = map[string]reportingv1.ReportFormat{
	"html": reportingv1.ReportFormat_REPORT_FORMAT_HTML,
	"xlsx": reportingv1.ReportFormat_REPORT_FORMAT_XLSX,
	"csv":  reportingv1.ReportFormat_REPORT_FORMAT_CSV,
	"json": reportingv1.ReportFormat_REPORT_FORMAT_JSON,
}

// report runs `kesuctl report`: the server renders the season report and
// this writes the file.
func report(ctx context.Context, fs *flag.FlagSet, args []string, role *string, tier *int, sub *string) error {
	addr := fs.String("reporting-addr", envOr("KESU_REPORTING_ADDR", "127.0.0.1:7105"), "reporting gRPC address")
	season := fs.Int("season", 0, "season year, e.g. 2027")
	shop := fs.String("shop", "demo-flagship", "shop id")
	format := fs.String("format", "html", "html, xlsx, csv or json")
	lang := fs.String("lang", "zh-CN", "zh-CN or en")
	out := fs.String("o", "", "output file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, ok := reportFormats[strings.ToLower(*format)]
	switch {
	case *season == 0:
		return fmt.Errorf("--season is required\n%s", reportUsage)
	case !ok:
		return fmt.Errorf("--format %q: use html, xlsx, csv or json", *format)
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %v\n%s", fs.Args(), reportUsage)
	}
	if *role == "agent" {
		*role = "bi" // reports are for management and analysts; --role still overrides
	}
	tok, err := token(*role, *tier, *sub)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cctx = metadata.AppendToOutgoingContext(cctx, "authorization", "Bearer "+tok)
	res, err := reportingv1.NewReportingServiceClient(conn).ExportSeasonReport(cctx, &reportingv1.ExportSeasonReportRequest{
		Season: int32(*season), ShopId: *shop, Format: f, Language: *lang,
	})
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := os.Stdout.Write(res.GetContent())
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Base(res.GetFileName())
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(path, res.GetContent(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes, %s)\n", path, len(res.GetContent()), res.GetContentType())
	return nil
}
