{{/* Names, labels and the agent's container block (shared by both modes). */}}

{{- define "id-monitor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "id-monitor.fullname" -}}
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

{{- define "id-monitor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "id-monitor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "id-monitor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "id-monitor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end }}

{{- define "id-monitor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "id-monitor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "id-monitor.configMapName" -}}
{{ include "id-monitor.fullname" . }}-config
{{- end }}

{{/* The agent's config file: the values' config with metrics.listen set from metricsPort. */}}
{{- define "id-monitor.configFile" -}}
{{- if hasKey .Values.config "metrics" }}
{{- fail "config.metrics is set by the chart (metrics.listen from metricsPort): remove it and set metricsPort" }}
{{- end }}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "metrics" (dict "listen" (printf "0.0.0.0:%d" (int .Values.metricsPort))) }}
{{- toYaml $config }}
{{- end }}

{{/* Rolls the pods when the config changes. */}}
{{- define "id-monitor.configChecksum" -}}
{{ include "id-monitor.configFile" . | sha256sum }}
{{- end }}

{{- define "id-monitor.readinessPath" -}}
{{- if .Values.probes.readiness.path }}
{{- .Values.probes.readiness.path }}
{{- else if eq .Values.mode "sidecar" }}
{{- "/healthz" }}
{{- else }}
{{- "/readyz" }}
{{- end }}
{{- end }}

{{/*
The agent's container. In sidecar mode this is the block to add to the application's pod
(`containers`, or `initContainers` with restartPolicy: Always when sidecar.native is true).
*/}}
{{- define "id-monitor.container" -}}
- name: id-monitor
  image: "{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if and (eq .Values.mode "sidecar") .Values.sidecar.native }}
  {{- if semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version }}
  {{- fail (printf "sidecar.native needs Kubernetes 1.29 or later (restartable init containers); this is %s" .Capabilities.KubeVersion.Version) }}
  {{- end }}
  restartPolicy: Always
  {{- end }}
  args:
    - run
    - --config
    - /etc/id-monitor/config.yaml
    {{- range .Values.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  ports:
    - name: idmon-metrics
      containerPort: {{ .Values.metricsPort }}
      protocol: TCP
  {{- with .Values.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    httpGet:
      path: /healthz
      port: idmon-metrics
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: idmon-metrics
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: {{ include "id-monitor.readinessPath" . }}
      port: idmon-metrics
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  {{- with .Values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: id-monitor-config
      mountPath: /etc/id-monitor
      readOnly: true
    - name: id-monitor-tmp
      mountPath: /tmp
{{- end }}

{{/* The volumes the container block needs, to add to the pod's `volumes`. */}}
{{- define "id-monitor.volumes" -}}
- name: id-monitor-config
  configMap:
    name: {{ include "id-monitor.configMapName" . }}
- name: id-monitor-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{/* Sets the scrape job to jobName, which the alert rules select on. */}}
{{- define "id-monitor.jobRelabeling" -}}
- action: replace
  targetLabel: job
  replacement: {{ .Values.jobName | quote }}
{{- end }}
