{{/* datastore-operator.labels: recommended labels of every object of the operator. */}}
{{- define "datastore-operator.labels" -}}
{{ include "datastore-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: emporium
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* datastore-operator.selectorLabels: the operator pod's immutable selector. */}}
{{- define "datastore-operator.selectorLabels" -}}
app.kubernetes.io/name: datastore-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* datastore-operator.image: registry/repository:tag, or @digest when set. */}}
{{- define "datastore-operator.image" -}}
{{- $ref := ternary .Values.image.repository (printf "%s/%s" .Values.image.registry .Values.image.repository) (empty .Values.image.registry) -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $ref .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}
