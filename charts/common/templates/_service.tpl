{{/*
common.service.render: the ClusterIP Service of one service (the gateway and Prometheus reach
the pods through it), with a metrics port when the service serves metrics apart.
Usage: {{ include "common.service.render" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.service.render" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "common.labels.matchLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .svc.servicePort }}
      targetPort: http
      protocol: TCP
    {{- if .svc.metricsPort }}
    - name: metrics
      port: {{ .svc.metricsPort }}
      targetPort: metrics
      protocol: TCP
    {{- end }}
{{- end -}}

{{/*
common.serviceaccount.render: one ServiceAccount per service, with no API token mounted: the
services never talk to the Kubernetes API.
*/}}
{{- define "common.serviceaccount.render" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}
