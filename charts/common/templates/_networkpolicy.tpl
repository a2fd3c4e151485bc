{{/*
common.networkpolicy.ports: the client port of each engine the datastore operator runs.
*/}}
{{- define "common.networkpolicy.enginePort" -}}
{{- get (dict "mongodb" 27017 "redis" 6379 "opensearch" 9200) . -}}
{{- end -}}

{{/*
common.networkpolicy.dns: egress to the cluster DNS, which every pod needs once egress is denied.
*/}}
{{- define "common.networkpolicy.dns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/*
common.networkpolicy.callers: the services allowed to call this one besides the gateway's
subgraph edge, as a JSON list: every enabled service of the release whose .calls names it, plus
.svc.calledBy.
*/}}
{{- define "common.networkpolicy.callers" -}}
{{- $callers := list -}}
{{- range $caller := include "common.services.names" (dict "root" .root) | fromJsonArray }}
{{- $other := include "common.services.effective" (dict "name" $caller "root" $.root) | fromJson }}
{{- if and $other.enabled (has $.name $other.calls) (not (and (ne $.svc.kind "gateway") (eq $caller $.root.Values.global.networkPolicy.gatewayName))) }}
{{- $callers = append $callers $caller }}
{{- end }}
{{- end }}
{{- concat $callers .svc.calledBy | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/*
common.networkpolicy.render: the real edges of one service on top of the namespace's default
deny: who may call it (the gateway calls subgraphs; an ingress controller calls the gateway and
the services marked public; every service whose .calls names this one, and those in .calledBy;
Prometheus scrapes everyone) and what it may call (its own datastores, NATS, the OTLP collector,
the services in .svc.calls, DNS). An edge is declared once, by the caller's .calls.
Usage: {{ include "common.networkpolicy.render" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.networkpolicy.render" -}}
{{- $np := .root.Values.global.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "common.names.fullname" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "common.labels.matchLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if or (ne .svc.kind "subgraph") .svc.public }}
    # Client traffic (the gateway, a browser app) arrives through the ingress controller.
    - from:
        - namespaceSelector:
            {{- toYaml $np.ingressControllerNamespaceSelector | nindent 12 }}
      ports:
        - port: http
    {{- end }}
    {{- if eq .svc.kind "subgraph" }}
    # Subgraphs are called by the gateway.
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ $np.gatewayName }}
              app.kubernetes.io/instance: {{ .root.Release.Name }}
      ports:
        - port: http
    {{- end }}
    {{- range $caller := include "common.networkpolicy.callers" . | fromJsonArray }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ $caller }}
              app.kubernetes.io/instance: {{ $.root.Release.Name }}
      ports:
        - port: http
    {{- end }}
    {{- if ne .svc.kind "web" }}
    # Prometheus scrapes /metrics (on the metrics port when there is one; a static file
    # server has none).
    - from:
        - namespaceSelector:
            {{- toYaml $np.monitoringNamespaceSelector | nindent 12 }}
      ports:
        - port: {{ include "common.names.metricsPortName" . }}
    {{- end }}
  egress:
    {{- include "common.networkpolicy.dns" . | nindent 4 }}
    {{- range $engine := list "mongodb" "redis" "opensearch" }}
    {{- $store := get $.svc.datastores $engine }}
    {{- if and $store $store.enabled (not $store.existingSecret) }}
    - to:
        - podSelector:
            matchLabels:
              emporium.io/datastore: {{ include "common.names.datastore" (dict "name" $.name "engine" $engine "root" $.root) }}
      ports:
        - port: {{ include "common.networkpolicy.enginePort" $engine }}
    {{- end }}
    {{- end }}
    {{- if .svc.nats }}
    - to:
        - namespaceSelector:
            {{- toYaml $np.nats.namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml $np.nats.podSelector | nindent 12 }}
      ports:
        - port: {{ $np.nats.port }}
    {{- end }}
    {{- with $np.otlp }}
    {{- if .enabled }}
    - to:
        - namespaceSelector:
            {{- toYaml .namespaceSelector | nindent 12 }}
          podSelector:
            {{- toYaml .podSelector | nindent 12 }}
      ports:
        - port: {{ .port }}
    {{- end }}
    {{- end }}
    {{- range $callee := .svc.calls }}
    - to:
        - podSelector:
            matchLabels:
              app.kubernetes.io/name: {{ $callee }}
              app.kubernetes.io/instance: {{ $.root.Release.Name }}
      ports:
        - port: http
    {{- end }}
    {{- with .svc.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/*
common.networkpolicy.datastore: the pods of one Datastore accept their own service (client port)
and each other (replication, cluster transport, the replica set Job), and reach only each other
and DNS.
Usage: {{ include "common.networkpolicy.datastore" (dict "name" "catalog" "engine" "mongodb" "root" $) }}
*/}}
{{- define "common.networkpolicy.datastore" -}}
{{- $datastore := include "common.names.datastore" . -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $datastore }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.matchLabels" . | nindent 4 }}
    app.kubernetes.io/component: datastore
    app.kubernetes.io/part-of: emporium
    app.kubernetes.io/managed-by: {{ .root.Release.Service }}
spec:
  podSelector:
    matchLabels:
      emporium.io/datastore: {{ $datastore }}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels:
              {{- include "common.labels.matchLabels" . | nindent 14 }}
      ports:
        - port: {{ include "common.networkpolicy.enginePort" .engine }}
    - from:
        - podSelector:
            matchLabels:
              emporium.io/datastore: {{ $datastore }}
  egress:
    {{- include "common.networkpolicy.dns" . | nindent 4 }}
    - to:
        - podSelector:
            matchLabels:
              emporium.io/datastore: {{ $datastore }}
{{- end -}}

{{/*
common.networkpolicy.defaultDeny: nothing in the namespace talks to anything unless a policy
above allows the edge.
*/}}
{{- define "common.networkpolicy.defaultDeny" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ printf "%sdefault-deny" (.root.Values.global.namePrefix | default "") }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    app.kubernetes.io/instance: {{ .root.Release.Name }}
    app.kubernetes.io/part-of: emporium
    app.kubernetes.io/managed-by: {{ .root.Release.Service }}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
{{- end -}}
