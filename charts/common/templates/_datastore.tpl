{{/*
common.datastore.render: the Datastore resource (emporium.io/v1alpha1) through which a service
asks the datastore operator for one engine. Usage:
{{ include "common.datastore.render" (dict "name" "catalog" "engine" "mongodb" "store" $store "root" $) }}
*/}}
{{- define "common.datastore.render" -}}
apiVersion: emporium.io/v1alpha1
kind: Datastore
metadata:
  name: {{ include "common.names.datastore" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.matchLabels" . | nindent 4 }}
    app.kubernetes.io/component: datastore
    app.kubernetes.io/part-of: emporium
    app.kubernetes.io/managed-by: {{ .root.Release.Service }}
  annotations:
    # Uninstalling the release must not delete the data: the Datastore stays, and its
    # deletionPolicy decides what happens when it is deleted on purpose.
    helm.sh/resource-policy: keep
spec:
  engine: {{ .engine }}
  version: {{ .store.version | quote }}
  replicas: {{ .store.replicas }}
  storage:
    size: {{ .store.storage.size }}
    {{- with .store.storage.storageClassName }}
    storageClassName: {{ . }}
    {{- end }}
  {{- with .store.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  deletionPolicy: {{ .store.deletionPolicy }}
{{- end -}}
