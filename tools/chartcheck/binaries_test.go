package chartcheck

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kesu315/kesu/services/kit/pgtest"
	"github.com/kesu315/kesu/services/kit/runtimeconfig"
	"github.com/kesu315/kesu/services/kit/service/servicetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// dockerBuild is the build step of build/Dockerfile; the test checks the
// Dockerfile still says so, then builds the same way.
const (
	dockerCGO   = "CGO_ENABLED=0"
	dockerBuild = `go build -trimpath -ldflags="-s -w -X github.com/kesu315/kesu/services/kit/service.Version=${VERSION}"`
	// imageVersion stands for the VERSION build argument.
	imageVersion = "9.9.9-chartcheck"
)

// images are the main packages build/Dockerfile builds (`make images`).
var images = []string{
	"services/intake/cmd/intake", "services/routing/cmd/routing", "services/escalation/cmd/escalation",
	"services/followup/cmd/followup", "services/reporting/cmd/reporting", "tools/kesuctl",
}

// buildImages builds every image's binary as the Dockerfile does, in one go
// command so the packages they share compile once.
func buildImages(t *testing.T) map[string]string {
	t.Helper()
	root := repoRoot(t)
	df := string(readFile(t, filepath.Join(root, "build", "Dockerfile")))
	for _, want := range []string{dockerCGO, dockerBuild, "USER 65532:65532", "distroless/static"} {
		if !strings.Contains(df, want) {
			t.Fatalf("build/Dockerfile no longer contains %q: update this test to build as it does", want)
		}
	}
	mk := string(readFile(t, filepath.Join(root, "Makefile")))
	for _, img := range images {
		if !strings.Contains(mk, img) {
			t.Errorf("`make images` does not build %s", img)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := t.TempDir()
	args := []string{"build", "-trimpath", "-ldflags=-s -w -X github.com/kesu315/kesu/services/kit/service.Version=" + imageVersion, "-o", out + string(filepath.Separator)}
	for _, img := range images {
		args = append(args, "./"+img)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), dockerCGO, "GOFLAGS=-buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	bins := map[string]string{}
	for _, img := range images {
		bins[filepath.Base(img)] = filepath.Join(out, filepath.Base(img))
	}
	return bins
}

// The image binaries are static: distroless/static has no libc, so a
// dynamically linked binary would not even start there.
func checkStatic(t *testing.T, name, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: it is dynamically linked", name)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", name, libs)
	}
}

// podFS materialises a pod's volumes in a temporary directory (ConfigMaps
// from the rendered objects, Secrets from secrets by name and key) and maps
// container paths into it, as the kubelet would.
type podFS struct {
	root   string
	mounts map[string]string // mount path → host dir
}

func newPodFS(t *testing.T, r Rendered, pod corev1.PodSpec, c corev1.Container, secrets map[string]map[string][]byte) *podFS {
	t.Helper()
	fsys := &podFS{root: t.TempDir(), mounts: map[string]string{}}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	configMaps := map[string]map[string]string{}
	for _, o := range r.all() {
		if cm, ok := o.Decoded.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = cm.Data
		}
	}
	for _, m := range c.VolumeMounts {
		dir := filepath.Join(fsys.root, m.MountPath)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		fsys.mounts[m.MountPath] = dir
		v := vols[m.Name]
		write := func(key, path string, data []byte) {
			if data == nil {
				t.Fatalf("volume %s: no test data for key %s", m.Name, key)
			}
			if err := os.WriteFile(filepath.Join(dir, path), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case v.ConfigMap != nil:
			for _, it := range v.ConfigMap.Items {
				data, ok := configMaps[v.ConfigMap.Name][it.Key]
				if !ok {
					t.Fatalf("volume %s: configmap %s has no key %s", m.Name, v.ConfigMap.Name, it.Key)
				}
				write(it.Key, it.Path, []byte(data))
			}
		case v.Secret != nil:
			for _, it := range v.Secret.Items {
				write(it.Key, it.Path, secrets[v.Secret.SecretName][it.Key])
			}
		}
	}
	return fsys
}

// path maps a container path to the host.
func (f *podFS) path(p string) string {
	best := ""
	for m := range f.mounts {
		if (p == m || strings.HasPrefix(p, strings.TrimSuffix(m, "/")+"/")) && len(m) > len(best) {
			best = m
		}
	}
	if best == "" {
		return p
	}
	return filepath.Join(f.mounts[best], strings.TrimPrefix(p, best))
}

// containerEnv is the environment the kubelet gives c: values, $(VAR)
// references, field and resource references, secret keys, with paths under
// mounts mapped to fsys. override replaces what cannot be the same in a
// test (listen addresses, server URLs).
func containerEnv(t *testing.T, c corev1.Container, fsys *podFS, secrets map[string]map[string][]byte, override map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		var v string
		switch {
		case e.ValueFrom == nil:
			v = envRef.ReplaceAllStringFunc(e.Value, func(ref string) string { return env[ref[2:len(ref)-1]] })
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			b, ok := secrets[ref.Name][ref.Key]
			if !ok {
				t.Fatalf("%s: no test data for secret %s key %s", e.Name, ref.Name, ref.Key)
			}
			v = string(b)
		case e.ValueFrom.FieldRef != nil:
			v = map[string]string{"metadata.name": "kesu-" + c.Name + "-5d8f7c9b4-x2x7q", "metadata.namespace": namespace}[e.ValueFrom.FieldRef.FieldPath]
		case e.ValueFrom.ResourceFieldRef != nil:
			q := c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(e.ValueFrom.ResourceFieldRef.Resource, "limits."))]
			v = strconv.FormatInt(q.Value(), 10)
		default:
			t.Fatalf("%s: unsupported valueFrom %+v", e.Name, e.ValueFrom)
		}
		if strings.HasPrefix(v, "/") {
			v = fsys.path(v)
		}
		env[e.Name] = v
	}
	for k, v := range override {
		if _, ok := env[k]; !ok {
			continue
		}
		env[k] = v
	}
	return env
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// The binaries `make images` puts in the images are static, and each one
// runs on exactly what the chart gives its container (staging values: prod
// mode, NATS over TLS with the CA from its Secret and the service's own
// JWT credentials, the policy from the ConfigMap, PostgreSQL, traces on):
// kesuctl's stream-setup job succeeds, every migration job exits 0, every
// service serves gRPC health, becomes ready, and exits 0 on SIGTERM within
// the pod's termination grace period.
func TestImagesRunOnTheChartsEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every image binary")
	}
	bins := buildImages(t)
	for name, path := range bins {
		checkStatic(t, name, path)
	}

	table, _ := readPermissionTable(t)
	resolver, creds := identities(t, table)
	ns, ca := natsServer(t, resolver)
	natsURL := strings.Replace(ns.ClientURL(), "nats://", "tls://", 1)
	dbURL := pgtest.NewDBURL(t)

	vals := userValues(t, valuesFiles(t)["staging"])
	r := mustRender(t, vals)
	secrets := map[string]map[string][]byte{
		"kesu-pg-app":  {"uri": []byte(dbURL)},
		"kesu-pii-kek": {"kek": []byte(base64.StdEncoding.EncodeToString(randomBytes(t, 32)))},
		"kesu-auth":    {"hmac-key": []byte(hex.EncodeToString(randomBytes(t, 32)))},
		"nats-ca":      {"ca.crt": readFile(t, ca)},
	}
	for user, c := range creds {
		secrets["kesu-nats-"+user] = map[string][]byte{"nats.creds": c}
	}
	sink := startTraceSink(t)
	override := map[string]string{
		"NATS_URL":       natsURL,
		"KESU_GRPC_ADDR": "127.0.0.1:0",
		"KESU_HTTP_ADDR": "127.0.0.1:0",
		// The test server is one node; the chart asks for R3.
		"KESU_STREAM_REPLICAS": "1",
		// A collector on loopback instead of the cluster's.
		"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(bin string, pod corev1.PodSpec, c corev1.Container) (int, string) {
		t.Helper()
		fsys := newPodFS(t, r, pod, c, secrets)
		env := containerEnv(t, c, fsys, secrets, override)
		return servicetest.Exec(t, ctx, bin, env, c.Args...)
	}

	// Hooks first, in weight order, as helm runs them.
	hooks := slices.Clone(r.Hooks)
	slices.SortStableFunc(hooks, func(a, b Object) int { return a.HookWeight - b.HookWeight })
	migrated := 0
	for _, h := range hooks {
		job, ok := h.Decoded.(*batchv1.Job)
		if !ok {
			continue
		}
		pod := job.Spec.Template.Spec
		c := pod.Containers[0]
		bin := bins["kesuctl"]
		if !slices.Contains(c.Args, "streams") {
			bin = bins[serviceOfJob("Job "+job.Name)]
			migrated++
		}
		if code, out := run(bin, pod, c); code != 0 {
			t.Fatalf("job %s (%s %s) exited %d:\n%s", job.Name, filepath.Base(bin), strings.Join(c.Args, " "), code, out)
		}
	}
	if migrated != len(runtimeconfig.DefaultAddrs) {
		t.Fatalf("%d migration jobs ran, want one per service", migrated)
	}

	for _, d := range deployments(r) {
		t.Run(d.Name, func(t *testing.T) {
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			fsys := newPodFS(t, r, pod, c, secrets)
			env := containerEnv(t, c, fsys, secrets, override)
			p := servicetest.Start(t, bins[c.Name], env, c.Args...)
			st, err := servicetest.Health(ctx, p.GRPCAddr, "")
			if err != nil || st != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("gRPC health (the probes' check) = %v, %v\n%s", st, err, p.Logs())
			}
			waitReady(t, ctx, "http://"+p.HTTPAddr+"/readyz", p)
			if !strings.Contains(p.Logs(), `"version":"`+imageVersion+`"`) {
				t.Fatalf("the image's VERSION is not what the binary reports:\n%s", p.Logs())
			}
			grace := time.Duration(ptrOr(pod.TerminationGracePeriodSeconds, 30)) * time.Second
			sctx, scancel := context.WithTimeout(ctx, grace)
			defer scancel()
			if code := p.Stop(t, sctx); code != 0 {
				t.Fatalf("exit code after SIGTERM = %d, want 0\n%s", code, p.Logs())
			}
			// The health check was traced and flushed at shutdown, with
			// the resource attributes the chart sets.
			if !sink.has(c.Name, "k8s.deployment.name", d.Name) {
				t.Errorf("no span from %s with k8s.deployment.name=%s reached the collector; got resources %v", c.Name, d.Name, sink.seen())
			}
		})
	}
}

func waitReady(t *testing.T, ctx context.Context, url string, p *servicetest.Process) {
	t.Helper()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("/readyz: %v\n%s", err, p.Logs())
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/readyz never became 200 (last %d)\n%s", resp.StatusCode, p.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// traceSink is an OTLP/gRPC trace receiver on loopback: the services export
// to it as they would to the collector, and the test reads what arrived.
type traceSink struct {
	coltracepb.UnimplementedTraceServiceServer
	endpoint string
	mu       sync.Mutex
	got      []map[string]string // resource attributes of each batch
}

func startTraceSink(t *testing.T) *traceSink {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &traceSink{endpoint: "http://" + lis.Addr().String()}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, s)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s
}

func (s *traceSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		attrs := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		n := 0
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
		if n > 0 {
			s.got = append(s.got, attrs)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (s *traceSink) has(service, key, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.got {
		if a["service.name"] == service && a[key] == value {
			return true
		}
	}
	return false
}

func (s *traceSink) seen() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}
