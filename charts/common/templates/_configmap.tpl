{{/*
common.configmap.data: the data of one service's settings ConfigMap (also hashed into the pod
template, so a settings change rolls the pods).
*/}}
{{- define "common.configmap.data" -}}
{{ include "common.env.config" . }}
{{- end -}}

{{/*
common.configmap.render: the settings ConfigMap of one service, read with envFrom.
Usage: {{ include "common.configmap.render" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.configmap.render" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.names.fullname" . }}-config
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
data:
  {{- include "common.configmap.data" . | nindent 2 }}
{{- end -}}

{{/*
common.configmap.supergraph: the composed supergraph shipped to the gateway. Pass the file at
install time: --set-file services.gateway.supergraph.content=<composed supergraph>.
*/}}
{{- define "common.configmap.supergraph" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.names.fullname" . }}-supergraph
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
data:
  {{ .svc.supergraph.fileName }}: |-
    {{- required (printf "services.%s.supergraph.content is empty: pass the composed supergraph with --set-file services.%s.supergraph.content=<file>" .name .name) .svc.supergraph.content | nindent 4 }}
{{- end -}}
