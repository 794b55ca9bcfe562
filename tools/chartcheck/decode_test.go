package chartcheck

import (
	"errors"
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds maps apiVersion/kind to the Go type the API server decodes it into.
// Anything not listed fails the check: a new kind in the chart or in
// deploy/ must be added here, with its real type.
var kinds = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Namespace":                            func() any { return &corev1.Namespace{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                            func() any { return &batchv1.Job{} },
	"autoscaling/v2/HorizontalPodAutoscaler":  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":      func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	// CloudNativePG and cert-manager publish no Go module we can depend on
	// here; their kinds decode into the mirrors in crds_test.go.
	"postgresql.cnpg.io/v1/Cluster":  func() any { return &cnpgCluster{} },
	"postgresql.cnpg.io/v1/Pooler":   func() any { return &cnpgPooler{} },
	"cert-manager.io/v1/Certificate": func() any { return &certManagerCertificate{} },
}

// decodeStrict decodes one YAML document the way the API server's strict
// field validation does: duplicate keys, unknown fields and wrong types are
// errors, and field names are case-sensitive (encoding/json alone would
// accept "ContainerPort" for "containerPort"). It also checks the names and
// labels the API server would refuse.
func decodeStrict(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("YAML: %w", err)
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	key := u.GetAPIVersion() + "/" + u.GetKind()
	newObj, ok := kinds[key]
	if !ok {
		return nil, fmt.Errorf("unknown kind %s: add its Go type to kinds", key)
	}
	obj := newObj()
	strictErrs, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s: %w", key, errors.Join(strictErrs...))
	}
	var problems []error
	if name := u.GetName(); name == "" {
		problems = append(problems, errors.New("metadata.name is empty"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			problems = append(problems, fmt.Errorf("metadata.name %q: %s", name, msg))
		}
	}
	for k, v := range u.GetLabels() {
		for _, msg := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Errorf("label key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			problems = append(problems, fmt.Errorf("label %s value %q: %s", k, v, msg))
		}
	}
	for k := range u.GetAnnotations() {
		for _, msg := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Errorf("annotation key %q: %s", k, msg))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("%s %s: %w", key, u.GetName(), err)
	}
	return obj, nil
}
