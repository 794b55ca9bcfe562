{{/* Names ------------------------------------------------------------- */}}

{{- define "kesu.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kesu.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, e.g. kesu-intake. Call with (list $ "intake"). */}}
{{- define "kesu.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "kesu.fullname" $root | trunc 40 | trimSuffix "-") (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kesu.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kesu.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kesu.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "kesu.fullname" .)) .Values.policy.existingConfigMap -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------ */}}

{{- define "kesu.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "kesu.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kesu.labels" -}}
{{- $root := index . 0 -}}
{{ include "kesu.selectorLabels" . }}
app.kubernetes.io/part-of: kesu
app.kubernetes.io/version: {{ include "kesu.tag" $root | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Labels of objects that belong to the release but no one component. */}}
{{- define "kesu.commonLabels" -}}
app.kubernetes.io/name: {{ include "kesu.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: kesu
app.kubernetes.io/version: {{ include "kesu.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Images ------------------------------------------------------------ */}}

{{- define "kesu.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* Call with (list $ $imageBlock). */}}
{{- define "kesu.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- $repo := printf "%s/%s" ($root.Values.image.registry | trimSuffix "/") $img.repository -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "kesu.tag" $root) -}}
{{- end -}}
{{- end -}}

{{/* Environment ------------------------------------------------------- */}}

{{/*
The runtime configuration every binary reads (README "Configuration"),
shared by the Deployments and the migration Jobs so `migrate` validates the
same settings `serve` will run with. Call with (list $ "intake" $svc
withPolicy): the hook Jobs run before the policy ConfigMap exists and do not
read the policy, so they leave KESU_POLICY at the image's default.
*/}}
{{- define "kesu.env" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := index . 2 -}}
{{- $withPolicy := index . 3 -}}
{{- $v := $root.Values -}}
{{- $db := $v.database.secret -}}
{{- if $svc.databaseSecret.name }}{{ $db = $svc.databaseSecret }}{{ end -}}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
- name: KESU_ENV
  value: {{ $v.env | quote }}
- name: KESU_LOG_LEVEL
  value: {{ $v.logLevel | quote }}
- name: KESU_GRPC_ADDR
  value: {{ printf "0.0.0.0:%d" (int $svc.grpcPort) | quote }}
- name: KESU_HTTP_ADDR
  value: {{ printf "0.0.0.0:%d" (int $svc.httpPort) | quote }}
{{- if $withPolicy }}
- name: KESU_POLICY
  value: /etc/kesu/policy/kesu.yaml
{{- end }}
- name: NATS_URL
  value: {{ $v.nats.url | quote }}
{{- if $svc.natsCredsSecret.name }}
- name: NATS_CREDS
  value: /etc/kesu/nats/nats.creds
{{- end }}
{{- if $v.nats.caSecret.name }}
- name: SSL_CERT_DIR
  value: /etc/kesu/ca
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $db.name | quote }}, key: {{ $db.key | quote }}}
- name: KESU_STREAM_REPLICAS
  value: {{ $v.streams.replicas | quote }}
- name: KESU_STREAM_MAX_BYTES
  value: {{ $v.streams.maxBytes | quote }}
{{- with $v.auth.jwksURL }}
- name: KESU_AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.auth.issuer }}
- name: KESU_AUTH_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $v.auth.audience }}
- name: KESU_AUTH_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- if $v.auth.hmacKeySecret.name }}
- name: KESU_AUTH_HMAC_KEY
  valueFrom:
    secretKeyRef: {name: {{ $v.auth.hmacKeySecret.name | quote }}, key: {{ $v.auth.hmacKeySecret.key | quote }}}
{{- end }}
{{- if $v.pii.kekSecret.name }}
- name: KESU_PII_KEK
  valueFrom:
    secretKeyRef: {name: {{ $v.pii.kekSecret.name | quote }}, key: {{ $v.pii.kekSecret.key | quote }}}
{{- end }}
{{- with $v.clock.start }}
- name: KESU_CLOCK_START
  value: {{ . | quote }}
{{- end }}
{{- with $v.clock.speed }}
- name: KESU_CLOCK_SPEED
  value: {{ . | quote }}
{{- end }}
{{- with $v.clock.epoch }}
- name: KESU_CLOCK_EPOCH
  value: {{ . | quote }}
{{- end }}
- name: GOMEMLIMIT
  valueFrom:
    resourceFieldRef: {resource: limits.memory}
{{- if $v.otel.enabled }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $v.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $v.otel.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $v.otel.samplerArg | quote }}
{{- end }}
{{- $attrs := list "k8s.namespace.name=$(POD_NAMESPACE)" "k8s.pod.name=$(POD_NAME)" (printf "k8s.deployment.name=%s" (include "kesu.componentName" (list $root $name))) }}
{{- range $k, $val := $v.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%s" $k $val) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- range $k, $val := $svc.env }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* Volumes of a service container: policy, NATS credentials, CA, /tmp. */}}
{{- define "kesu.volumeMounts" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $policy := index . 2 -}}
{{- if $policy }}
- name: policy
  mountPath: /etc/kesu/policy
  readOnly: true
{{- end }}
{{- if $svc.natsCredsSecret.name }}
- name: nats-creds
  mountPath: /etc/kesu/nats
  readOnly: true
{{- end }}
{{- if $root.Values.nats.caSecret.name }}
- name: nats-ca
  mountPath: /etc/kesu/ca
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "kesu.volumes" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $policy := index . 2 -}}
{{- if $policy }}
- name: policy
  configMap:
    name: {{ include "kesu.policyConfigMap" $root }}
    items:
      - {key: kesu.yaml, path: kesu.yaml}
{{- end }}
{{- if $svc.natsCredsSecret.name }}
- name: nats-creds
  secret:
    secretName: {{ $svc.natsCredsSecret.name }}
    defaultMode: 0440
    items:
      - {key: {{ $svc.natsCredsSecret.key | quote }}, path: nats.creds}
{{- end }}
{{- if $root.Values.nats.caSecret.name }}
- name: nats-ca
  secret:
    secretName: {{ $root.Values.nats.caSecret.name }}
    defaultMode: 0444
    items:
      - {key: {{ $root.Values.nats.caSecret.key | quote }}, path: ca.crt}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "kesu.policyContent" -}}
{{- if .Values.policy.content -}}
{{- .Values.policy.content -}}
{{- else -}}
{{- .Files.Get "files/kesu.yaml" -}}
{{- end -}}
{{- end -}}

{{/* Hook labels and annotations for the pre-install/pre-upgrade Jobs. */}}
{{- define "kesu.hookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ . | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
