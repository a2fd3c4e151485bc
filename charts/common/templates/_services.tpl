{{/*
common.services.registry: the services of the release as a YAML map, read from the chart's
registry.yaml, which `uv run emporium-registry generate` writes from the services' registry
tables (kind, runtime, container port, the datastores each needs, whom each calls).
*/}}
{{- define "common.services.registry" -}}
{{- $registry := .root.Files.Get "registry.yaml" | fromYaml -}}
{{- toYaml (get $registry "services" | default dict) -}}
{{- end -}}

{{/*
common.services.names: the release's services, sorted, as a JSON list: those of the registry.
A values block (services.<name>) that names no service fails the render, so a typo in a
service name is an error instead of a second service.
Usage: {{ range $name := include "common.services.names" (dict "root" $) | fromJsonArray }}
*/}}
{{- define "common.services.names" -}}
{{- $registry := include "common.services.registry" . | fromYaml -}}
{{- range $name, $_ := .root.Values.services | default dict }}
{{- if not (hasKey $registry $name) }}
{{- fail (printf "services.%s: no such service; the services are %s (each from its registry table, docs/adding-a-service.md)" $name (keys $registry | sortAlpha | join ", ")) }}
{{- end }}
{{- end }}
{{- keys $registry | sortAlpha | toJson -}}
{{- end -}}

{{/*
common.services.effective: one service's block as JSON: .Values.defaults, then what the
registry says of it, then its values block (services.<name>), each merged over the one before.
Usage: {{ $svc := include "common.services.effective" (dict "name" "catalog" "root" $) | fromJson }}
*/}}
{{- define "common.services.effective" -}}
{{- $registry := include "common.services.registry" . | fromYaml -}}
{{- $derived := get $registry .name | default dict -}}
{{- $own := get (.root.Values.services | default dict) .name | default dict -}}
{{- mergeOverwrite (deepCopy .root.Values.defaults) (deepCopy $derived) (deepCopy $own) | toJson -}}
{{- end -}}
