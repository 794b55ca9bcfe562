// Package natsembed runs a NATS server with JetStream inside the current
// process. The devstack (`make run`) uses it for local runs and the natstest
// harness builds single servers and clusters on top of it, so both get the
// same settings (DESIGN.md §10).
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout is how long Start waits for the server to accept
// connections with JetStream enabled when Options.ReadyTimeout is zero.
const DefaultReadyTimeout = 15 * time.Second

// ErrInvalidOptions is wrapped by every error Start returns for bad Options.
var ErrInvalidOptions = errors.New("natsembed: invalid options")

// ErrNotReady is wrapped by the error Start returns when the server did not
// become ready (listener or JetStream failed).
var ErrNotReady = errors.New("natsembed: server not ready")

// Options configures an embedded server. The zero value is not usable:
// StoreDir is required because JetStream keeps its streams there.
type Options struct {
	// Host to listen on for clients; default 127.0.0.1 so a dev machine never
	// exposes its event store by accident.
	Host string
	// Port for clients: -1 picks a free port (tests), 0 means the NATS
	// default 4222.
	Port int
	// StoreDir is the JetStream file store directory (required).
	StoreDir string
	// ServerName; unique per cluster member. Default: the server id.
	ServerName string
	// SyncAlways fsyncs every write. JetStream otherwise flushes to disk every
	// two minutes; a single-node install has no replicas to recover from, so
	// it must sync always (DESIGN.md §10).
	SyncAlways bool
	// MaxMemory and MaxStore cap JetStream memory and file storage in bytes;
	// 0 lets the server size them from the machine.
	MaxMemory int64
	MaxStore  int64

	// ClusterName turns on clustering (routes and a JetStream meta group).
	ClusterName string
	// ClusterHost defaults to Host; ClusterPort -1 picks a free port.
	ClusterHost string
	ClusterPort int
	// Routes are nats-route://host:port URLs of other cluster members.
	Routes []string

	// ReadyTimeout bounds the wait for readiness; default DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Logger receives the server's log lines; nil keeps the server quiet.
	// Fatal lines are passed on as errors: an embedded server must never
	// exit the process.
	Logger server.Logger
	// Debug and Trace turn on the server's verbose logging (needs Logger).
	Debug, Trace bool
}

// Start validates opts, starts the server and waits until it accepts client
// connections and JetStream is enabled. On failure the server is shut down
// and the error says what went wrong (including the server's own fatal log
// line when there is one).
func Start(opts Options) (*server.Server, error) {
	sopts, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	capture := &captureLogger{next: opts.Logger}
	s.SetLoggerV2(capture, opts.Debug, opts.Trace, false)

	s.Start()

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = DefaultReadyTimeout
	}
	if !waitReady(s, capture, timeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("%w: not accepting connections on %s:%d after %s%s",
			ErrNotReady, sopts.Host, opts.Port, timeout, capture.reason())
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("%w: JetStream did not start (store dir %q)%s",
			ErrNotReady, opts.StoreDir, capture.reason())
	}
	return s, nil
}

// waitReady polls readiness in short steps so that a fatal start-up error
// (port in use, bad store) fails at once instead of after the whole timeout.
func waitReady(s *server.Server, capture *captureLogger, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if s.ReadyForConnections(50 * time.Millisecond) {
			return true
		}
		if capture.failed() || time.Now().After(deadline) {
			return false
		}
	}
}

// Stop shuts the server down and waits until it has released its ports and
// store, so a restart on the same directory is safe.
func Stop(s *server.Server) {
	if s == nil {
		return
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// ClientURL is the URL clients connect to. A wildcard listen address is
// replaced by the loopback address, which is always reachable locally.
func ClientURL(s *server.Server) string {
	if s == nil {
		return ""
	}
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok || addr == nil {
		return s.ClientURL()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "nats", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port))}).String()
}

// RouteURL is the nats-route:// URL other cluster members use to reach s, or
// "" when s is not clustered.
func RouteURL(s *server.Server) string {
	if s == nil {
		return ""
	}
	addr := s.ClusterAddr()
	if addr == nil {
		return ""
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "nats-route", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port))}).String()
}

func serverOptions(opts Options) (*server.Options, error) {
	var problems []string
	if strings.TrimSpace(opts.StoreDir) == "" {
		problems = append(problems, "StoreDir: required (JetStream keeps its streams there)")
	}
	if opts.Port < -1 || opts.Port > 65535 {
		problems = append(problems, fmt.Sprintf("Port: %d is not -1 (random), 0 (default 4222) or a TCP port", opts.Port))
	}
	if opts.MaxMemory < 0 {
		problems = append(problems, fmt.Sprintf("MaxMemory: %d is negative", opts.MaxMemory))
	}
	if opts.MaxStore < 0 {
		problems = append(problems, fmt.Sprintf("MaxStore: %d is negative", opts.MaxStore))
	}
	if opts.ClusterName == "" && (opts.ClusterPort != 0 || len(opts.Routes) > 0) {
		problems = append(problems, "ClusterName: required when ClusterPort or Routes are set")
	}
	if opts.ClusterPort < -1 || opts.ClusterPort > 65535 {
		problems = append(problems, fmt.Sprintf("ClusterPort: %d is not -1 (random), 0 (default 6222) or a TCP port", opts.ClusterPort))
	}
	var routes []*url.URL
	for i, r := range opts.Routes {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || u.Host == "" {
			problems = append(problems, fmt.Sprintf("Routes[%d]: %q is not a nats-route://host:port URL", i, r))
			continue
		}
		routes = append(routes, u)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}

	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		port = server.DEFAULT_PORT
	}
	so := &server.Options{
		Host:               host,
		Port:               port,
		ServerName:         opts.ServerName,
		JetStream:          true,
		StoreDir:           opts.StoreDir,
		SyncAlways:         opts.SyncAlways,
		JetStreamMaxMemory: opts.MaxMemory,
		JetStreamMaxStore:  opts.MaxStore,
		NoSigs:             true,
		NoLog:              opts.Logger == nil,
		Debug:              opts.Debug,
		Trace:              opts.Trace,
	}
	if opts.SyncAlways {
		// Mirrors `sync_interval: always` in a config file.
		so.SyncInterval = 2 * time.Minute
	}
	if opts.MaxMemory == 0 {
		so.JetStreamMaxMemory = -1
	}
	if opts.MaxStore == 0 {
		so.JetStreamMaxStore = -1
	}
	if opts.ClusterName != "" {
		chost := opts.ClusterHost
		if chost == "" {
			chost = host
		}
		cport := opts.ClusterPort
		if cport == 0 {
			cport = 6222 // the NATS default route port
		}
		so.Cluster = server.ClusterOpts{Name: opts.ClusterName, Host: chost, Port: cport}
		so.Routes = routes
	}
	return so, nil
}

// captureLogger remembers the last fatal and error lines so Start can say why
// a server did not come up, and forwards everything to the caller's logger.
type captureLogger struct {
	next server.Logger

	mu    sync.Mutex
	fatal string
	err   string
}

func (l *captureLogger) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatal != ""
}

func (l *captureLogger) reason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.fatal != "":
		return ": " + l.fatal
	case l.err != "":
		return ": " + l.err
	default:
		return ""
	}
}

func (l *captureLogger) Noticef(format string, v ...any) {
	if l.next != nil {
		l.next.Noticef(format, v...)
	}
}

func (l *captureLogger) Warnf(format string, v ...any) {
	if l.next != nil {
		l.next.Warnf(format, v...)
	}
}

// Fatalf must not exit: the server's own logger would end the process.
func (l *captureLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.fatal = msg
	l.mu.Unlock()
	if l.next != nil {
		l.next.Errorf("fatal: %s", msg)
	}
}

func (l *captureLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.err = msg
	l.mu.Unlock()
	if l.next != nil {
		l.next.Errorf("%s", msg)
	}
}

func (l *captureLogger) Debugf(format string, v ...any) {
	if l.next != nil {
		l.next.Debugf(format, v...)
	}
}

func (l *captureLogger) Tracef(format string, v ...any) {
	if l.next != nil {
		l.next.Tracef(format, v...)
	}
}
