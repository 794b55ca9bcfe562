package chartcheck

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kesu315/kesu/services/kit/policy"
	"github.com/kesu315/kesu/services/kit/runtimeconfig"
	"github.com/kesu315/kesu/services/kit/service"
)

// `helm lint` for every values file we ship: no warnings, no errors.
func TestChartLints(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, files := range valuesFiles(t) {
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir(t), userValues(t, files), namespace, kv)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

// `helm template` for every values file we ship renders the objects a
// release needs, each one decoding strictly into its Kubernetes type.
func TestChartRendersEveryValuesFile(t *testing.T) {
	for name, files := range valuesFiles(t) {
		t.Run(name, func(t *testing.T) {
			r := mustRender(t, userValues(t, files))
			count := map[string]int{}
			for _, o := range r.all() {
				count[o.Kind]++
			}
			services := len(runtimeconfig.DefaultAddrs)
			for kind, want := range map[string]int{
				"Deployment": services, "Service": services, "ConfigMap": 1,
				"Job": services + 1, // a migration per service and the stream setup
			} {
				if count[kind] != want {
					t.Errorf("%d %s objects, want %d", count[kind], kind, want)
				}
			}
			if t.Failed() {
				t.Logf("rendered:\n%s", r.manifest())
			}
		})
	}
}

// The invariants a platform team checks in review, for every values file.
func TestChartInvariants(t *testing.T) {
	docs := string(readFile(t, filepath.Join(repoRoot(t), "docs", "deploy.md")))
	for name, files := range valuesFiles(t) {
		t.Run(name, func(t *testing.T) {
			vals := userValues(t, files)
			r := mustRender(t, vals)
			effective, err := chartutil.CoalesceValues(loadChart(t), vals)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("pods are non-root with limits and a read-only root", func(t *testing.T) { checkPodSecurity(t, r) })
			t.Run("services probe the gRPC health service", func(t *testing.T) { checkProbes(t, r) })
			t.Run("environment is complete and consistent", func(t *testing.T) { checkEnv(t, r) })
			t.Run("volumes and config maps resolve", func(t *testing.T) { checkVolumes(t, r) })
			t.Run("secrets are set in values and documented", func(t *testing.T) { checkSecrets(t, r, effective, docs) })
			t.Run("selectors and targets resolve", func(t *testing.T) { checkSelectors(t, r) })
			t.Run("hooks run streams then migrations before the pods", func(t *testing.T) { checkHooks(t, r, effective) })
			t.Run("images are pinned", func(t *testing.T) { checkImages(t, r) })
		})
	}
}

// podSpecs yields every pod template with the object that holds it.
func podSpecs(r Rendered) map[string]corev1.PodTemplateSpec {
	out := map[string]corev1.PodTemplateSpec{}
	for _, o := range r.all() {
		switch d := o.Decoded.(type) {
		case *appsv1.Deployment:
			out[o.String()] = d.Spec.Template
		case *batchv1.Job:
			out[o.String()] = d.Spec.Template
		case *appsv1.StatefulSet:
			out[o.String()] = d.Spec.Template
		}
	}
	return out
}

func deployments(r Rendered) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, o := range r.all() {
		if d, ok := o.Decoded.(*appsv1.Deployment); ok {
			out = append(out, d)
		}
	}
	return out
}

func checkPodSecurity(t *testing.T, r Rendered) {
	for where, pt := range podSpecs(r) {
		ps := pt.Spec
		psc := ps.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot is not true", where)
		}
		if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext.runAsUser is not a non-zero uid", where)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile is not RuntimeDefault", where)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false (Kesu never calls the Kubernetes API)", where)
		}
		if ps.HostNetwork || ps.HostPID || ps.HostIPC {
			t.Errorf("%s: uses a host namespace", where)
		}
		if len(ps.InitContainers) > 0 {
			t.Errorf("%s: has init containers; check them here too", where)
		}
		for _, c := range ps.Containers {
			at := where + " container " + c.Name
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s: no securityContext", at)
				continue
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Errorf("%s: runAsNonRoot is not true", at)
			case sc.RunAsUser != nil && *sc.RunAsUser == 0:
				t.Errorf("%s: runs as uid 0", at)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", at)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", at)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", at)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities are not drop [ALL] with nothing added: %+v", at, sc.Capabilities)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				lim, ok := c.Resources.Limits[res]
				if !ok || lim.IsZero() {
					t.Errorf("%s: no %s limit", at, res)
				}
				req, ok := c.Resources.Requests[res]
				if !ok || req.IsZero() {
					t.Errorf("%s: no %s request", at, res)
				} else if ok && req.Cmp(lim) > 0 {
					t.Errorf("%s: %s request %s above its limit %s", at, res, req.String(), lim.String())
				}
			}
			for _, p := range c.Ports {
				if p.ContainerPort < 1024 {
					t.Errorf("%s: port %d is privileged; a non-root process cannot bind it", at, p.ContainerPort)
				}
				if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
					t.Errorf("%s: port name %q: %s", at, p.Name, strings.Join(msgs, "; "))
				}
			}
		}
	}
}

func checkProbes(t *testing.T, r Rendered) {
	for _, d := range deployments(r) {
		ps := d.Spec.Template.Spec
		grace := time.Duration(ptrOr(ps.TerminationGracePeriodSeconds, 30)) * time.Second
		if grace <= service.DefaultShutdownTimeout {
			t.Errorf("deployment %s: terminationGracePeriodSeconds %s leaves no headroom over the services' %s shutdown",
				d.Name, grace, service.DefaultShutdownTimeout)
		}
		for _, c := range ps.Containers {
			grpcPort := int32(0)
			for _, p := range c.Ports {
				if p.Name == "grpc" {
					grpcPort = p.ContainerPort
				}
			}
			if grpcPort == 0 {
				t.Errorf("deployment %s container %s: no port named grpc", d.Name, c.Name)
				continue
			}
			for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				switch {
				case p == nil:
					t.Errorf("deployment %s container %s: no %s probe", d.Name, c.Name, kind)
				case p.GRPC == nil:
					t.Errorf("deployment %s container %s: %s probe is not a gRPC health probe", d.Name, c.Name, kind)
				case p.GRPC.Port != grpcPort:
					t.Errorf("deployment %s container %s: %s probe on port %d, the gRPC server listens on %d", d.Name, c.Name, kind, p.GRPC.Port, grpcPort)
				}
			}
		}
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkEnv(t *testing.T, r Rendered) {
	replicas := map[string]string{} // container → KESU_STREAM_REPLICAS
	maxBytes := map[string]string{}
	for where, pt := range podSpecs(r) {
		for _, c := range pt.Spec.Containers {
			at := where + " container " + c.Name
			seen := map[string]bool{}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				if seen[e.Name] {
					t.Errorf("%s: %s is set twice", at, e.Name)
				}
				for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
					if !seen[m[1]] {
						t.Errorf("%s: %s refers to $(%s), which is not defined before it", at, e.Name, m[1])
					}
				}
				seen[e.Name] = true
				env[e.Name] = e
				if msgs := validation.IsEnvVarName(e.Name); len(msgs) > 0 {
					t.Errorf("%s: env name %q: %s", at, e.Name, strings.Join(msgs, "; "))
				}
			}
			replicas[at] = env["KESU_STREAM_REPLICAS"].Value
			maxBytes[at] = env["KESU_STREAM_MAX_BYTES"].Value
			if c.Name == "streams" {
				if !slices.Contains(c.Args, "streams") {
					t.Errorf("%s: args %q do not run `kesuctl streams`", at, c.Args)
				}
				continue
			}
			svc := c.Name
			if c.Name == "migrate" {
				svc = serviceOfJob(where)
			}
			if _, ok := runtimeconfig.DefaultAddrs[svc]; !ok {
				t.Errorf("%s: container is not one of the services %v", at, slices.Sorted(maps.Keys(runtimeconfig.DefaultAddrs)))
				continue
			}
			// The service must accept this environment: the same loader
			// the binary runs, with secrets and files stubbed.
			getenv := func(k string) string {
				e, ok := env[k]
				switch {
				case !ok:
					return ""
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					return stubSecret(k)
				case e.ValueFrom != nil:
					return "1"
				case k == "NATS_CREDS":
					return ""
				}
				return e.Value
			}
			if _, err := runtimeconfig.Load(svc, getenv); err != nil {
				t.Errorf("%s: the %s binary refuses this environment:\n%v", at, svc, err)
			}
			for _, k := range []string{"KESU_GRPC_ADDR", "KESU_HTTP_ADDR"} {
				if !strings.HasPrefix(env[k].Value, "0.0.0.0:") {
					t.Errorf("%s: %s=%q does not listen on every interface; the kubelet and other pods could not reach it", at, k, env[k].Value)
				}
			}
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if c.Name != "migrate" {
				for k, port := range map[string]string{"KESU_GRPC_ADDR": "grpc", "KESU_HTTP_ADDR": "http-metrics"} {
					if want := fmt.Sprintf("0.0.0.0:%d", ports[port]); env[k].Value != want {
						t.Errorf("%s: %s=%q but the %s port is %d", at, k, env[k].Value, port, ports[port])
					}
				}
				if _, ok := env["KESU_POLICY"]; !ok {
					t.Errorf("%s: KESU_POLICY is not set to the mounted policy", at)
				}
			}
		}
	}
	// intake ensures the streams at start-up with its own settings; if they
	// differed from the job's, each would undo the other.
	if vals := slices.Compact(slices.Sorted(maps.Values(replicas))); len(vals) != 1 {
		t.Errorf("KESU_STREAM_REPLICAS differs between containers: %v", replicas)
	}
	if vals := slices.Compact(slices.Sorted(maps.Values(maxBytes))); len(vals) != 1 {
		t.Errorf("KESU_STREAM_MAX_BYTES differs between containers: %v", maxBytes)
	}
}

// serviceOfJob reads the service from a migration Job's name (…-migrate-<svc>).
func serviceOfJob(where string) string {
	name := strings.Fields(where)[1]
	i := strings.LastIndex(name, "-migrate-")
	if i < 0 {
		return ""
	}
	return name[i+len("-migrate-"):]
}

// stubSecret stands in for a secret's value with one of the right shape.
func stubSecret(k string) string {
	switch k {
	case "DATABASE_URL":
		return "postgres://kesu:secret@kesu-pg-rw:5432/kesu"
	case "KESU_PII_KEK":
		return "a2VzdS10ZXN0LW9ubHktcGlpLWtlay0zMi1ieXRlcyE="
	}
	return strings.Repeat("k", 48)
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func checkVolumes(t *testing.T, r Rendered) {
	configMaps := map[string]bool{}
	for _, o := range r.all() {
		if cm, ok := o.Decoded.(*corev1.ConfigMap); ok {
			configMaps[cm.Name] = true
			if y, ok := cm.Data["kesu.yaml"]; ok {
				if _, err := policy.Parse([]byte(y)); err != nil {
					t.Errorf("configmap %s: the policy does not load: %v", cm.Name, err)
				}
			}
		}
	}
	for where, pt := range podSpecs(r) {
		vols := map[string]corev1.Volume{}
		for _, v := range pt.Spec.Volumes {
			vols[v.Name] = v
			if v.ConfigMap != nil && !configMaps[v.ConfigMap.Name] {
				t.Errorf("%s: volume %s mounts configmap %s, which the chart does not render", where, v.Name, v.ConfigMap.Name)
			}
			if v.HostPath != nil {
				t.Errorf("%s: volume %s is a hostPath", where, v.Name)
			}
		}
		for _, c := range pt.Spec.Containers {
			mounted := map[string]bool{}
			for _, m := range c.VolumeMounts {
				if _, ok := vols[m.Name]; !ok {
					t.Errorf("%s container %s: mount %s has no volume", where, c.Name, m.Name)
				}
				mounted[m.MountPath] = true
				if v := vols[m.Name]; (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
					t.Errorf("%s container %s: %s is mounted writable", where, c.Name, m.Name)
				}
			}
			if !mounted["/tmp"] {
				t.Errorf("%s container %s: no writable /tmp under a read-only root filesystem", where, c.Name)
			}
			for _, e := range c.Env {
				if (e.Name == "KESU_POLICY" || e.Name == "NATS_CREDS" || e.Name == "SSL_CERT_DIR") && !underAny(e.Value, mounted) {
					t.Errorf("%s container %s: %s=%s is not under a mounted volume", where, c.Name, e.Name, e.Value)
				}
			}
		}
	}
}

func underAny(path string, mounts map[string]bool) bool {
	for m := range mounts {
		if path == m || strings.HasPrefix(path, strings.TrimSuffix(m, "/")+"/") {
			return true
		}
	}
	return false
}

// secretRef is one use of a Secret by a rendered object.
type secretRef struct{ name, key, where string }

func secretRefs(r Rendered) []secretRef {
	var out []secretRef
	for where, pt := range podSpecs(r) {
		for _, s := range pt.Spec.ImagePullSecrets {
			out = append(out, secretRef{s.Name, "", where + " imagePullSecrets"})
		}
		for _, v := range pt.Spec.Volumes {
			if v.Secret != nil {
				for _, it := range v.Secret.Items {
					out = append(out, secretRef{v.Secret.SecretName, it.Key, where + " volume " + v.Name})
				}
				if len(v.Secret.Items) == 0 {
					out = append(out, secretRef{v.Secret.SecretName, "", where + " volume " + v.Name})
				}
			}
		}
		for _, c := range pt.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					out = append(out, secretRef{e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, where + " env " + e.Name})
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					out = append(out, secretRef{ef.SecretRef.Name, "", where + " envFrom"})
				}
			}
		}
	}
	return out
}

// checkSecrets: the chart creates no Secret, so every Secret an object uses
// must come from a values key (no name is hard-coded in a template), and
// that key must be in docs/deploy.md's table of Secrets to create, so a
// platform engineer knows to create it before installing.
func checkSecrets(t *testing.T, r Rendered, effective map[string]any, docs string) {
	rendered := map[string]bool{}
	for _, o := range r.all() {
		if o.Kind == "Secret" {
			rendered[o.Name] = true
		}
	}
	paths := secretValuePaths(effective, "")
	for _, ref := range secretRefs(r) {
		if rendered[ref.name] {
			continue
		}
		var found []string
		for p, name := range paths {
			if name == ref.name {
				found = append(found, p)
			}
		}
		if len(found) == 0 {
			t.Errorf("%s uses Secret %q, which is neither rendered by the chart nor named in the values", ref.where, ref.name)
			continue
		}
		documented := false
		for _, p := range found {
			if strings.Contains(docs, "`"+genericPath(p)+"`") {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s uses Secret %q (values %v): docs/deploy.md does not document %v as an external Secret", ref.where, ref.name, found, genericPaths(found))
		}
	}
}

// secretValuePaths finds every values entry naming a Secret: a map with a
// "name" under a key ending in "Secret"/"secret", and imagePullSecrets.
func secretValuePaths(v map[string]any, prefix string) map[string]string {
	out := map[string]string{}
	for k, val := range v {
		p := strings.TrimPrefix(prefix+"."+k, ".")
		switch x := val.(type) {
		case map[string]any:
			if strings.HasSuffix(strings.ToLower(k), "secret") {
				if name, ok := x["name"].(string); ok && name != "" {
					out[p] = name
				}
			}
			maps.Copy(out, secretValuePaths(x, p))
		case []any:
			if k == "imagePullSecrets" {
				for _, it := range x {
					if m, ok := it.(map[string]any); ok {
						if name, ok := m["name"].(string); ok {
							out[p] = name
						}
					}
				}
			}
		}
	}
	return out
}

var perService = regexp.MustCompile(`^services\.[a-z]+\.`)

// genericPath writes services.intake.natsCredsSecret as
// services.<svc>.natsCredsSecret, the way the docs list it.
func genericPath(p string) string { return perService.ReplaceAllString(p, "services.<svc>.") }

func genericPaths(ps []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, genericPath(p))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func checkSelectors(t *testing.T, r Rendered) {
	deps := deployments(r)
	matching := func(sel map[string]string) []string {
		var names []string
		for _, d := range deps {
			if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
				names = append(names, d.Name)
			}
		}
		return names
	}
	replicas := map[string]int32{}
	for _, d := range deps {
		sel := d.Spec.Selector.MatchLabels
		if !labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("deployment %s: selector %v does not match its own pods", d.Name, sel)
		}
		if got := matching(sel); len(got) != 1 {
			t.Errorf("deployment %s: selector %v matches the pods of %v", d.Name, sel, got)
		}
		replicas[d.Name] = ptrOr(d.Spec.Replicas, 1)
	}
	for _, o := range r.all() {
		switch x := o.Decoded.(type) {
		case *corev1.Service:
			got := matching(x.Spec.Selector)
			if len(got) != 1 {
				t.Errorf("service %s: selector %v matches deployments %v, want exactly one", x.Name, x.Spec.Selector, got)
				continue
			}
			var d *appsv1.Deployment
			for _, dd := range deps {
				if dd.Name == got[0] {
					d = dd
				}
			}
			names := map[string]bool{}
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					names[p.Name] = true
				}
			}
			for _, p := range x.Spec.Ports {
				if !names[p.TargetPort.String()] {
					t.Errorf("service %s port %s: targetPort %s is not a port of deployment %s", x.Name, p.Name, p.TargetPort.String(), d.Name)
				}
			}
		case *policyv1.PodDisruptionBudget:
			got := matching(x.Spec.Selector.MatchLabels)
			if len(got) != 1 {
				t.Errorf("pdb %s: selects deployments %v, want exactly one", x.Name, got)
				continue
			}
			// A budget that allows no disruption blocks every node drain.
			n := replicas[got[0]]
			if hpaMin := hpaMinFor(r, got[0]); hpaMin > 0 {
				n = hpaMin
			}
			if x.Spec.MaxUnavailable != nil && x.Spec.MaxUnavailable.IntValue() < 1 && x.Spec.MaxUnavailable.String() != "" && !strings.HasSuffix(x.Spec.MaxUnavailable.String(), "%") {
				t.Errorf("pdb %s: maxUnavailable %s allows no eviction", x.Name, x.Spec.MaxUnavailable.String())
			}
			if x.Spec.MinAvailable != nil && int32(x.Spec.MinAvailable.IntValue()) >= n {
				t.Errorf("pdb %s: minAvailable %s with %d replicas allows no eviction", x.Name, x.Spec.MinAvailable.String(), n)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := x.Spec.ScaleTargetRef
			if _, ok := replicas[ref.Name]; ref.Kind != "Deployment" || !ok {
				t.Errorf("hpa %s: target %s/%s is not a rendered deployment", x.Name, ref.Kind, ref.Name)
			}
			for _, d := range deps {
				if d.Name == ref.Name && d.Spec.Replicas != nil {
					t.Errorf("hpa %s: deployment %s also sets replicas; every upgrade would reset the autoscaler's count", x.Name, d.Name)
				}
			}
		}
	}
}

func hpaMinFor(r Rendered, deployment string) int32 {
	for _, o := range r.all() {
		if h, ok := o.Decoded.(*autoscalingv2.HorizontalPodAutoscaler); ok && h.Spec.ScaleTargetRef.Name == deployment {
			return ptrOr(h.Spec.MinReplicas, 1)
		}
	}
	return 0
}

func checkHooks(t *testing.T, r Rendered, effective map[string]any) {
	var streamsWeight, saWeight *int
	migrations := map[string]int{}
	for _, h := range r.Hooks {
		if !slices.Equal(h.HookEvents, []string{"pre-install", "pre-upgrade"}) {
			t.Errorf("hook %s runs on %v, want pre-install and pre-upgrade", h, h.HookEvents)
		}
		w := h.HookWeight
		switch x := h.Decoded.(type) {
		case *corev1.ServiceAccount:
			saWeight = &w
		case *batchv1.Job:
			if x.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("job %s: restartPolicy %s, want Never (failures counted by backoffLimit)", x.Name, x.Spec.Template.Spec.RestartPolicy)
			}
			if x.Spec.ActiveDeadlineSeconds == nil {
				t.Errorf("job %s: no activeDeadlineSeconds; a hung hook would hang the upgrade", x.Name)
			}
			c := x.Spec.Template.Spec.Containers[0]
			switch {
			case slices.Contains(c.Args, "streams"):
				streamsWeight = &w
				want := fmt.Sprint(effective["streams"].(map[string]any)["replicas"])
				if got := envValue(c, "KESU_STREAM_REPLICAS"); got != want {
					t.Errorf("job %s: KESU_STREAM_REPLICAS=%q, values say %s", x.Name, got, want)
				}
			case slices.Equal(c.Args, []string{"migrate"}):
				migrations[serviceOfJob("Job "+x.Name)] = w
				if !strings.Contains(c.Image, "/"+serviceOfJob("Job "+x.Name)+":") && !strings.Contains(c.Image, "/"+serviceOfJob("Job "+x.Name)+"@") {
					t.Errorf("job %s: image %s is not the service's own image", x.Name, c.Image)
				}
			default:
				t.Errorf("job %s: runs %q, neither `migrate` nor `streams`", x.Name, c.Args)
			}
			if sa := x.Spec.Template.Spec.ServiceAccountName; sa != "" {
				found := false
				for _, hh := range r.Hooks {
					if hh.Kind == "ServiceAccount" && hh.Name == sa && hh.HookWeight < w {
						found = true
					}
				}
				if !found {
					t.Errorf("job %s: serviceAccount %s is not a hook created before it (release objects do not exist yet at pre-install)", x.Name, sa)
				}
			}
		default:
			t.Errorf("unexpected hook %s", h)
		}
	}
	if saWeight == nil {
		t.Error("no hook ServiceAccount for the jobs")
	}
	if streamsWeight == nil {
		t.Fatal("no stream-setup job")
	}
	for svc := range runtimeconfig.DefaultAddrs {
		w, ok := migrations[svc]
		if !ok {
			t.Errorf("no migration job for %s", svc)
		} else if w <= *streamsWeight {
			t.Errorf("migration of %s (weight %d) does not run after the streams job (weight %d)", svc, w, *streamsWeight)
		}
	}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

var pinned = regexp.MustCompile(`^[^:@]+(/[^:@]+)*(:[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$`)

func checkImages(t *testing.T, r Rendered) {
	for where, pt := range podSpecs(r) {
		for _, c := range pt.Spec.Containers {
			if !pinned.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
				t.Errorf("%s container %s: image %q has no version tag or digest", where, c.Name, c.Image)
			}
		}
	}
}

// The chart ships deploy/config/kesu.yaml as its default policy, which the
// services' own loader accepts; an inline policy replaces it and rolls the
// pods; an existing ConfigMap replaces the chart's.
func TestChartPolicyIsTheShippedPolicy(t *testing.T) {
	root := repoRoot(t)
	shipped := readFile(t, filepath.Join(root, "deploy", "config", "kesu.yaml"))
	// charts/kesu/files/kesu.yaml is a symlink to it (helm follows it when
	// loading and packaging), so the default cannot drift.
	cmPolicy := func(r Rendered) (string, string) {
		for _, o := range r.Objects {
			if cm, ok := o.Decoded.(*corev1.ConfigMap); ok {
				var checksum string
				for _, d := range deployments(r) {
					checksum = d.Spec.Template.Annotations["checksum/policy"]
				}
				return cm.Data["kesu.yaml"], checksum
			}
		}
		t.Fatal("no policy ConfigMap")
		return "", ""
	}
	def, defSum := cmPolicy(mustRender(t, userValues(t, nil)))
	if strings.TrimSpace(def) != strings.TrimSpace(string(shipped)) {
		t.Error("the default policy ConfigMap is not deploy/config/kesu.yaml")
	}
	custom := strings.Replace(string(shipped), "Asia/Shanghai", "Asia/Hong_Kong", 1)
	got, sum := cmPolicy(mustRender(t, userValues(t, nil, map[string]any{"policy": map[string]any{"content": custom}})))
	if strings.TrimSpace(got) != strings.TrimSpace(custom) {
		t.Error("policy.content did not replace the policy")
	}
	if sum == defSum {
		t.Error("changing the policy does not change the pods' checksum/policy annotation, so pods would not roll")
	}
	r := mustRender(t, userValues(t, nil, map[string]any{"policy": map[string]any{"existingConfigMap": "merchant-policy"}}))
	for _, o := range r.Objects {
		if o.Kind == "ConfigMap" {
			t.Errorf("policy.existingConfigMap set, yet the chart renders ConfigMap %s", o.Name)
		}
	}
	for _, d := range deployments(r) {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil && v.ConfigMap.Name != "merchant-policy" {
				t.Errorf("deployment %s mounts configmap %s, want merchant-policy", d.Name, v.ConfigMap.Name)
			}
		}
	}
}

// The chart's service blocks are exactly the services the binaries know,
// on their documented default ports.
func TestChartServicesMatchTheBinaries(t *testing.T) {
	v, err := chartutil.ReadValuesFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svcs := v.AsMap()["services"].(map[string]any)
	if got, want := slices.Sorted(maps.Keys(svcs)), slices.Sorted(maps.Keys(runtimeconfig.DefaultAddrs)); !slices.Equal(got, want) {
		t.Fatalf("values services %v, binaries %v", got, want)
	}
	for name, addrs := range runtimeconfig.DefaultAddrs {
		block := svcs[name].(map[string]any)
		for key, addr := range map[string]string{"grpcPort": addrs.GRPC, "httpPort": addrs.HTTP} {
			_, port, _ := strings.Cut(addr, ":")
			if got := fmt.Sprint(block[key]); got != port {
				t.Errorf("services.%s.%s = %s, the binary's default is %s", name, key, got, port)
			}
		}
	}
}

// Bad values fail `helm install` before anything is created, with a message
// that names the key and the reason.
func TestChartRejectsBadValues(t *testing.T) {
	svc := func(name string, v map[string]any) map[string]any {
		return map[string]any{"services": map[string]any{name: v}}
	}
	tests := []struct {
		name string
		set  map[string]any
		want []string
	}{
		{"misspelt key", svc("intake", map[string]any{"replica": 3}), []string{"/services/intake", "replica"}},
		{"unknown service", svc("billing", map[string]any{"enabled": true}), []string{"/services", "billing"}},
		{"stream replicas", map[string]any{"streams": map[string]any{"replicas": 7}}, []string{"/streams/replicas", "7"}},
		{"stream size", map[string]any{"streams": map[string]any{"maxBytes": "10XB"}}, []string{"/streams/maxBytes", "10XB"}},
		{"root filesystem", map[string]any{"securityContext": map[string]any{"readOnlyRootFilesystem": false}}, []string{"/securityContext/readOnlyRootFilesystem"}},
		{"run as root", map[string]any{"podSecurityContext": map[string]any{"runAsNonRoot": false}}, []string{"/podSecurityContext/runAsNonRoot"}},
		{"prod without kek", map[string]any{"pii": map[string]any{"kekSecret": map[string]any{"name": ""}}}, []string{"/pii/kekSecret/name"}},
		{"prod without token keys", map[string]any{"auth": map[string]any{"hmacKeySecret": map[string]any{"name": ""}}}, []string{"/auth"}},
		{"prod jwks over http", map[string]any{"auth": map[string]any{"jwksURL": "http://sso.example.com/jwks"}}, []string{"/auth/jwksURL", "http://sso.example.com/jwks"}},
		{"env the chart manages", svc("routing", map[string]any{"env": map[string]any{"DATABASE_URL": "postgres://x"}}), []string{"/services/routing/env", "DATABASE_URL"}},
		{"credentials in NATS URL", map[string]any{"nats": map[string]any{"url": "nats://kesu:pw@nats:4222"}}, []string{"/nats/url"}},
		{"no memory limit", svc("reporting", map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": nil}}}), []string{"/services/reporting/resources/limits", "memory"}},
		{"privileged port", svc("intake", map[string]any{"grpcPort": 80}), []string{"/services/intake/grpcPort", "80"}},
		{"short grace period", map[string]any{"terminationGracePeriodSeconds": 10}, []string{"/terminationGracePeriodSeconds", "10"}},
		{"bad env value", map[string]any{"env": "production"}, []string{"/env", "'dev', 'prod'"}},
		{"pdb blocks drains", svc("escalation", map[string]any{"pdb": map[string]any{"minAvailable": 2}}), []string{"services.escalation.pdb.minAvailable=2", "block every eviction"}},
		{"image digest", svc("intake", map[string]any{"image": map[string]any{"digest": "sha256:abc"}}), []string{"/services/intake/image/digest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, userValues(t, nil, tt.set))
			if err == nil {
				t.Fatalf("values %v rendered without error", tt.set)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// Optional parts switch on and off cleanly: with the defaults there is no
// ServiceMonitor, NetworkPolicy or HPA; production-like values have them,
// and an autoscaled Deployment leaves replicas to its HPA.
func TestChartOptionalObjects(t *testing.T) {
	kinds := func(r Rendered) map[string]int {
		out := map[string]int{}
		for _, o := range r.all() {
			out[o.Kind]++
		}
		return out
	}
	def := kinds(mustRender(t, userValues(t, nil)))
	for _, k := range []string{"ServiceMonitor", "NetworkPolicy", "HorizontalPodAutoscaler"} {
		if def[k] != 0 {
			t.Errorf("default values render %d %s", def[k], k)
		}
	}
	prod := kinds(mustRender(t, userValues(t, valuesFiles(t)["production"])))
	for k, want := range map[string]int{"ServiceMonitor": 1, "NetworkPolicy": len(runtimeconfig.DefaultAddrs) + 1, "HorizontalPodAutoscaler": 3, "PodDisruptionBudget": 5} {
		if prod[k] != want {
			t.Errorf("production values render %d %s, want %d", prod[k], k, want)
		}
	}
	off := mustRender(t, userValues(t, nil, map[string]any{
		"migrations": map[string]any{"enabled": false},
		"streams":    map[string]any{"setupJob": map[string]any{"enabled": false}},
		"services":   map[string]any{"reporting": map[string]any{"enabled": false}},
	}))
	if len(off.Hooks) != 0 {
		t.Errorf("hooks disabled, yet %d rendered", len(off.Hooks))
	}
	for _, d := range deployments(off) {
		if strings.HasSuffix(d.Name, "-reporting") {
			t.Error("services.reporting.enabled=false still renders its deployment")
		}
	}
	single := mustRender(t, userValues(t, nil, map[string]any{"services": map[string]any{"intake": map[string]any{"replicas": 1}}}))
	for _, o := range single.Objects {
		if o.Kind == "PodDisruptionBudget" && strings.HasSuffix(o.Name, "-intake") {
			t.Error("a PodDisruptionBudget over a single replica only blocks node drains, yet it is rendered")
		}
	}
}
