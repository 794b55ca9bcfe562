// Package runtimeconfig holds the typed runtime configuration every service
// binary reads from its environment (the contract shared by the devstack and
// the Helm chart). It is loaded and validated once at start-up; a service
// refuses to start on any invalid value.
package runtimeconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kesu315/kesu/services/kit/clock"
)

// Environment variables read by Load (plus clock.EnvStart/EnvSpeed/EnvEpoch
// and the standard OTEL_* variables, which telemetry reads itself).
const (
	EnvEnv            = "KESU_ENV"
	EnvGRPCAddr       = "KESU_GRPC_ADDR"
	EnvHTTPAddr       = "KESU_HTTP_ADDR"
	EnvNATSURL        = "NATS_URL"
	EnvNATSCreds      = "NATS_CREDS"
	EnvDatabaseURL    = "DATABASE_URL"
	EnvPolicy         = "KESU_POLICY"
	EnvStreamReplicas = "KESU_STREAM_REPLICAS"
	EnvStreamMaxBytes = "KESU_STREAM_MAX_BYTES"
	EnvAuthHMACKey    = "KESU_AUTH_HMAC_KEY"
	EnvAuthJWKSURL    = "KESU_AUTH_JWKS_URL"
	EnvAuthIssuer     = "KESU_AUTH_ISSUER"
	EnvAuthAudience   = "KESU_AUTH_AUDIENCE"
	EnvPIIKEK         = "KESU_PII_KEK"
	EnvLogLevel       = "KESU_LOG_LEVEL"
)

// Defaults.
const (
	DefaultNATSURL        = "nats://127.0.0.1:4222"
	DefaultPolicyPath     = "deploy/config/kesu.yaml"
	DefaultStreamReplicas = 1
	DefaultStreamMaxBytes = 10 << 30 // 10 GiB
)

// Dev-only secrets used when KESU_ENV=dev and the variable is unset, so the
// devstack and tests run with no setup. They are public, fixed values: a
// token minted with DevHMACKey is valid on every dev install, which is the
// point, and is why prod refuses to start without real ones.
const (
	// DevHMACKey is the HS256 JWT key in dev when KESU_AUTH_HMAC_KEY is unset.
	DevHMACKey = "kesu-dev-only-hmac-key-never-use-in-prod"
	// DevPIIKEK is the raw 32-byte key-encryption key in dev when KESU_PII_KEK
	// is unset (base64: a2VzdS1kZXYtb25seS1waWkta2VrLTMyLWJ5dGVzISE=).
	DevPIIKEK = "kesu-dev-only-pii-kek-32-bytes!!"
)

// MinHMACKeyLen is the shortest accepted HS256 key (RFC 7518 §3.2: at least
// the hash size).
const MinHMACKeyLen = 32

// Env is the deployment environment.
type Env string

// Environments.
const (
	Dev  Env = "dev"
	Prod Env = "prod"
)

// Ports are a service's default listen addresses.
type Ports struct{ GRPC, HTTP string }

// DefaultAddrs are the per-service default listen addresses.
var DefaultAddrs = map[string]Ports{
	"intake":     {GRPC: "127.0.0.1:7101", HTTP: "127.0.0.1:9101"},
	"routing":    {GRPC: "127.0.0.1:7102", HTTP: "127.0.0.1:9102"},
	"escalation": {GRPC: "127.0.0.1:7103", HTTP: "127.0.0.1:9103"},
	"followup":   {GRPC: "127.0.0.1:7104", HTTP: "127.0.0.1:9104"},
	"reporting":  {GRPC: "127.0.0.1:7105", HTTP: "127.0.0.1:9105"},
}

// Auth configures bearer-token verification.
type Auth struct {
	// HMACKey verifies HS256 tokens (dev); nil disables HS256.
	HMACKey []byte
	// JWKSURL is where RS256/ES256 verification keys are fetched (prod).
	JWKSURL string
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string
	Audience string
}

// Config is a service's runtime configuration.
type Config struct {
	Service     string
	Env         Env
	GRPCAddr    string
	HTTPAddr    string
	NATSURL     string
	NATSCreds   string // path of a NATS credentials file; empty for none
	DatabaseURL string // holds a password: never log it
	PolicyPath  string

	StreamReplicas int
	StreamMaxBytes int64

	Auth   Auth
	Clock  clock.Settings
	PIIKEK []byte // 32 bytes

	LogLevel slog.Level

	// Warnings lists dev defaults that were applied; the service logs them
	// once its logger exists.
	Warnings []string
}

// Load reads and validates the configuration of service from getenv (use
// os.Getenv). Every problem is reported at once (errors.Join), each naming
// the variable and the bad value; secrets are described, never echoed.
func Load(service string, getenv func(string) string) (Config, error) {
	ports, ok := DefaultAddrs[service]
	if !ok {
		return Config{}, fmt.Errorf("%w %q (known: intake, routing, escalation, followup, reporting)", ErrUnknownService, service)
	}
	l := loader{getenv: getenv}
	c := Config{Service: service, LogLevel: slog.LevelInfo}

	switch v := getenv(EnvEnv); v {
	case "", string(Dev):
		c.Env = Dev
	case string(Prod):
		c.Env = Prod
	default:
		l.bad(EnvEnv, v, `must be "dev" or "prod"`)
		c.Env = Prod // judge the rest by the stricter rules
	}

	c.GRPCAddr = l.addr(EnvGRPCAddr, ports.GRPC)
	c.HTTPAddr = l.addr(EnvHTTPAddr, ports.HTTP)
	if c.GRPCAddr != "" && c.GRPCAddr == c.HTTPAddr && !strings.HasSuffix(c.GRPCAddr, ":0") {
		l.bad(EnvHTTPAddr, c.HTTPAddr, "must differ from "+EnvGRPCAddr)
	}
	c.NATSURL = l.natsURL()
	c.NATSCreds = l.file(EnvNATSCreds)
	c.DatabaseURL = l.databaseURL()
	c.PolicyPath = l.or(EnvPolicy, DefaultPolicyPath)
	c.StreamReplicas = l.replicas()
	c.StreamMaxBytes = l.bytes(EnvStreamMaxBytes, DefaultStreamMaxBytes)
	c.Auth = l.auth(&c)
	c.PIIKEK = l.kek(&c)
	if v := getenv(EnvLogLevel); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			l.bad(EnvLogLevel, v, "must be debug, info, warn or error")
		}
	}
	cs, err := clock.ParseEnv(getenv)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	c.Clock = cs

	if len(l.errs) > 0 {
		return Config{}, errors.Join(l.errs...)
	}
	return c, nil
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) bad(name, value, reason string) {
	l.errs = append(l.errs, fmt.Errorf("%w: %s=%q: %s", ErrInvalid, name, value, reason))
}

// badSecret reports a problem without echoing the secret value.
func (l *loader) badSecret(name, reason string) {
	l.errs = append(l.errs, fmt.Errorf("%w: %s: %s", ErrInvalid, name, reason))
}

func (l *loader) or(name, def string) string {
	if v := l.getenv(name); v != "" {
		return v
	}
	return def
}

func (l *loader) addr(name, def string) string {
	v := l.or(name, def)
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		l.bad(name, v, "must be host:port (e.g. 127.0.0.1:7101 or :7101)")
		return ""
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		l.bad(name, v, "port must be a number from 0 to 65535")
		return ""
	}
	return v
}

func (l *loader) natsURL() string {
	v := l.or(EnvNATSURL, DefaultNATSURL)
	for _, part := range strings.Split(v, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			l.bad(EnvNATSURL, v, "must be a comma-separated list of URLs like nats://host:4222")
			return ""
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			l.bad(EnvNATSURL, v, fmt.Sprintf("scheme %q: must be nats, tls, ws or wss", u.Scheme))
			return ""
		}
		if u.User != nil {
			l.badSecret(EnvNATSURL, "must not carry credentials; use NATS_CREDS")
			return ""
		}
	}
	return v
}

func (l *loader) file(name string) string {
	v := l.getenv(name)
	if v == "" {
		return ""
	}
	st, err := os.Stat(v)
	switch {
	case err != nil:
		l.bad(name, v, "cannot read the file: "+errors.Unwrap(err).Error())
		return ""
	case st.IsDir():
		l.bad(name, v, "is a directory, want a file")
		return ""
	}
	return v
}

func (l *loader) databaseURL() string {
	v := l.getenv(EnvDatabaseURL)
	if v == "" {
		l.bad(EnvDatabaseURL, v, "required (e.g. postgres://kesu@127.0.0.1:5432/kesu)")
		return ""
	}
	if _, err := pgxpool.ParseConfig(v); err != nil {
		// The value may hold a password, so neither it nor the parser's
		// message (which quotes it) is repeated.
		l.badSecret(EnvDatabaseURL, "not a valid PostgreSQL connection string (URL or key=value form)")
		return ""
	}
	return v
}

func (l *loader) replicas() int {
	v := l.getenv(EnvStreamReplicas)
	if v == "" {
		return DefaultStreamReplicas
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 5 {
		l.bad(EnvStreamReplicas, v, "must be a whole number from 1 to 5")
		return 0
	}
	return n
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// bytes parses a size such as 10GiB, 512MiB, 2GB or a plain byte count.
func (l *loader) bytes(name string, def int64) int64 {
	v := l.getenv(name)
	if v == "" {
		return def
	}
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		l.bad(name, v, "must be a positive size like 10GiB, 512MiB or 1073741824")
		return 0
	}
	return n * mult
}

func (l *loader) auth(c *Config) Auth {
	a := Auth{
		Issuer:   l.getenv(EnvAuthIssuer),
		Audience: l.getenv(EnvAuthAudience),
	}
	if v := l.getenv(EnvAuthJWKSURL); v != "" {
		u, err := url.Parse(v)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			l.bad(EnvAuthJWKSURL, v, "must be an absolute http(s) URL")
		case c.Env == Prod && u.Scheme != "https" && !isLoopback(u.Hostname()):
			l.bad(EnvAuthJWKSURL, v, "must use https in prod")
		default:
			a.JWKSURL = v
		}
	}
	if v := l.getenv(EnvAuthHMACKey); v != "" {
		if len(v) < MinHMACKeyLen {
			l.badSecret(EnvAuthHMACKey, fmt.Sprintf("is %d bytes long, want at least %d", len(v), MinHMACKeyLen))
		} else {
			a.HMACKey = []byte(v)
		}
	}
	if l.getenv(EnvAuthHMACKey) == "" && l.getenv(EnvAuthJWKSURL) == "" {
		if c.Env == Prod {
			l.bad(EnvAuthJWKSURL, "", "prod requires "+EnvAuthJWKSURL+" or "+EnvAuthHMACKey)
		} else {
			a.HMACKey = []byte(DevHMACKey)
			c.Warnings = append(c.Warnings, EnvAuthHMACKey+" unset: using the public dev key runtimeconfig.DevHMACKey (dev only)")
		}
	}
	return a
}

func (l *loader) kek(c *Config) []byte {
	v := l.getenv(EnvPIIKEK)
	if v == "" {
		if c.Env == Prod {
			l.bad(EnvPIIKEK, v, "required in prod: base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
			return nil
		}
		c.Warnings = append(c.Warnings, EnvPIIKEK+" unset: using the public dev key runtimeconfig.DevPIIKEK (dev only)")
		return []byte(DevPIIKEK)
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if k, err = base64.RawURLEncoding.DecodeString(v); err != nil {
			l.badSecret(EnvPIIKEK, "is not valid base64")
			return nil
		}
	}
	if len(k) != 32 {
		l.badSecret(EnvPIIKEK, fmt.Sprintf("decodes to %d bytes, want 32", len(k)))
		return nil
	}
	return k
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
