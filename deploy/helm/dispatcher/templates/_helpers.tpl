{{/* The chart's name. */}}
{{- define "dispatcher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: the prefix of every object. */}}
{{- define "dispatcher.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "dispatcher.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "dispatcher.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dispatcher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dispatcher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dispatcher.labels" -}}
{{ include "dispatcher.selectorLabels" . }}
app.kubernetes.io/version: {{ include "dispatcher.version" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "dispatcher.version" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "dispatcher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dispatcher.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding BOT_TOKEN, WEBHOOK_SECRET and REDIS_URL. */}}
{{- define "dispatcher.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if .Values.secrets.create -}}
{{- include "dispatcher.fullname" . -}}
{{- else -}}
{{- fail "secrets: set secrets.existingSecret to the Secret holding BOT_TOKEN, WEBHOOK_SECRET and REDIS_URL (or secrets.create=true with the values)" -}}
{{- end -}}
{{- end -}}

{{/*
GOMEMLIMIT: goMemLimit, or 90% of resources.limits.memory in bytes. A
quantity with a Ki/Mi/Gi/Ti or K/M/G/T suffix, or plain bytes.
*/}}
{{- define "dispatcher.goMemLimit" -}}
{{- if .Values.goMemLimit -}}
{{- .Values.goMemLimit -}}
{{- else -}}
{{- $limit := toString (dig "limits" "memory" "" .Values.resources) -}}
{{- $m := regexFindAll "^([0-9]+)(Ki|Mi|Gi|Ti|K|M|G|T)?$" $limit 1 -}}
{{- if not $m -}}
{{- fail (printf "resources.limits.memory %q: set a memory limit such as 256Mi (or goMemLimit)" $limit) -}}
{{- end -}}
{{- $unit := regexReplaceAll "^[0-9]+" $limit "" -}}
{{- $n := regexReplaceAll "[A-Za-z]+$" $limit "" | int64 -}}
{{- $mult := get (dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000) $unit -}}
{{- div (mul $n $mult 9) 10 -}}
{{- end -}}
{{- end -}}

{{/*
The container port of the ops endpoints: "ops" with OPS_LISTEN_ADDR, else
"http" (everything on LISTEN_ADDR).
*/}}
{{- define "dispatcher.opsPort" -}}
{{- if .Values.config.OPS_LISTEN_ADDR }}ops{{ else }}http{{ end }}
{{- end }}
