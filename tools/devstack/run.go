package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/eventstore"
	"github.com/kesu315/kesu/services/kit/natsembed"
	"github.com/kesu315/kesu/services/kit/pgcluster"
)

// Services in start order; each has its own process, ports and schema.
var services = []struct {
	name       string
	grpc, http int
}{
	{"intake", 7101, 9101},
	{"routing", 7102, 9102},
	{"escalation", 7103, 9103},
	{"followup", 7104, 9104},
	{"reporting", 7105, 9105},
}

// database is the name of the database devstack creates in its own cluster.
const database = "kesu"

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dataDir := fs.String("data", "", "state directory (default: .data/ at the repository root)")
	natsPort := fs.Int("nats-port", 4222, "embedded NATS client port (-1: any free port)")
	demo := fs.Bool("demo", os.Getenv("KESU_DEMO") != "0", "play a compact 315 season on the accelerated clock, then write its report (KESU_DEMO=0: off)")
	demoComplaints := fs.Int("demo-complaints", 1500, "demo: complaints (disputes) in the season")
	demoSpeed := fs.Float64("demo-speed", 22000, "demo: simulated seconds per wall second (22 000: 45 days in about 3 minutes)")
	demoYear := fs.Int("demo-year", 2026, "demo: the policy season to play")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if *dataDir == "" {
		*dataDir = filepath.Join(root, ".data")
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The secrets stay in the top data directory whatever the state directory:
	// kesuctl reads its signing key from there.
	secrets, err := devSecrets(filepath.Join(*dataDir, "dev.env"))
	if err != nil {
		return err
	}
	reportsDir := filepath.Join(*dataDir, "reports")
	var demoClock []string
	if *demo {
		// The demo's clock starts at the season's first day on every run, so
		// last run's events would lie in the future: the demo keeps its state
		// in a directory of its own, emptied at start. KESU_DEMO=0 keeps state.
		*dataDir = filepath.Join(*dataDir, "demo")
		if err := os.RemoveAll(*dataDir); err != nil {
			return err
		}
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return err
		}
		if demoClock, err = demoClockEnv(root, *demoYear, *demoSpeed); err != nil {
			return err
		}
	}

	// NATS: NATS_URL wins; otherwise an embedded server, stored under .data/nats.
	natsURL := os.Getenv("NATS_URL")
	if natsURL == "" {
		port := *natsPort
		if port > 0 && !portFree(port) {
			log.Warn("NATS port busy, picking a free one", "port", port)
			port = -1
		}
		srv, err := natsembed.Start(natsembed.Options{
			Port: port, StoreDir: filepath.Join(*dataDir, "nats"), ServerName: "kesu-dev", SyncAlways: true,
		})
		if err != nil {
			return fmt.Errorf("start NATS: %w", err)
		}
		defer natsembed.Stop(srv)
		natsURL = natsembed.ClientURL(srv)
	}

	// PostgreSQL: DATABASE_URL wins; otherwise a private cluster under .data/pg.
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(*dataDir, "pg"), Logger: log})
		if err != nil {
			return fmt.Errorf("start PostgreSQL: %w", err)
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cluster.Stop(sctx); err != nil {
				log.Error("stop PostgreSQL", "err", err)
			}
		}()
		// An existing database (a second run) is not an error.
		if err := cluster.CreateDatabase(ctx, database); err != nil {
			return err
		}
		dbURL = cluster.URL(database)
	}

	if err := ensureStreams(ctx, natsURL); err != nil {
		return err
	}

	binDir := filepath.Join(*dataDir, "bin")
	if err := buildServices(ctx, root, binDir); err != nil {
		return err
	}

	env := append(os.Environ(),
		"NATS_URL="+natsURL,
		"DATABASE_URL="+dbURL,
		"KESU_ENV=dev",
		"KESU_POLICY="+filepath.Join(root, "deploy/config/kesu.yaml"),
		"KESU_AUTH_HMAC_KEY="+secrets["KESU_AUTH_HMAC_KEY"],
		"KESU_PII_KEK="+secrets["KESU_PII_KEK"],
	)
	env = append(env, demoClock...)
	if *demo && os.Getenv("KESU_LOG_LEVEL") == "" {
		// Keep the services' info lines from burying the demo's progress bars.
		env = append(env, "KESU_LOG_LEVEL=warn")
	}
	for _, s := range services {
		if err := runOnce(ctx, filepath.Join(binDir, s.name), env, s.name, "migrate"); err != nil {
			return fmt.Errorf("%s migrate: %w", s.name, err)
		}
	}

	procs := make([]proc, 0, len(services))
	exited := make(chan string, len(services))
	var wg sync.WaitGroup
	defer func() {
		stopAll(procs, 20*time.Second)
		wg.Wait()
	}()
	for _, s := range services {
		cmd := exec.Command(filepath.Join(binDir, s.name), "serve")
		cmd.Env = append(env,
			fmt.Sprintf("KESU_GRPC_ADDR=127.0.0.1:%d", s.grpc),
			fmt.Sprintf("KESU_HTTP_ADDR=127.0.0.1:%d", s.http))
		// Own process group: Ctrl-C reaches devstack, which stops the services in order.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := startPrefixed(cmd, s.name, &wg); err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
		p := proc{cmd: cmd, done: make(chan struct{})}
		procs = append(procs, p)
		go func(name string) {
			_ = cmd.Wait()
			close(p.done)
			exited <- name
		}(s.name)
	}

	if err := waitReady(ctx, exited); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nKesu is running (Ctrl-C stops everything)\n")
	fmt.Fprintf(os.Stderr, "  NATS        %s\n  PostgreSQL  %s\n", natsURL, redactURL(dbURL))
	for _, s := range services {
		fmt.Fprintf(os.Stderr, "  %-11s gRPC 127.0.0.1:%d   metrics/health http://127.0.0.1:%d/metrics\n", s.name, s.grpc, s.http)
	}
	fmt.Fprintf(os.Stderr, "  state       %s\n", *dataDir)
	fmt.Fprintf(os.Stderr, "  try         go run ./tools/kesuctl file --shop demo-flagship --phone 13800001234 --text '收到的面霜过期了'\n\n")

	demoDone := make(chan error, 1)
	if *demo {
		go func() {
			demoDone <- playDemo(ctx, env, binDir, reportsDir, *demoYear, *demoComplaints)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "\ndevstack: stopping")
			return nil
		case name := <-exited:
			return fmt.Errorf("%s exited unexpectedly; see its log above", name)
		case err := <-demoDone:
			// A failed demo leaves the stack serving: it is a show, not the system.
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "\ndevstack: the season demo failed: %v\n", err)
			}
			fmt.Fprintf(os.Stderr, "\nKesu keeps running (Ctrl-C stops everything)\n")
		}
	}
}

// waitReady polls every service's /readyz until all answer 200, so "running"
// is printed when a request would be served, not when processes were forked.
func waitReady(ctx context.Context, exited <-chan string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for _, s := range services {
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", s.http)
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case name := <-exited:
				return fmt.Errorf("%s exited while starting; see its log above", name)
			case <-ctx.Done():
				return fmt.Errorf("%s not ready at %s: %w", s.name, url, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Kesu repository (no go.work found above the current directory)")
		}
		dir = parent
	}
}

// devSecrets keeps the dev JWT key and PII key-encryption key in .data/dev.env,
// made once: the KEK must stay the same across runs or last run's personal data
// could not be read back.
func devSecrets(path string) (map[string]string, error) {
	out := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
				out[k] = v
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	changed := false
	for _, k := range []string{"KESU_AUTH_HMAC_KEY", "KESU_PII_KEK"} {
		if out[k] != "" {
			continue
		}
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		out[k] = base64.StdEncoding.EncodeToString(b)
		changed = true
	}
	if changed {
		content := "# Dev-only secrets made by devstack; kesuctl reads the JWT key from here.\n" +
			"KESU_AUTH_HMAC_KEY=" + out["KESU_AUTH_HMAC_KEY"] + "\nKESU_PII_KEK=" + out["KESU_PII_KEK"] + "\n"
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func ensureStreams(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Name("devstack"))
	if err != nil {
		return fmt.Errorf("connect NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := eventstore.EnsureAll(ctx, js, eventstore.Config{Replicas: 1, MaxBytes: 10 << 30}); err != nil {
		return fmt.Errorf("create streams: %w", err)
	}
	return nil
}

func buildServices(ctx context.Context, root, binDir string) error {
	args := []string{"build", "-o", binDir + string(os.PathSeparator)}
	for _, s := range services {
		args = append(args, "./services/"+s.name+"/cmd/"+s.name)
	}
	args = append(args, "./tools/kesuctl")
	fmt.Fprintln(os.Stderr, "devstack: building services")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

func runOnce(ctx context.Context, bin string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var wg sync.WaitGroup
	if err := startPrefixed(cmd, name, &wg); err != nil {
		return err
	}
	err := cmd.Wait()
	wg.Wait()
	return err
}

// startPrefixed starts cmd with each line of its output prefixed by its name.
func startPrefixed(cmd *exec.Cmd, name string, wg *sync.WaitGroup) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	prefix := fmt.Sprintf("%-10s | ", name)
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Add(1)
		go func(r io.Reader) {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64*1024), 1024*1024)
			for sc.Scan() {
				outMu.Lock()
				fmt.Fprintln(os.Stdout, prefix+sc.Text())
				outMu.Unlock()
			}
		}(r)
	}
	return nil
}

var outMu sync.Mutex

// proc is a running service; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// stopAll sends SIGTERM to every service and waits up to grace for all of them
// (they drain their consumers first); what is left after that is killed.
func stopAll(procs []proc, grace time.Duration) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, p := range procs {
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-p.done:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Stop()
	}
}

func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if i := strings.Index(u, "://"); i > 0 && i < at {
			if c := strings.Index(u[i+3:at], ":"); c >= 0 {
				return u[:i+3+c] + ":***" + u[at:]
			}
		}
	}
	return u
}
