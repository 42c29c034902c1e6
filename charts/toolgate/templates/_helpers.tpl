{{/* charts/toolgate helpers. The object names are fixed (toolgate, toolgate-config, …): the rendered config and the
Istio objects in values.rendered name them, so a release name cannot change them. */}}

{{/* The labels `toolgate render istio` puts on every object, plus Helm's own (not used in selectors). */}}
{{- define "toolgate.labels" -}}
app.kubernetes.io/name: toolgate
app: toolgate
app.kubernetes.io/component: policy
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "toolgate.selector" -}}
app.kubernetes.io/name: toolgate
{{- end -}}

{{/* Fails the install, with a sentence saying what to do, when values.rendered is missing or for another namespace. */}}
{{- define "toolgate.check" -}}
{{- $r := .Values.rendered | default dict -}}
{{- if not $r.namespace -}}
{{- fail "values.rendered is missing: render it from your toolgate config with `toolgate render helm --config FILE --namespace NS --out values.yaml` and pass it with -f" -}}
{{- end -}}
{{- if ne $r.namespace .Release.Namespace -}}
{{- fail (printf "values.rendered was rendered for namespace %q but the release is in %q: install with -n %s, or render again with --namespace %s" $r.namespace .Release.Namespace $r.namespace .Release.Namespace) -}}
{{- end -}}
{{- end -}}
