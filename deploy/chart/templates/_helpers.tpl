{{/*
The chart name, or nameOverride.
*/}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's objects: fullnameOverride, else the release name when it already
holds the chart name, else "<release>-<chart>". At most 63 characters (a DNS label).
*/}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"herald-0.1.0", for the helm.sh/chart label.
*/}}
{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the controller's pods. They never change between upgrades.
*/}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels for every object of the release.
*/}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herald
{{- end }}

{{/*
The controller's ServiceAccount.
*/}}
{{- define "herald.serviceAccountName" -}}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/*
The image, "repository:tag", tag defaulting to the chart's appVersion.
*/}}
{{- define "herald.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
"true" when the event store is PostgreSQL: store.existingSecret is set (the chart cannot read the
Secret, so its URL is taken to be a PostgreSQL one), or store.url starts with postgres:// or
postgresql://. Empty otherwise: a SQLite file (store.url empty, sqlite:PATH or an absolute path).
*/}}
{{- define "herald.postgresStore" -}}
{{- $url := toString (.Values.store.url | default "") }}
{{- if or .Values.store.existingSecret (hasPrefix "postgres://" $url) (hasPrefix "postgresql://" $url) }}true{{ end }}
{{- end }}

{{/*
Refuses values that cannot work: a store.url that is neither PostgreSQL nor SQLite, and more than
one replica on SQLite, where each pod keeps its own file and the API, `herald wait` and the
leader's work see only the events that reached their own pod.
*/}}
{{- define "herald.validateStore" -}}
{{- $url := toString (.Values.store.url | default "") }}
{{- if and $url (not (include "herald.postgresStore" .)) (not (hasPrefix "sqlite:" $url)) (not (hasPrefix "/" $url)) }}
{{- fail (printf "store.url %q is neither a PostgreSQL URL (postgres://… or postgresql://…) nor a SQLite one (sqlite:PATH or an absolute path)" $url) }}
{{- end }}
{{- if and (gt (int .Values.replicas) 1) (not (include "herald.postgresStore" .)) }}
{{- fail (printf "replicas: %d needs a PostgreSQL event store: with SQLite each replica keeps its own file, so an event posted to one pod is not seen through the others. Set store.url to a postgres:// or postgresql:// URL, or store.existingSecret to a Secret holding one, or set replicas: 1" (int .Values.replicas)) }}
{{- end }}
{{- end }}
