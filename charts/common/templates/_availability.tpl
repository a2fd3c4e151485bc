{{/*
common.pdb.render: at most one pod of the service down through voluntary disruptions (node
drains, cluster upgrades). With the minimum of 2 replicas in production one always serves.
Usage: {{ include "common.pdb.render" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.pdb.render" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
spec:
  maxUnavailable: {{ .svc.pdb.maxUnavailable }}
  # Pods that are not ready yet may be evicted even when the budget is spent.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" . | nindent 6 }}
{{- end -}}

{{/*
common.hpa.render: CPU-driven autoscaling between autoscaling.minReplicas and maxReplicas; scale
down slowly so a short lull does not remove capacity a burst will need again.
*/}}
{{- define "common.hpa.render" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "common.names.fullname" . }}
  minReplicas: {{ .svc.autoscaling.minReplicas }}
  maxReplicas: {{ .svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .svc.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      policies:
        - type: Pods
          value: 1
          periodSeconds: 60
{{- end -}}

{{/*
common.servicemonitor.render: Prometheus Operator scraping of /metrics, on the metrics port
when the service has one.
*/}}
{{- define "common.servicemonitor.render" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
    {{- with .root.Values.global.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ .root.Release.Namespace }}]
  endpoints:
    - port: {{ include "common.names.metricsPortName" . }}
      path: {{ .svc.metricsPath }}
      interval: {{ .root.Values.global.serviceMonitor.interval }}
      scrapeTimeout: 10s
{{- end -}}
