package chartcheck

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	corev1 "k8s.io/api/core/v1"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// permissions is one user's row of deploy/nats/nsc-setup.sh's table.
type permissions struct{ allowPub, denyPub, allowSub []string }

var (
	shellVar  = regexp.MustCompile(`^([A-Z_]+)='([^']*)'$`)
	permLine  = regexp.MustCompile(`^(ALLOW_PUB|DENY_PUB|ALLOW_SUB)\[([a-z]+)\]=(?:'([^']*)'|"([^"]*)")$`)
	usersLine = regexp.MustCompile(`^USERS=\(([a-z ]+)\)$`)
	varRef    = regexp.MustCompile(`\$([A-Z_]+)`)
)

// readPermissionTable parses the table in nsc-setup.sh: single-quoted values
// are literal (they hold $JS subjects), double-quoted ones expand the
// script's own variables.
func readPermissionTable(t *testing.T) (map[string]permissions, []string) {
	t.Helper()
	path := filepath.Join(repoRoot(t), "deploy", "nats", "nsc-setup.sh")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	table := map[string]permissions{}
	var users []string
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := shellVar.FindStringSubmatch(line); m != nil {
			vars[m[1]] = m[2]
			continue
		}
		if m := usersLine.FindStringSubmatch(line); m != nil {
			users = strings.Fields(m[1])
			continue
		}
		m := permLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		value := m[3]
		if m[4] != "" {
			value = varRef.ReplaceAllStringFunc(m[4], func(ref string) string {
				v, ok := vars[ref[1:]]
				if !ok {
					t.Fatalf("nsc-setup.sh: %s refers to undefined %s", line, ref)
				}
				return v
			})
		}
		p := table[m[2]]
		switch m[1] {
		case "ALLOW_PUB":
			p.allowPub = split(value)
		case "DENY_PUB":
			p.denyPub = split(value)
		case "ALLOW_SUB":
			p.allowSub = split(value)
		}
		table[m[2]] = p
	}
	if len(users) == 0 || len(table) != len(users) {
		t.Fatalf("nsc-setup.sh: users %v, permission rows for %d users", users, len(table))
	}
	return table, users
}

// identities issues what nsc-setup.sh makes with nsc: an operator, SYS, the
// KESU account with JetStream, one user per row of the table. It returns
// resolver.conf (as `nsc generate config --mem-resolver` writes it) and
// each user's creds file contents.
func identities(t *testing.T, table map[string]permissions) (string, map[string][]byte) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	newAccount := func(name string, js bool) (nkeys.KeyPair, string, string) {
		kp, err := nkeys.CreateAccount()
		must(err)
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{DiskStorage: -1, MemoryStorage: -1, Streams: -1, Consumer: -1}
		}
		tok, err := ac.Encode(okp)
		must(err)
		return kp, pub, tok
	}
	_, sysPub, sysJWT := newAccount("SYS", false)
	akp, apub, aJWT := newAccount("KESU", true)
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "kesu"
	oc.SystemAccount = sysPub
	oJWT, err := oc.Encode(okp)
	must(err)

	creds := map[string][]byte{}
	for name, p := range table {
		ukp, err := nkeys.CreateUser()
		must(err)
		upub, _ := ukp.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.Name = name
		uc.Pub.Allow.Add(p.allowPub...)
		uc.Pub.Deny.Add(p.denyPub...)
		uc.Sub.Allow.Add(p.allowSub...)
		tok, err := uc.Encode(akp)
		must(err)
		seed, _ := ukp.Seed()
		c, err := jwt.FormatUserConfig(tok, seed)
		must(err)
		creds[name] = c
	}
	resolver := fmt.Sprintf("operator: %s\nsystem_account: %s\nresolver: MEMORY\nresolver_preload: {\n  %s: %s\n  %s: %s\n}\n",
		oJWT, sysPub, sysPub, sysJWT, apub, aJWT)
	return resolver, creds
}

// writeTLS makes a CA and a server certificate for 127.0.0.1 in dir as the
// nats-server-tls Secret holds them (tls.crt, tls.key, ca.crt).
func writeTLS(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(dir, 0o700))
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kesu test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(err)
	ca, err := x509.ParseCertificate(caDER)
	must(err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(err)
	write := func(name, typ string, b []byte) {
		must(os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600))
	}
	write("ca.crt", "CERTIFICATE", caDER)
	write("tls.crt", "CERTIFICATE", der)
	write("tls.key", "EC PRIVATE KEY", keyDER)
}

// natsServer lays out the files as the StatefulSet mounts them (config/,
// auth/, tls/ side by side), parses deploy/nats's nats.conf with the real
// server's parser, checks what it configures, then runs it as a single node
// on a free port.
func natsServer(t *testing.T, resolver string) (*server.Server, string) {
	t.Helper()
	var conf string
	for _, o := range kustomize(t, filepath.Join(repoRoot(t), "deploy", "nats")).Objects {
		if cm, ok := o.Decoded.(*corev1.ConfigMap); ok {
			conf = cm.Data["nats.conf"]
		}
	}
	if conf == "" {
		t.Fatal("deploy/nats renders no nats.conf")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "data", "jetstream")
	conf = strings.NewReplacer(
		"/etc/nats/tls/", filepath.Join(dir, "tls")+"/",
		"/data/jetstream", store,
		"/var/run/nats/", filepath.Join(dir, "run")+"/",
	).Replace(conf)
	for _, d := range []string{"config", "auth", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeTLS(t, filepath.Join(dir, "tls"))
	if err := os.WriteFile(filepath.Join(dir, "auth", "resolver.conf"), []byte(resolver), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config", "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// The StatefulSet's environment.
	t.Setenv("SERVER_NAME", "nats-0")
	t.Setenv("JS_MAX_FILE_STORE", "10G")
	t.Setenv("JS_MAX_MEMORY_STORE", "64M")

	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server rejects deploy/nats/nats.conf: %v", err)
	}
	switch {
	case opts.ServerName != "nats-0":
		t.Errorf("server_name = %q, want the pod name", opts.ServerName)
	case !opts.JetStream || opts.StoreDir != store || opts.JetStreamMaxStore != 10_000_000_000:
		t.Errorf("jetstream: enabled %v, store %q, max file %d", opts.JetStream, opts.StoreDir, opts.JetStreamMaxStore)
	case opts.TLSConfig == nil || opts.Cluster.TLSConfig == nil:
		t.Error("TLS is not on for clients and routes")
	case opts.Cluster.Name != "kesu" || len(opts.Routes) != 3 || opts.Cluster.Port != 6222:
		t.Errorf("cluster %q port %d with %d routes, want kesu on 6222 with all three nodes", opts.Cluster.Name, opts.Cluster.Port, len(opts.Routes))
	case len(opts.TrustedOperators) != 1 || opts.SystemAccount == "":
		t.Error("operator (JWT) auth is not configured by the included resolver.conf")
	case opts.LameDuckDuration <= 0 || opts.MaxPayload != 1<<20:
		t.Errorf("lame duck %s, max payload %d", opts.LameDuckDuration, opts.MaxPayload)
	}

	// Run it as one node here: the routes name pods that do not exist.
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
	opts.NoSigs, opts.NoLog, opts.PidFile = true, true, ""
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("start nats-server with deploy/nats/nats.conf: %v", err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s, filepath.Join(dir, "tls", "ca.crt")
}

type natsUser struct {
	name   string
	nc     *nats.Conn
	js     jetstream.JetStream
	denied chan error
}

func connectAs(t *testing.T, s *server.Server, ca, name string, creds []byte) *natsUser {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".creds")
	if err := os.WriteFile(file, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	u := &natsUser{name: name, denied: make(chan error, 16)}
	nc, err := nats.Connect(s.ClientURL(), nats.UserCredentials(file), nats.RootCAs(ca), nats.Name(name),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				select {
				case u.denied <- err:
				default:
				}
			}
		}))
	if err != nil {
		t.Fatalf("connect as %s over TLS with its creds: %v", name, err)
	}
	t.Cleanup(nc.Close)
	u.nc = nc
	if u.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return u
}

// try runs op and reports whether NATS refused it with a permissions
// violation (false: it succeeded). An op that fails any other way fails the
// test: the permission table must be what decides.
func (u *natsUser) try(t *testing.T, what string, op func(context.Context) error) (denied bool) {
	t.Helper()
	for len(u.denied) > 0 {
		<-u.denied
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case <-u.denied:
		cancel()
		<-done
		return true
	case err := <-done:
		if errors.Is(err, nats.ErrPermissionViolation) {
			return true
		}
		if err == nil {
			return false
		}
		// The violation may arrive just after the op gave up.
		select {
		case <-u.denied:
			return true
		case <-time.After(2 * time.Second):
		}
		t.Fatalf("%s %s: failed without a permission violation: %v", u.name, what, err)
	}
	return false
}

func (u *natsUser) mustAllow(t *testing.T, what string, op func(context.Context) error) {
	t.Helper()
	if u.try(t, what, op) {
		t.Errorf("%s may not %s; the service needs it", u.name, what)
	}
}

func (u *natsUser) mustDeny(t *testing.T, what string, op func(context.Context) error) {
	t.Helper()
	if !u.try(t, what, op) {
		t.Errorf("%s may %s; nsc-setup.sh should not allow it", u.name, what)
	}
}

// deploy/nats/nats.conf runs under the real server with TLS and JWT auth,
// and the per-service users of nsc-setup.sh's table can each do their work
// and nothing else.
func TestNATSConfigAndPerServicePermissions(t *testing.T) {
	table, users := readPermissionTable(t)
	resolver, creds := identities(t, table)
	s, ca := natsServer(t, resolver)
	as := map[string]*natsUser{}
	for _, name := range users {
		as[name] = connectAs(t, s, ca, name, creds[name])
	}
	for _, need := range []string{"admin", "intake", "routing", "escalation", "followup", "reporting", "connector"} {
		if as[need] == nil {
			t.Fatalf("nsc-setup.sh has no %s user", need)
		}
	}
	cfg := eventstore.Config{Replicas: 1, MaxBytes: 64 << 20}
	ensure := func(u *natsUser) func(context.Context) error {
		return func(ctx context.Context) error { return eventstore.EnsureAll(ctx, u.js, cfg) }
	}
	publish := func(u *natsUser, subject string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := u.js.Publish(ctx, subject, []byte("{}"))
			return err
		}
	}
	corePublish := func(u *natsUser, subject string) func(context.Context) error {
		return func(ctx context.Context) error {
			if err := u.nc.Publish(subject, []byte("{}")); err != nil {
				return err
			}
			if err := u.nc.FlushWithContext(ctx); err != nil {
				return err
			}
			// A refused core publish gets no reply, only an asynchronous
			// -ERR that arrives before the flush's PONG but is handed to
			// the error handler on another goroutine: give it that moment.
			select {
			case err := <-u.denied:
				return err
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
				return nil
			}
		}
	}
	consume := func(u *natsUser, stream, durable string) func(context.Context) error {
		return func(ctx context.Context) error {
			c, err := u.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy})
			if err != nil {
				return err
			}
			batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				return err
			}
			n := 0
			for m := range batch.Messages() {
				n++
				if err := m.DoubleAck(ctx); err != nil {
					return err
				}
			}
			if n == 0 {
				return fmt.Errorf("%s: no message fetched", durable)
			}
			return batch.Error()
		}
	}
	directGet := func(u *natsUser, subject string) func(context.Context) error {
		return func(ctx context.Context) error {
			st, err := u.js.Stream(ctx, eventstore.StreamComplaints)
			if err != nil {
				return err
			}
			_, err = st.GetLastMsgForSubject(ctx, subject)
			return err
		}
	}
	streamOp := func(u *natsUser, op string, stream string) func(context.Context) error {
		return func(ctx context.Context) error {
			if op == "delete" {
				return u.js.DeleteStream(ctx, stream)
			}
			st, err := u.js.Stream(ctx, stream)
			if err != nil {
				return err
			}
			return st.Purge(ctx)
		}
	}
	const subject = "complaints.0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

	// The stream-setup job's user creates the streams and can do nothing else.
	admin := as["admin"]
	admin.mustAllow(t, "create the streams (kesuctl streams)", ensure(admin))
	admin.mustAllow(t, "re-apply the streams on upgrade", ensure(admin))
	admin.mustDeny(t, "publish a complaint event", corePublish(admin, subject))
	admin.mustDeny(t, "delete a stream", streamOp(admin, "delete", eventstore.StreamAlerts))

	conn := as["connector"]
	conn.mustAllow(t, "publish to INBOUND", publish(conn, "inbound.complaints.tmall"))
	conn.mustDeny(t, "publish a complaint event", corePublish(conn, subject))
	conn.mustDeny(t, "read stream info", func(ctx context.Context) error {
		_, err := conn.js.Stream(ctx, eventstore.StreamComplaints)
		return err
	})

	intake := as["intake"]
	intake.mustAllow(t, "ensure the streams at start-up", ensure(intake))
	intake.mustAllow(t, "append a complaint event", publish(intake, subject))
	intake.mustAllow(t, "consume INBOUND", consume(intake, eventstore.StreamInbound, "intake-inbound"))
	intake.mustAllow(t, "keep its request-id bucket", func(ctx context.Context) error {
		kv, err := intake.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "INTAKE_REQUESTS"})
		if err != nil {
			return err
		}
		_, err = kv.Create(ctx, "req-1", []byte("c-1"))
		return err
	})
	intake.mustDeny(t, "raise an alert", corePublish(intake, "alerts.media"))

	for _, name := range []string{"routing", "escalation", "followup"} {
		u := as[name]
		u.mustAllow(t, "append a complaint event", publish(u, subject))
		u.mustAllow(t, "load a complaint by direct get", directGet(u, subject))
		u.mustAllow(t, "run its projection consumer", consume(u, eventstore.StreamComplaints, name+"-complaints"))
		u.mustDeny(t, "change the stream configuration", ensure(u))
	}
	as["escalation"].mustAllow(t, "raise an alert", publish(as["escalation"], "alerts.media"))
	as["routing"].mustDeny(t, "raise an alert", corePublish(as["routing"], "alerts.media"))

	rep := as["reporting"]
	rep.mustAllow(t, "run its projection consumer", consume(rep, eventstore.StreamComplaints, "reporting-complaints"))
	rep.mustAllow(t, "load a complaint by direct get", directGet(rep, subject))
	rep.mustDeny(t, "append a complaint event", corePublish(rep, subject))
	rep.mustDeny(t, "raise an alert", corePublish(rep, "alerts.media"))

	for _, name := range []string{"intake", "routing", "escalation", "followup", "reporting"} {
		as[name].mustDeny(t, "delete COMPLAINTS", streamOp(as[name], "delete", eventstore.StreamComplaints))
		as[name].mustDeny(t, "purge INBOUND", streamOp(as[name], "purge", eventstore.StreamInbound))
	}
}
