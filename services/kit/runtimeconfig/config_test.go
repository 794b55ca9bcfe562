package runtimeconfig_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesu315/kesu/services/kit/runtimeconfig"
)

const dbURL = "postgres://kesu:s3cret-pw@127.0.0.1:5432/kesu?sslmode=disable"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDevDefaults(t *testing.T) {
	for svc, ports := range runtimeconfig.DefaultAddrs {
		t.Run(svc, func(t *testing.T) {
			c, err := runtimeconfig.Load(svc, env(map[string]string{"DATABASE_URL": dbURL}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Service != svc || c.Env != runtimeconfig.Dev || c.GRPCAddr != ports.GRPC || c.HTTPAddr != ports.HTTP {
				t.Errorf("got service %q env %q addrs %s/%s, want %q dev %s/%s", c.Service, c.Env, c.GRPCAddr, c.HTTPAddr, svc, ports.GRPC, ports.HTTP)
			}
			if c.NATSURL != "nats://127.0.0.1:4222" || c.PolicyPath != "deploy/config/kesu.yaml" {
				t.Errorf("NATS %q policy %q", c.NATSURL, c.PolicyPath)
			}
			if c.StreamReplicas != 1 || c.StreamMaxBytes != 10<<30 {
				t.Errorf("replicas %d max bytes %d, want 1 and 10GiB", c.StreamReplicas, c.StreamMaxBytes)
			}
			if string(c.Auth.HMACKey) != runtimeconfig.DevHMACKey || string(c.PIIKEK) != runtimeconfig.DevPIIKEK || len(c.PIIKEK) != 32 {
				t.Errorf("dev secrets not applied: hmac %q kek %q", c.Auth.HMACKey, c.PIIKEK)
			}
			if len(c.Warnings) != 2 {
				t.Errorf("warnings = %q, want one per dev secret", c.Warnings)
			}
			if c.LogLevel != slog.LevelInfo || c.Clock.Simulated() {
				t.Errorf("log level %s simulated %v", c.LogLevel, c.Clock.Simulated())
			}
		})
	}
}

func TestLoadExplicitValues(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "routing.creds")
	if err := os.WriteFile(creds, []byte("creds"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := runtimeconfig.Load("routing", env(map[string]string{
		"KESU_ENV":              "prod",
		"KESU_GRPC_ADDR":        ":7000",
		"KESU_HTTP_ADDR":        "0.0.0.0:9000",
		"NATS_URL":              "nats://n1:4222,nats://n2:4222",
		"NATS_CREDS":            creds,
		"DATABASE_URL":          dbURL,
		"KESU_POLICY":           "/etc/kesu/kesu.yaml",
		"KESU_STREAM_REPLICAS":  "3",
		"KESU_STREAM_MAX_BYTES": "512MiB",
		"KESU_AUTH_JWKS_URL":    "https://idp.example.com/.well-known/jwks.json",
		"KESU_AUTH_ISSUER":      "https://idp.example.com/",
		"KESU_AUTH_AUDIENCE":    "kesu",
		"KESU_PII_KEK":          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"KESU_LOG_LEVEL":        "debug",
		"KESU_CLOCK_START":      "2026-03-01T00:00:00+08:00",
		"KESU_CLOCK_EPOCH":      "2026-03-15T09:00:00Z",
		"KESU_CLOCK_SPEED":      "2880",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Env != runtimeconfig.Prod || c.GRPCAddr != ":7000" || c.HTTPAddr != "0.0.0.0:9000" || c.NATSCreds != creds {
		t.Errorf("env %q addrs %q %q creds %q", c.Env, c.GRPCAddr, c.HTTPAddr, c.NATSCreds)
	}
	if c.StreamReplicas != 3 || c.StreamMaxBytes != 512<<20 {
		t.Errorf("replicas %d max bytes %d", c.StreamReplicas, c.StreamMaxBytes)
	}
	if c.Auth.HMACKey != nil || c.Auth.JWKSURL == "" || c.Auth.Issuer != "https://idp.example.com/" || c.Auth.Audience != "kesu" {
		t.Errorf("auth = %+v", c.Auth)
	}
	if len(c.PIIKEK) != 32 || c.PIIKEK[31] != 31 {
		t.Errorf("KEK = %v", c.PIIKEK)
	}
	if c.LogLevel != slog.LevelDebug || !c.Clock.Simulated() || c.Clock.Speed != 2880 {
		t.Errorf("log level %s clock %s", c.LogLevel, c.Clock)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings in prod with every value set: %q", c.Warnings)
	}
}

func TestLoadSizes(t *testing.T) {
	tests := map[string]int64{"1073741824": 1 << 30, "10GiB": 10 << 30, "2GB": 2e9, "64 MiB": 64 << 20, "1TiB": 1 << 40}
	for in, want := range tests {
		c, err := runtimeconfig.Load("intake", env(map[string]string{"DATABASE_URL": dbURL, "KESU_STREAM_MAX_BYTES": in}))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if c.StreamMaxBytes != want {
			t.Errorf("%q = %d, want %d", in, c.StreamMaxBytes, want)
		}
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // each names the variable and the value
		secrets []string // must not appear in the error
	}{
		{
			name: "many bad values at once",
			env: map[string]string{
				"KESU_ENV":              "staging",
				"KESU_GRPC_ADDR":        "7101",
				"KESU_HTTP_ADDR":        "127.0.0.1:99999",
				"NATS_URL":              "http://127.0.0.1:4222",
				"NATS_CREDS":            "/nonexistent/kesu.creds",
				"KESU_STREAM_REPLICAS":  "7",
				"KESU_STREAM_MAX_BYTES": "lots",
				"KESU_LOG_LEVEL":        "chatty",
				"KESU_CLOCK_SPEED":      "fast",
				"KESU_AUTH_JWKS_URL":    "idp/jwks",
			},
			want: []string{
				`KESU_ENV="staging"`, `KESU_GRPC_ADDR="7101"`, `KESU_HTTP_ADDR="127.0.0.1:99999"`,
				`NATS_URL="http://127.0.0.1:4222": scheme "http"`, `NATS_CREDS="/nonexistent/kesu.creds": cannot read`,
				`DATABASE_URL="": required`, `KESU_STREAM_REPLICAS="7"`, `KESU_STREAM_MAX_BYTES="lots"`,
				`KESU_LOG_LEVEL="chatty"`, `KESU_CLOCK_SPEED="fast"`, `KESU_AUTH_JWKS_URL="idp/jwks"`,
				`KESU_PII_KEK="": required in prod`,
			},
		},
		{
			name: "prod requires real secrets",
			env:  map[string]string{"KESU_ENV": "prod", "DATABASE_URL": dbURL},
			want: []string{`prod requires KESU_AUTH_JWKS_URL or KESU_AUTH_HMAC_KEY`, `KESU_PII_KEK="": required in prod`},
		},
		{
			name:    "secrets are described, not echoed",
			env:     map[string]string{"DATABASE_URL": "postgres://kesu:hunter2-secret@host:notaport/db", "KESU_AUTH_HMAC_KEY": "short-hunter3", "KESU_PII_KEK": "aHVudGVyNA=="},
			want:    []string{"DATABASE_URL: not a valid PostgreSQL connection string", "KESU_AUTH_HMAC_KEY: is 13 bytes long, want at least 32", "KESU_PII_KEK: decodes to 7 bytes, want 32"},
			secrets: []string{"hunter2", "hunter3", "aHVudGVyNA"},
		},
		{
			name: "prod JWKS must be https",
			env:  map[string]string{"KESU_ENV": "prod", "DATABASE_URL": dbURL, "KESU_AUTH_JWKS_URL": "http://idp.example.com/jwks", "KESU_PII_KEK": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
			want: []string{`KESU_AUTH_JWKS_URL="http://idp.example.com/jwks": must use https in prod`},
		},
		{
			name: "same address twice",
			env:  map[string]string{"DATABASE_URL": dbURL, "KESU_GRPC_ADDR": "127.0.0.1:8000", "KESU_HTTP_ADDR": "127.0.0.1:8000"},
			want: []string{`KESU_HTTP_ADDR="127.0.0.1:8000": must differ from KESU_GRPC_ADDR`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runtimeconfig.Load("escalation", env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want errors")
			}
			if !errors.Is(err, runtimeconfig.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not mention %s:\n%s", w, msg)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%s", n, len(tt.want), msg)
			}
			for _, s := range tt.secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error leaks secret %q:\n%s", s, msg)
				}
			}
		})
	}
}

// Tests and the devstack bind port 0 for both servers.
func TestLoadAllowsPortZeroTwice(t *testing.T) {
	c, err := runtimeconfig.Load("intake", env(map[string]string{"DATABASE_URL": dbURL, "KESU_GRPC_ADDR": "127.0.0.1:0", "KESU_HTTP_ADDR": "127.0.0.1:0"}))
	if err != nil || c.GRPCAddr != "127.0.0.1:0" || c.HTTPAddr != "127.0.0.1:0" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestLoadUnknownService(t *testing.T) {
	_, err := runtimeconfig.Load("billing", env(map[string]string{"DATABASE_URL": dbURL}))
	if !errors.Is(err, runtimeconfig.ErrUnknownService) || !strings.Contains(err.Error(), `"billing"`) {
		t.Fatalf("Load(billing) = %v, want ErrUnknownService naming it", err)
	}
}

// The dev warnings must be loggable without printing the keys themselves.
func TestDevWarningsDoNotPrintKeys(t *testing.T) {
	c, err := runtimeconfig.Load("followup", env(map[string]string{"DATABASE_URL": dbURL}))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, w := range c.Warnings {
		buf.WriteString(w)
	}
	if strings.Contains(buf.String(), runtimeconfig.DevHMACKey) || strings.Contains(buf.String(), runtimeconfig.DevPIIKEK) {
		t.Fatalf("warnings print a key: %s", buf.String())
	}
}
