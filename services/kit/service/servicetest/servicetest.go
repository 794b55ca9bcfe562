// Package servicetest runs a service binary the way the devstack and
// Kubernetes do, for end-to-end tests of a cmd/<svc>: build it, start it
// with only environment configuration, probe it, stop it with SIGTERM.
package servicetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// StartTimeout bounds how long Start waits for the "serving" log line.
const StartTimeout = 60 * time.Second

// Build compiles the main package in dir (e.g. ".") into t.TempDir() and
// returns the binary's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(abs))
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Dir = abs
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("servicetest: go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// Environ turns a map into the process environment. Only these variables
// are passed: the binary must run on its documented configuration alone.
func Environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Exec runs bin with args to completion (e.g. "migrate") and returns its
// exit code and combined output.
func Exec(t testing.TB, ctx context.Context, bin string, env map[string]string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Environ(env)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	default:
		t.Fatalf("servicetest: run %s: %v", bin, err)
		return -1, ""
	}
}

// Process is a running service binary.
type Process struct {
	// GRPCAddr and HTTPAddr are where it listens, read from its "serving"
	// log line (so tests can use port 0).
	GRPCAddr string
	HTTPAddr string

	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
	err    error // of Wait, valid after exited is closed
}

// Start runs bin serve with env and waits until it logs "serving". The
// process is killed at cleanup if still running.
func Start(t testing.TB, bin string, env map[string]string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = Environ(env)
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(logs, pw)
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("servicetest: start %s: %v", bin, err)
	}
	p := &Process{cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
	})

	serving := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			if found {
				continue // keep draining so the child never blocks on stdout
			}
			var rec struct{ Msg, GRPC, HTTP string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" {
				serving <- [2]string{rec.GRPC, rec.HTTP}
				found = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	timer := time.NewTimer(StartTimeout)
	defer timer.Stop()
	select {
	case a := <-serving:
		p.GRPCAddr, p.HTTPAddr = a[0], a[1]
		return p
	case <-p.exited:
		t.Fatalf("servicetest: %s exited before serving: %v\n%s", bin, p.err, logs)
	case <-timer.C:
		t.Fatalf("servicetest: %s did not log \"serving\" within %s\n%s", bin, StartTimeout, logs)
	}
	return nil
}

// Logs returns everything the process wrote so far.
func (p *Process) Logs() string { return p.logs.String() }

// Stop sends SIGTERM and waits for the process to exit (or ctx to end),
// returning its exit code.
func (p *Process) Stop(t testing.TB, ctx context.Context) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("servicetest: SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		t.Fatalf("servicetest: process did not exit after SIGTERM\n%s", p.Logs())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("servicetest: wait: %v", p.err)
		return -1
	}
}

// Health asks the gRPC health service at addr about service ("" for the
// whole server), without a token, as a Kubernetes probe does.
func Health(ctx context.Context, addr, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return 0, err
	}
	return resp.GetStatus(), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
