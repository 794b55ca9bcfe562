package chartcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kesu315/kesu/services/kit/eventstore"
)

// kustomizations are the deploy/ directories `kubectl apply -k` takes.
var kustomizations = []string{"nats", "postgres", "otel", "overlays/staging"}

// standalone are manifests applied on their own (optional extras).
var standalone = []string{"nats/tls/certificate.yaml"}

// kustomize is `kubectl kustomize dir`, strictly decoding every object.
func kustomize(t *testing.T, dir string) Rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var r Rendered
	for _, res := range rm.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		o := Object{Source: dir, APIVersion: res.GetApiVersion(), Kind: res.GetKind(), Name: res.GetName(), YAML: y}
		if o.Decoded, err = decodeStrict(y); err != nil {
			t.Fatalf("%s: %s does not decode strictly: %v\n%s", dir, o, err, y)
		}
		r.Objects = append(r.Objects, o)
	}
	return r
}

// Every example manifest under deploy/ builds with kustomize and decodes
// strictly into its type; no manifest escapes the check; the pods are
// non-root with limits, probes and a read-only root filesystem like Kesu's.
func TestDeployManifests(t *testing.T) {
	root := filepath.Join(repoRoot(t), "deploy")
	covered := map[string]bool{}
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := kustomize(t, filepath.Join(root, dir))
			if len(r.Objects) == 0 {
				t.Fatal("no objects")
			}
			t.Run("pods are non-root with limits and a read-only root", func(t *testing.T) { checkPodSecurity(t, r) })
			t.Run("every container is probed", func(t *testing.T) { checkAnyProbes(t, r) })
			t.Run("selectors and targets resolve", func(t *testing.T) { checkWorkloadSelectors(t, r) })
		})
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			covered[filepath.Join(dir, e.Name())] = true
		}
	}
	for _, f := range standalone {
		if _, err := decodeStrict(readFile(t, filepath.Join(root, f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		covered[f] = true
	}
	// A Kubernetes manifest added to deploy/ must be in a kustomization or
	// in standalone, or it would never be checked.
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if covered[rel] || strings.HasPrefix(rel, "config"+string(filepath.Separator)) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "\nkind: ") || strings.HasPrefix(string(b), "kind: ") {
			t.Errorf("deploy/%s looks like a manifest but no kustomization or standalone list covers it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The production shape: three NATS nodes on their own PVCs with JetStream
// file storage, all three routes known to each, TLS; PostgreSQL with a
// replica for BI; and the staging overlay really is smaller.
func TestDeployShapes(t *testing.T) {
	root := filepath.Join(repoRoot(t), "deploy")
	find := func(r Rendered, kind, name string) any {
		t.Helper()
		for _, o := range r.Objects {
			if o.Kind == kind && o.Name == name {
				return o.Decoded
			}
		}
		t.Fatalf("no %s %s", kind, name)
		return nil
	}
	natsConf := func(r Rendered) string {
		for _, o := range r.Objects {
			if cm, ok := o.Decoded.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, "nats-config") {
				return cm.Data["nats.conf"]
			}
		}
		t.Fatal("no nats-config ConfigMap")
		return ""
	}
	prod := slices.Concat(kustomize(t, filepath.Join(root, "nats")).Objects, kustomize(t, filepath.Join(root, "postgres")).Objects)
	staging := kustomize(t, filepath.Join(root, "overlays", "staging"))
	for name, r := range map[string]Rendered{"production": {Objects: prod}, "staging": staging} {
		t.Run(name, func(t *testing.T) {
			sts := find(r, "StatefulSet", "nats").(*appsv1.StatefulSet)
			if ptrOr(sts.Spec.Replicas, 1) != 3 {
				t.Errorf("NATS replicas = %d, want 3 (R3 streams)", ptrOr(sts.Spec.Replicas, 1))
			}
			if len(sts.Spec.VolumeClaimTemplates) != 1 {
				t.Fatalf("NATS has %d volume claim templates, want one data PVC", len(sts.Spec.VolumeClaimTemplates))
			}
			conf := natsConf(r)
			for _, want := range []string{"jetstream {", "store_dir: /data/jetstream", "tls {", "nats-0.nats-headless", "nats-1.nats-headless", "nats-2.nats-headless", "include ../auth/resolver.conf"} {
				if !strings.Contains(conf, want) {
					t.Errorf("nats.conf has no %q", want)
				}
			}
			cl := find(r, "Cluster", "kesu-pg").(*cnpgCluster)
			if cl.Spec.Instances < 2 {
				t.Errorf("PostgreSQL instances = %d: no replica for BI", cl.Spec.Instances)
			}
			if p := find(r, "Pooler", "kesu-pg-bi").(*cnpgPooler); p.Spec.Type != "ro" || p.Spec.Cluster.Name != cl.Name {
				t.Errorf("BI pooler %+v does not read from the replicas of %s", p.Spec, cl.Name)
			}
		})
	}
	stsProd := find(Rendered{Objects: prod}, "StatefulSet", "nats").(*appsv1.StatefulSet)
	stsStaging := find(staging, "StatefulSet", "nats").(*appsv1.StatefulSet)
	prodSize := stsProd.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	stagingSize := stsStaging.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
	if stagingSize.Cmp(prodSize) >= 0 {
		t.Errorf("staging NATS PVC %s is not smaller than production's %s", stagingSize.String(), prodSize.String())
	}
	if cl := find(staging, "Cluster", "kesu-pg").(*cnpgCluster); cl.Spec.WalStorage != nil || cl.Spec.PostgreSQL.Synchronous != nil {
		t.Error("staging PostgreSQL still has separate WAL storage or synchronous replication")
	}
	// The OTel config is generated with a content hash; the Deployment must
	// point at the generated name.
	var cmName string
	for _, o := range staging.Objects {
		if strings.HasPrefix(o.Name, "otel-collector-config") {
			cmName = o.Name
		}
	}
	dep := find(staging, "Deployment", "otel-collector").(*appsv1.Deployment)
	if v := dep.Spec.Template.Spec.Volumes[0]; v.ConfigMap == nil || v.ConfigMap.Name != cmName {
		t.Errorf("collector mounts %+v, generated ConfigMap is %s", v.ConfigMap, cmName)
	}
}

func checkAnyProbes(t *testing.T, r Rendered) {
	for where, pt := range podSpecs(r) {
		for _, c := range pt.Spec.Containers {
			if c.LivenessProbe == nil || c.ReadinessProbe == nil {
				t.Errorf("%s container %s: no liveness or readiness probe", where, c.Name)
			}
		}
	}
}

func checkWorkloadSelectors(t *testing.T, r Rendered) {
	pods := podSpecs(r)
	for _, o := range r.Objects {
		svc, ok := o.Decoded.(*corev1.Service)
		if !ok {
			continue
		}
		n := 0
		for _, pt := range pods {
			match := true
			for k, v := range svc.Spec.Selector {
				if pt.Labels[k] != v {
					match = false
				}
			}
			if match {
				n++
			}
		}
		if n != 1 {
			t.Errorf("service %s selects %d workloads, want 1", svc.Name, n)
		}
	}
}

// The streams the chart asks for fit the NATS cluster it is paired with:
// JetStream reserves each stream's MaxBytes up front and refuses a stream
// that does not fit max_file_store, which must in turn fit the PVC.
func TestStreamsFitTheNATSStorage(t *testing.T) {
	root := repoRoot(t)
	pairs := []struct{ values, nats string }{
		{filepath.Join(root, "charts", "kesu", "values-production.yaml"), filepath.Join(root, "deploy", "nats")},
		{filepath.Join(root, "deploy", "overlays", "staging", "kesu-values.yaml"), filepath.Join(root, "deploy", "overlays", "staging")},
	}
	for _, p := range pairs {
		t.Run(filepath.Base(p.values), func(t *testing.T) {
			vals, err := chartutil.CoalesceValues(loadChart(t), userValues(t, []string{p.values}))
			if err != nil {
				t.Fatal(err)
			}
			streams := vals["streams"].(map[string]any)
			maxBytes, err := parseBinarySize(fmt.Sprint(streams["maxBytes"]))
			if err != nil {
				t.Fatalf("streams.maxBytes: %v", err)
			}
			replicas, _ := strconv.Atoi(fmt.Sprint(streams["replicas"]))
			var sts *appsv1.StatefulSet
			for _, o := range kustomize(t, p.nats).Objects {
				if s, ok := o.Decoded.(*appsv1.StatefulSet); ok && s.Name == "nats" {
					sts = s
				}
			}
			if sts == nil {
				t.Fatal("no nats StatefulSet")
			}
			if n := int(ptrOr(sts.Spec.Replicas, 1)); replicas > n {
				t.Errorf("streams.replicas %d on %d NATS nodes", replicas, n)
			}
			store, err := parseNATSSize(envValue(sts.Spec.Template.Spec.Containers[0], "JS_MAX_FILE_STORE"))
			if err != nil {
				t.Fatalf("JS_MAX_FILE_STORE: %v", err)
			}
			need := maxBytes + eventstore.DefaultInboundMaxBytes + eventstore.DefaultAlertsMaxBytes + eventstore.DefaultDeadLetterMaxBytes
			if need >= store {
				t.Errorf("streams reserve %d bytes (COMPLAINTS %d + INBOUND, ALERTS, DEADLETTER), NATS max_file_store is %d", need, maxBytes, store)
			}
			pvc := sts.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage]
			if store >= pvc.Value() {
				t.Errorf("max_file_store %d does not fit the %s PVC", store, pvc.String())
			}
		})
	}
}

// parseBinarySize reads KESU_STREAM_MAX_BYTES's format (runtimeconfig).
func parseBinarySize(v string) (int64, error) {
	units := []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.s); ok {
			x, err := strconv.ParseInt(n, 10, 64)
			return x * u.m, err
		}
	}
	return strconv.ParseInt(v, 10, 64)
}

// parseNATSSize reads a NATS config size: K, M, G, T are powers of 1000.
func parseNATSSize(v string) (int64, error) {
	mult := map[byte]int64{'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}
	if v == "" {
		return 0, errors.New("unset")
	}
	if m, ok := mult[v[len(v)-1]]; ok {
		x, err := strconv.ParseInt(v[:len(v)-1], 10, 64)
		return x * m, err
	}
	return strconv.ParseInt(v, 10, 64)
}
