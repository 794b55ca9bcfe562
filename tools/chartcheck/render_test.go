package chartcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// kubeVersion is the oldest Kubernetes the chart supports (Chart.yaml
// kubeVersion): native gRPC probes are GA from 1.27.
const kubeVersion = "v1.27.0"

const (
	releaseName = "kesu"
	namespace   = "kesu"
)

// repoRoot is the repository root, found from this file's location so the
// tests run from any working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "kesu") }

// valuesFiles are the values files we ship and render in CI, by name.
func valuesFiles(t testing.TB) map[string][]string {
	root := repoRoot(t)
	return map[string][]string{
		"default":    nil,
		"production": {filepath.Join(root, "charts", "kesu", "values-production.yaml")},
		"staging":    {filepath.Join(root, "deploy", "overlays", "staging", "kesu-values.yaml")},
	}
}

// loadedChart is the chart loaded once per test binary: rendering does not
// modify it, and helm logs a line per load for the policy symlink.
var loadedChart = sync.OnceValues(func() (*chart.Chart, error) {
	_, file, _, _ := runtime.Caller(0)
	return loader.Load(filepath.Join(filepath.Dir(file), "..", "..", "charts", "kesu"))
})

func loadChart(t testing.TB) *chart.Chart {
	t.Helper()
	c, err := loadedChart()
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// userValues merges values files and then overrides, later winning, as
// `helm -f a.yaml -f b.yaml --set …` does.
func userValues(t testing.TB, files []string, overrides ...map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		out = mergeMaps(out, v.AsMap())
	}
	for _, o := range overrides {
		out = mergeMaps(out, o)
	}
	return out
}

// mergeMaps is helm's own merge of -f files (pkg/cli/values): maps merge
// recursively, anything else is replaced.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bv, ok := v.(map[string]any); ok {
			if av, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(av, bv)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Rendered is one `helm template` run: the release objects in install order
// and the hooks.
type Rendered struct {
	Objects []Object
	Hooks   []Object
}

// Object is one rendered manifest with where it came from.
type Object struct {
	Source     string // template path
	APIVersion string
	Kind       string
	Name       string
	YAML       []byte
	// Hook fields (hooks only).
	HookEvents []string
	HookWeight int
	// Decoded is the strictly decoded typed object.
	Decoded any
}

func (o Object) String() string { return fmt.Sprintf("%s %s (%s)", o.Kind, o.Name, o.Source) }

// render is `helm template` with helm's packages: schema validation,
// kubeVersion check, engine render, split and sort into release objects and
// hooks.
func render(t testing.TB, vals map[string]any) (Rendered, error) {
	t.Helper()
	c := loadChart(t)
	caps := chartutil.DefaultCapabilities.Copy()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps.KubeVersion = *kv
	caps.APIVersions = append(caps.APIVersions, "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor")
	if c.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(c.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return Rendered{}, fmt.Errorf("chart requires kubeVersion %s, which is incompatible with %s", c.Metadata.KubeVersion, caps.KubeVersion.String())
	}
	top, err := chartutil.ToRenderValues(c, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return Rendered{}, err
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return Rendered{}, err
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return Rendered{}, err
	}
	var r Rendered
	for _, m := range manifests {
		r.Objects = append(r.Objects, Object{
			Source: m.Name, APIVersion: m.Head.Version, Kind: m.Head.Kind,
			Name: m.Head.Metadata.Name, YAML: []byte(m.Content),
		})
	}
	for _, h := range hooks {
		o := Object{Source: h.Path, Kind: h.Kind, Name: h.Name, YAML: []byte(h.Manifest), HookWeight: h.Weight}
		for _, e := range h.Events {
			o.HookEvents = append(o.HookEvents, string(e))
		}
		sort.Strings(o.HookEvents)
		var head struct {
			APIVersion string `json:"apiVersion"`
		}
		if err := yaml.Unmarshal(o.YAML, &head); err != nil {
			return Rendered{}, fmt.Errorf("hook %s: %w", o, err)
		}
		o.APIVersion = head.APIVersion
		r.Hooks = append(r.Hooks, o)
	}
	return r, nil
}

// mustRender renders and strictly decodes every object, failing the test on
// any error.
func mustRender(t testing.TB, vals map[string]any) Rendered {
	t.Helper()
	r, err := render(t, vals)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	for _, list := range []*[]Object{&r.Objects, &r.Hooks} {
		for i := range *list {
			o := &(*list)[i]
			d, err := decodeStrict(o.YAML)
			if err != nil {
				t.Fatalf("%s does not decode strictly: %v\n%s", o, err, o.YAML)
			}
			o.Decoded = d
		}
	}
	return r
}

// all is objects and hooks together.
func (r Rendered) all() []Object { return slices.Concat(r.Objects, r.Hooks) }

// manifest joins everything, as `helm template` prints it (for messages).
func (r Rendered) manifest() string {
	var b bytes.Buffer
	for _, o := range r.all() {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", o.Source, o.YAML)
	}
	return b.String()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
