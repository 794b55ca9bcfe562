// Package natstest starts real NATS servers with JetStream for tests: a single
// node like a dev install, or an in-process cluster like production, so tests
// see the behaviour each really has (they differ, DESIGN.md §2). Servers listen
// on 127.0.0.1 on free ports, keep their stores in t.TempDir() and are shut
// down by t.Cleanup.
package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kesu315/kesu/services/kit/natsembed"
)

// readyWait bounds how long the harness waits for a server or cluster; a
// cluster needs a few election rounds, so this is generous.
const readyWait = 60 * time.Second

// Server is a single-node JetStream server.
type Server struct {
	// Srv is the running server.
	Srv *server.Server
	// URL is the client URL (nats://127.0.0.1:port).
	URL string
	// StoreDir is the JetStream store directory.
	StoreDir string
}

// StartServer starts a single node with `sync always`, as a single-node
// install runs (DESIGN.md §10). modify, if given, may adjust the options.
func StartServer(t testing.TB, modify ...func(*natsembed.Options)) *Server {
	t.Helper()
	opts := natsembed.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		StoreDir:   t.TempDir(),
		ServerName: "kesu-test",
		SyncAlways: true,
	}
	for _, m := range modify {
		m(&opts)
	}
	s, err := natsembed.Start(opts)
	if err != nil {
		t.Fatalf("natstest: start server: %v", err)
	}
	t.Cleanup(func() { natsembed.Stop(s) })
	return &Server{Srv: s, URL: natsembed.ClientURL(s), StoreDir: opts.StoreDir}
}

// Connect opens a client connection that is closed at cleanup.
func (s *Server) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return connect(t, s.URL, opts...)
}

// JetStream opens a new connection and returns a JetStream handle on it.
func (s *Server) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return newJetStream(t, s.Connect(t))
}

// Cluster is an in-process JetStream cluster.
type Cluster struct {
	// Servers are the members, in start order. Stop one with StopServer.
	Servers []*server.Server
	// URLs is the comma-separated client URL list for nats.Connect.
	URLs string
	// Name is the cluster name.
	Name string

	stopped []bool
}

// StartCluster starts n nodes (n >= 2; use 3 for the production shape) with
// random client and route ports on 127.0.0.1, each store in its own TempDir,
// every node configured with the routes of all nodes (as a production
// config is, so each knows the cluster size from the start). It returns once
// a meta leader is elected, sees all n peers, every node is current and a
// client can use JetStream.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 2 {
		t.Fatalf("natstest: StartCluster: n=%d, a JetStream cluster needs at least 2 nodes", n)
	}
	var lastErr error
	// Route ports are picked free just before the servers bind them; another
	// process could grab one in between, so a failed start is retried on
	// fresh ports.
	for range 3 {
		c, err := startCluster(t, n)
		if err == nil {
			c.waitReady(t)
			return c
		}
		lastErr = err
	}
	t.Fatalf("natstest: start cluster: %v", lastErr)
	return nil
}

func startCluster(t testing.TB, n int) (*Cluster, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	routes := make([]string, n)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	c := &Cluster{Name: "kesu-test", stopped: make([]bool, n)}
	var urls []string
	for i := range n {
		s, err := natsembed.Start(natsembed.Options{
			Host:        "127.0.0.1",
			Port:        -1,
			StoreDir:    t.TempDir(),
			ServerName:  fmt.Sprintf("kesu-test-%d", i+1),
			ClusterName: c.Name,
			ClusterPort: ports[i],
			Routes:      routes,
			// Replicated streams recover from their peers, so members keep
			// the default flush interval like production.
		})
		if err != nil {
			for _, started := range c.Servers {
				natsembed.Stop(started)
			}
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		c.Servers = append(c.Servers, s)
		urls = append(urls, natsembed.ClientURL(s))
	}
	for i, s := range c.Servers {
		t.Cleanup(func() {
			if !c.stopped[i] {
				natsembed.Stop(s)
			}
		})
	}
	c.URLs = strings.Join(urls, ",")
	return c, nil
}

// freePorts asks the OS for n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free route port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls until the meta group has a leader that sees every member,
// all members are current, and a client's JetStream account request works.
func (c *Cluster) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	var last string
	for time.Now().Before(deadline) {
		if ok, why := c.metaReady(); !ok {
			last = why
			time.Sleep(25 * time.Millisecond)
			continue
		}
		if err := c.jetStreamUsable(); err != nil {
			last = err.Error()
			time.Sleep(25 * time.Millisecond)
			continue
		}
		return
	}
	t.Fatalf("natstest: cluster not ready after %s: %s", readyWait, last)
}

func (c *Cluster) metaReady() (bool, string) {
	var leader *server.Server
	live := 0
	for i, s := range c.Servers {
		if c.stopped[i] {
			continue
		}
		live++
		if s.JetStreamIsLeader() {
			leader = s
		}
	}
	if leader == nil {
		return false, "no JetStream meta leader yet"
	}
	if peers := leader.JetStreamClusterPeers(); len(peers) < live {
		return false, fmt.Sprintf("meta leader %s sees %d of %d peers", leader.Name(), len(peers), live)
	}
	for i, s := range c.Servers {
		if !c.stopped[i] && !s.JetStreamIsCurrent() {
			return false, fmt.Sprintf("%s is not current with the meta group", s.Name())
		}
	}
	return true, ""
}

func (c *Cluster) jetStreamUsable() error {
	for i, s := range c.Servers {
		if c.stopped[i] {
			continue
		}
		nc, err := nats.Connect(natsembed.ClientURL(s), nats.NoReconnect())
		if err != nil {
			return fmt.Errorf("connect %s: %w", s.Name(), err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = js.AccountInfo(ctx)
		cancel()
		nc.Close()
		if err != nil {
			return fmt.Errorf("JetStream account info via %s: %w", s.Name(), err)
		}
	}
	return nil
}

// Connect opens a client connection to the cluster (any member, reconnecting
// to the others) that is closed at cleanup.
func (c *Cluster) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return connect(t, c.URLs, opts...)
}

// JetStream opens a new connection and returns a JetStream handle on it.
func (c *Cluster) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return newJetStream(t, c.Connect(t))
}

// StreamLeader is the member leading stream (in the default account), or nil.
func (c *Cluster) StreamLeader(stream string) *server.Server {
	for i, s := range c.Servers {
		if !c.stopped[i] && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return s
		}
	}
	return nil
}

// WaitStreamLeader polls until stream has a leader and returns it.
func (c *Cluster) WaitStreamLeader(t testing.TB, stream string) *server.Server {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for time.Now().Before(deadline) {
		if s := c.StreamLeader(stream); s != nil {
			return s
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("natstest: stream %s has no leader after %s", stream, readyWait)
	return nil
}

// StopServer shuts member s down (to test a node loss) and waits until the
// remaining members have a meta leader again.
func (c *Cluster) StopServer(t testing.TB, s *server.Server) {
	t.Helper()
	for i, m := range c.Servers {
		if m == s {
			natsembed.Stop(m)
			c.stopped[i] = true
			deadline := time.Now().Add(readyWait)
			for time.Now().Before(deadline) {
				for j, o := range c.Servers {
					if !c.stopped[j] && o.JetStreamIsLeader() {
						return
					}
				}
				time.Sleep(25 * time.Millisecond)
			}
			t.Fatalf("natstest: no meta leader after stopping %s", s.Name())
		}
	}
	t.Fatalf("natstest: StopServer: %v is not a member of this cluster", s)
}

func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.Name(t.Name()), nats.MaxReconnects(-1)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func newJetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return js
}
