{{- define "superset-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "superset-operator.selectorLabels" -}}
app.kubernetes.io/name: superset-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "superset-operator.labels" -}}
{{ include "superset-operator.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "superset-operator.serviceAccountName" -}}
{{- default (include "superset-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}
