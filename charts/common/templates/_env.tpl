{{/*
common.env.config: the non-secret settings of one service (rendered into its ConfigMap), in the
EMPORIUM_* naming of docs/architecture.md.
Usage: {{ include "common.env.config" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.env.config" -}}
{{- $global := .root.Values.global -}}
EMPORIUM_SERVICE_NAME: {{ .name | quote }}
EMPORIUM_ENVIRONMENT: {{ $global.environment | quote }}
{{- if .svc.nats }}
EMPORIUM_NATS_URL: {{ required "global.nats.url is required by services with nats: true" $global.nats.url | quote }}
{{- end }}
{{- with .svc.datastores.mongodb }}
{{- if .enabled }}
EMPORIUM_MONGO_DATABASE: {{ .database | default $.name | quote }}
{{- end }}
{{- end }}
{{- with $global.otlp.endpoint }}
EMPORIUM_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
{{- with $global.jwks.url }}
EMPORIUM_JWKS_URL: {{ . | quote }}
{{- end }}
{{- if eq .svc.runtime "uvicorn" }}
UVICORN_HOST: "0.0.0.0"
UVICORN_PORT: {{ .svc.port | quote }}
UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN: {{ .svc.shutdown.gracefulSeconds | quote }}
{{- end }}
{{- range $key, $value := .svc.env }}
{{ $key }}: {{ $value | quote }}
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
