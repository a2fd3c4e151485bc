{{/*
common.deployment.render: the Deployment of one service, set up for rollouts that drop no
request: a surge pod must pass /readyz before an old one goes (maxUnavailable 0); an old pod
first leaves the Service endpoints (preStop sleep while kube-proxy and the gateway catch up),
then drains in-flight requests within its graceful shutdown, all inside the termination grace.
Usage: {{ include "common.deployment.render" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.deployment.render" -}}
{{- $fullname := include "common.names.fullname" . -}}
{{- $grace := add .svc.shutdown.preStopSeconds .svc.shutdown.gracefulSeconds .svc.shutdown.marginSeconds -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "common.labels.standard" . | nindent 4 }}
  annotations:
    # Deliberate deviations from checkov's defaults, each with its reason.
    checkov.io/skip1: CKV_K8S_11=No CPU limit on purpose - CFS quotas throttle latency-sensitive servers; CPU requests are set and memory is limited
    checkov.io/skip2: CKV_K8S_43=Releases pin images by digest through image.digest; plain tags are for development
    checkov.io/skip3: CKV_K8S_15=Tags are immutable (commit SHA or release) and releases pin digests; IfNotPresent saves a registry round-trip per pod start
    checkov.io/skip4: CKV_K8S_35=Settings come from the environment (pydantic-settings EMPORIUM_*) - each secret setting is one named key of a Secret, never the whole Secret
spec:
  {{- if not .svc.autoscaling.enabled }}
  replicas: {{ .svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  minReadySeconds: {{ .svc.minReadySeconds }}
  progressDeadlineSeconds: 600
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: {{ .svc.maxSurge }}
  selector:
    matchLabels:
      {{- include "common.labels.matchLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "common.labels.standard" . | nindent 8 }}
      annotations:
        # Roll the pods when their settings change.
        checksum/config: {{ include "common.configmap.data" . | sha256sum }}
        {{- with .svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $fullname }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $grace }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .svc.securityContext.runAsUser }}
        runAsGroup: {{ .svc.securityContext.runAsUser }}
        fsGroup: {{ .svc.securityContext.runAsUser }}
        seccompProfile:
          type: RuntimeDefault
      {{- with .root.Values.global.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      # Honor: a cordoned (tainted) node does not count. Otherwise a drained node keeps its
      # domain at zero pods and, with DoNotSchedule, the replacements for its pods stay
      # Pending because any other placement widens the skew.
      topologySpreadConstraints:
        {{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
        - maxSkew: 1
          topologyKey: {{ $key }}
          whenUnsatisfiable: {{ $.svc.topologySpread.whenUnsatisfiable }}
          nodeTaintsPolicy: Honor
          labelSelector:
            matchLabels:
              {{- include "common.labels.matchLabels" $ | nindent 14 }}
          matchLabelKeys: [pod-template-hash]
        {{- end }}
      {{- with .svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "common.images.image" . }}
          imagePullPolicy: {{ .root.Values.global.image.pullPolicy }}
          {{- with .svc.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .svc.port }}
              protocol: TCP
            {{- if .svc.metricsPort }}
            - name: metrics
              containerPort: {{ .svc.metricsPort }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-config
          {{- $env := printf "%s\n%s" (include "common.env.datastores" .) (include "common.env.secrets" .) | trim }}
          {{- if or $env .svc.extraEnv }}
          env:
            {{- with $env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with .svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          startupProbe:
            {{- include "common.probes.http" (dict "path" .svc.probes.livenessPath "probe" .svc.probes.startup) | nindent 12 }}
          readinessProbe:
            {{- include "common.probes.http" (dict "path" .svc.probes.readinessPath "probe" .svc.probes.readiness) | nindent 12 }}
          livenessProbe:
            {{- include "common.probes.http" (dict "path" .svc.probes.livenessPath "probe" .svc.probes.liveness) | nindent 12 }}
          lifecycle:
            preStop:
              sleep:
                seconds: {{ .svc.shutdown.preStopSeconds }}
          resources:
            {{- toYaml .svc.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            capabilities:
              drop: [ALL]
            seccompProfile:
              type: RuntimeDefault
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if .svc.supergraph.enabled }}
            - name: supergraph
              mountPath: {{ .svc.supergraph.mountPath }}
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- if .svc.supergraph.enabled }}
        # Mounted as a directory (no subPath): a new supergraph reaches running pods, and the
        # gateway reloads it without a restart.
        - name: supergraph
          configMap:
            name: {{ $fullname }}-supergraph
        {{- end }}
{{- end -}}
