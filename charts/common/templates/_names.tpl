{{/*
common.names.fullname: the name of one service's objects ("catalog"), optionally prefixed by
global.namePrefix so two releases can share a namespace.
Usage: {{ include "common.names.fullname" (dict "name" "catalog" "root" $) }}
*/}}
{{- define "common.names.fullname" -}}
{{- printf "%s%s" (.root.Values.global.namePrefix | default "") .name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/*
common.names.datastore: the Datastore resource (and its Services/Secret prefix) of one engine of
one service: "catalog-mongodb". The operator names the Secret "<this>-connection".
Usage: {{ include "common.names.datastore" (dict "name" "catalog" "engine" "mongodb" "root" $) }}
*/}}
{{- define "common.names.datastore" -}}
{{- printf "%s-%s" (include "common.names.fullname" .) .engine -}}
{{- end -}}

{{/*
common.names.metricsPortName: the named container port Prometheus scrapes: "metrics" when the
service serves metrics on a port of its own (.svc.metricsPort), else "http".
Usage: {{ include "common.names.metricsPortName" (dict "name" "gateway" "svc" $svc "root" $) }}
*/}}
{{- define "common.names.metricsPortName" -}}
{{- ternary "metrics" "http" (gt (int .svc.metricsPort) 0) -}}
{{- end -}}
