{{/*
common.probes.http: an HTTP probe on the service's http port.
Usage: {{ include "common.probes.http" (dict "path" "/readyz" "probe" $svc.probes.readiness) }}
*/}}
{{- define "common.probes.http" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- with .probe.successThreshold }}
successThreshold: {{ . }}
{{- end }}
{{- end -}}
