{{/*
common.images.tag: the image tag of one service: its own tag, else global.image.tag, else the
chart's appVersion.
*/}}
{{- define "common.images.tag" -}}
{{- .svc.image.tag | default .root.Values.global.image.tag | default .root.Chart.AppVersion -}}
{{- end -}}

{{/*
common.images.image: "<registry>/<repository>:<tag>" or "...@<digest>" when a digest is set
(digests win: they are what a release pins). The repository defaults to the service name, the
same name as its folder, values key and Tilt resource.
Usage: {{ include "common.images.image" (dict "name" "catalog" "svc" $svc "root" $) }}
*/}}
{{- define "common.images.image" -}}
{{- $registry := .root.Values.global.image.registry -}}
{{- $repository := .svc.image.repository | default .name -}}
{{- $ref := ternary $repository (printf "%s/%s" $registry $repository) (empty $registry) -}}
{{- if .svc.image.digest -}}
{{- printf "%s@%s" $ref .svc.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (include "common.images.tag" .) -}}
{{- end -}}
{{- end -}}
