// Package chartcheck holds the checks `make test` runs on the deployment
// artefacts: the Helm chart (charts/kesu) linted and rendered with helm's own
// packages for every values file we ship, each rendered object decoded
// strictly into its Kubernetes API type, the invariants a platform team
// reviews asserted; the example manifests under deploy/ (and the staging
// kustomize overlay) decoded the same way; the NATS configuration parsed by
// the real server and its per-service permissions exercised against a real
// one; and the service binaries built the way build/Dockerfile builds them,
// started with exactly the environment the chart gives them.
//
// It is a test-only package: everything lives in _test.go files.
package chartcheck
