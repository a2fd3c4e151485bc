{{/*
common.labels.matchLabels: the immutable selector labels of one service's pods.
Usage: {{ include "common.labels.matchLabels" (dict "name" "catalog" "root" $) }}
*/}}
{{- define "common.labels.matchLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/*
common.labels.standard: recommended Kubernetes labels for every object of one service.
Usage: {{ include "common.labels.standard" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.labels.standard" -}}
{{ include "common.labels.matchLabels" . }}
app.kubernetes.io/component: {{ .svc.kind | default "subgraph" }}
app.kubernetes.io/part-of: emporium
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ include "common.images.tag" . | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}
