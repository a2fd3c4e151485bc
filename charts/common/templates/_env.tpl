{{/*
common.env.config: the non-secret settings of one service (rendered into its ConfigMap), in the
EMPORIUM_* naming of docs/architecture.md. global.jwks.url and the values of .svc.env are
templates (so they can name this release's services); an entry that renders empty is left
out, and the service's own default applies.
Usage: {{ include "common.env.config" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.env.config" -}}
{{- $global := .root.Values.global -}}
EMPORIUM_SERVICE_NAME: {{ .name | quote }}
EMPORIUM_ENVIRONMENT: {{ $global.environment | quote }}
{{- if .svc.nats }}
EMPORIUM_NATS_URL: {{ required "global.nats.url is required by services with nats: true" $global.nats.url | quote }}
EMPORIUM_NATS_STREAM_REPLICAS: {{ $global.nats.streamReplicas | default 1 | quote }}
{{- end }}
{{- with .svc.datastores.mongodb }}
{{- if .enabled }}
EMPORIUM_MONGO_DATABASE: {{ .database | default $.name | quote }}
{{- end }}
{{- end }}
{{- with $global.otlp.endpoint }}
EMPORIUM_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with tpl $global.jwks.url .root }}
EMPORIUM_JWKS_URL: {{ . | quote }}
{{- end }}
{{- if eq .svc.runtime "python" }}
EMPORIUM_HOST: "0.0.0.0"
EMPORIUM_PORT: {{ .svc.port | quote }}
{{- /* the preStop sleep already took the pod out of the endpoints: drain at once */}}
EMPORIUM_SHUTDOWN_GRACE_S: "0"
EMPORIUM_SHUTDOWN_DRAIN_S: {{ .svc.shutdown.gracefulSeconds | quote }}
{{- else if eq .svc.runtime "node" }}
HOST: "0.0.0.0"
PORT: {{ .svc.port | quote }}
EMPORIUM_SHUTDOWN_GRACE_MS: {{ mul .svc.shutdown.gracefulSeconds 1000 | quote }}
{{- end }}
{{- if .svc.metricsPort }}
EMPORIUM_METRICS_HOST: "0.0.0.0"
EMPORIUM_METRICS_PORT: {{ .svc.metricsPort | quote }}
{{- end }}
{{- if .svc.supergraph.enabled }}
EMPORIUM_SUPERGRAPH_PATH: {{ printf "%s/%s" (trimSuffix "/" .svc.supergraph.mountPath) .svc.supergraph.fileName | quote }}
{{- end }}
{{- if eq .svc.kind "gateway" }}
{{- include "common.env.subgraphUrls" . }}
{{- end }}
{{- range $key, $value := .svc.env }}
{{- with tpl (toString $value) $.root }}
{{ $key }}: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.env.subgraphUrls: the gateway's routing URL of every enabled subgraph it calls
(EMPORIUM_SUBGRAPH_<NAME>_URL), through that service's ClusterIP Service; the URLs composed into
the supergraph are the local ones.
*/}}
{{- define "common.env.subgraphUrls" -}}
{{- range $callee := .svc.calls }}
{{- $target := include "common.services.effective" (dict "name" $callee "root" $.root) | fromJson }}
{{- if and $target.enabled (eq $target.kind "subgraph") }}
{{- $host := include "common.names.fullname" (dict "name" $callee "root" $.root) }}
EMPORIUM_SUBGRAPH_{{ $callee | upper | replace "-" "_" }}_URL: {{ printf "http://%s:%v/graphql" $host $target.servicePort | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.env.datastores: EMPORIUM_<ENGINE>_URL of every datastore the service uses, read from the
connection Secret the datastore operator creates (or an existing Secret for a managed store).
*/}}
{{- define "common.env.datastores" -}}
{{- $vars := dict "mongodb" "EMPORIUM_MONGO_URL" "redis" "EMPORIUM_REDIS_URL" "opensearch" "EMPORIUM_OPENSEARCH_URL" -}}
{{- range $engine := list "mongodb" "redis" "opensearch" }}
{{- $store := get $.svc.datastores $engine -}}
{{- if and $store $store.enabled }}
- name: {{ get $vars $engine }}
  valueFrom:
    secretKeyRef:
      name: {{ $store.existingSecret | default (printf "%s-connection" (include "common.names.datastore" (dict "name" $.name "engine" $engine "root" $.root))) }}
      key: {{ $store.existingSecretKey | default "url" }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
common.env.secrets: the settings every Python service shares (global.sharedSecret.env, read from
the shared Secret, default "<namePrefix>emporium-shared"), then those of .svc.secretEnv, each read
from a key of the service's Secret (.svc.secretName, default "<service>-secrets"). The operator of
the platform creates both: their values never live in the chart or the repository. In production a missing Secret or key keeps
the pod in CreateContainerConfigError with an event naming it (the services refuse their
development defaults there anyway); in development every key is optional, so a dev cluster runs
without creating any Secret.
*/}}
{{- define "common.env.secrets" -}}
{{- $secret := .svc.secretName | default (printf "%s-secrets" (include "common.names.fullname" .)) -}}
{{- $development := ne .root.Values.global.environment "production" -}}
{{- if eq .svc.runtime "python" }}
{{- $shared := .root.Values.global.sharedSecret.name | default (printf "%semporium-shared" (.root.Values.global.namePrefix | default "")) -}}
{{- range $var, $key := .root.Values.global.sharedSecret.env }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $shared }}
      key: {{ $key }}
      optional: {{ $development }}
{{- end }}
{{- end }}
{{- range $var, $ref := .svc.secretEnv }}
{{- $key := $ref -}}
{{- $optional := false -}}
{{- if kindIs "map" $ref }}
{{- $key = $ref.key -}}
{{- $optional = $ref.optional | default false -}}
{{- end }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: {{ or $development $optional }}
{{- end }}
{{- end -}}
