{{/* Names, labels and the settings every procplane pod shares. */}}

{{- define "procplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "procplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "procplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "procplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "procplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "procplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: procplane
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* True (non-empty) when the API and the reconciler run together in one pod on SQLite. */}}
{{- define "procplane.combined" -}}
{{- if eq .Values.database.type "sqlite" }}true{{ end -}}
{{- end -}}

{{/* The component label of the pods that serve the API. */}}
{{- define "procplane.apiComponent" -}}
{{- if include "procplane.combined" . }}server{{ else }}api{{ end -}}
{{- end -}}

{{- define "procplane.apiServiceAccount" -}}
{{- if .Values.serviceAccounts.api.create -}}
{{- default (printf "%s-api" (include "procplane.fullname" .)) .Values.serviceAccounts.api.name -}}
{{- else -}}
{{- required "serviceAccounts.api.name is required when serviceAccounts.api.create is false" .Values.serviceAccounts.api.name -}}
{{- end -}}
{{- end -}}

{{- define "procplane.reconcilerServiceAccount" -}}
{{- if .Values.serviceAccounts.reconciler.create -}}
{{- default (printf "%s-reconciler" (include "procplane.fullname" .)) .Values.serviceAccounts.reconciler.name -}}
{{- else -}}
{{- required "serviceAccounts.reconciler.name is required when serviceAccounts.reconciler.create is false" .Values.serviceAccounts.reconciler.name -}}
{{- end -}}
{{- end -}}

{{- define "procplane.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "procplane.databaseSecret" -}}
{{- default (printf "%s-database" (include "procplane.fullname" .)) .Values.database.postgresql.existingSecret -}}
{{- end -}}

{{- define "procplane.databaseSecretKey" -}}
{{- if .Values.database.postgresql.existingSecret }}{{ .Values.database.postgresql.existingSecretKey }}{{ else }}database-url{{ end -}}
{{- end -}}

{{- define "procplane.bootstrapSecret" -}}
{{- default (printf "%s-bootstrap-token" (include "procplane.fullname" .)) .Values.bootstrapToken.existingSecret -}}
{{- end -}}

{{- define "procplane.bootstrapSecretKey" -}}
{{- if .Values.bootstrapToken.existingSecret }}{{ .Values.bootstrapToken.existingSecretKey }}{{ else }}bootstrap-token{{ end -}}
{{- end -}}

{{/* True (non-empty) when the pods get a bootstrap token from some Secret. */}}
{{- define "procplane.hasBootstrapToken" -}}
{{- if or .Values.bootstrapToken.value .Values.bootstrapToken.existingSecret .Values.bootstrapToken.generate }}true{{ end -}}
{{- end -}}

{{- define "procplane.sqliteClaim" -}}
{{- default (printf "%s-data" (include "procplane.fullname" .)) .Values.database.sqlite.existingClaim -}}
{{- end -}}

{{/*
Refuses values no schema can check: combinations that would lose data or cannot work.
*/}}
{{- define "procplane.validate" -}}
{{- if and (eq .Values.database.type "sqlite") (gt (int .Values.api.replicas) 1) -}}
{{- fail "database.type sqlite keeps its data in one file on one volume: api.replicas must be 1 (use database.type postgresql to run more)" -}}
{{- end -}}
{{- if eq .Values.database.type "postgresql" -}}
{{- if and .Values.database.postgresql.url .Values.database.postgresql.existingSecret -}}
{{- fail "database.postgresql: give url or existingSecret, not both" -}}
{{- end -}}
{{- if not (or .Values.database.postgresql.url .Values.database.postgresql.existingSecret) -}}
{{- fail "database.type postgresql needs database.postgresql.url or database.postgresql.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- $names := list -}}
{{- range .Values.resourceTypes -}}
{{- if has .name $names -}}
{{- fail (printf "resourceTypes: the name %q appears twice" .name) -}}
{{- end -}}
{{- $names = append $names .name -}}
{{- end -}}
{{- if and .Values.defaultResourceType (not (has .Values.defaultResourceType $names)) -}}
{{- fail (printf "defaultResourceType %q is not in resourceTypes" .Values.defaultResourceType) -}}
{{- end -}}
{{- if and .Values.ingress.enabled .Values.ingress.tlsSecretName (not .Values.ingress.host) -}}
{{- fail "ingress.tlsSecretName needs ingress.host" -}}
{{- end -}}
{{- end -}}

{{/* The Pod Security "restricted" profile, pod half. */}}
{{- define "procplane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The Pod Security "restricted" profile, container half, with a read-only root filesystem. */}}
{{- define "procplane.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Settings shared by every procplane container: database, catalog, plan limits, rendering,
webhook targets (the API checks a URL when it is set, the reconciler before each delivery). */}}
{{- define "procplane.env" -}}
{{- if eq .Values.database.type "sqlite" }}
- name: PROCPLANE_DATABASE_URL
  value: sqlite:////data/procplane.db
{{- else }}
- name: PROCPLANE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "procplane.databaseSecret" . }}
      key: {{ include "procplane.databaseSecretKey" . }}
{{- end }}
- name: PROCPLANE_RESOURCE_TYPES
  value: {{ toJson .Values.resourceTypes | quote }}
{{- with .Values.defaultResourceType }}
- name: PROCPLANE_DEFAULT_RESOURCE_TYPE
  value: {{ . | quote }}
{{- end }}
- name: PROCPLANE_MAX_PROCESSES_PER_APPLICATION
  value: {{ .Values.planLimits.maxProcessesPerApplication | quote }}
- name: PROCPLANE_MAX_INSTANCES_PER_PROCESS
  value: {{ .Values.planLimits.maxInstancesPerProcess | quote }}
- name: PROCPLANE_MAX_APPLICATIONS_PER_TEAM
  value: {{ .Values.planLimits.maxApplicationsPerTeam | quote }}
- name: PROCPLANE_DATABASE_BUSY_TIMEOUT_SECONDS
  value: {{ .Values.database.busyTimeoutSeconds | quote }}
- name: PROCPLANE_CLUSTER_DOMAIN
  value: {{ .Values.applications.clusterDomain | quote }}
{{- with .Values.applications.ingressClass }}
- name: PROCPLANE_INGRESS_CLASS
  value: {{ . | quote }}
{{- end }}
{{- with .Values.applications.ingressDomain }}
- name: PROCPLANE_INGRESS_DOMAIN
  value: {{ . | quote }}
{{- end }}
{{- with .Values.webhooks.allowedNetworks }}
- name: PROCPLANE_WEBHOOK_ALLOWED_NETWORKS
  value: {{ join "," . | quote }}
{{- end }}
- name: PROCPLANE_LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
- name: PROCPLANE_LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
{{- include "procplane.installEnv" . }}
{{- end -}}

{{/* The reconciler's probes, on its health port (named "health"): alive while its loop turns,
ready once a leader's caches have synced or while a standby waits for the lease. */}}
{{- define "procplane.reconcilerProbes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: health
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
{{- end -}}

{{/* ---- Install id, release progress, observing and webhook delivery ---- */}}

{{/* The install id: the value, or one derived from the release's namespace and name, which an
upgrade keeps and no other release in the cluster has. A DNS label either way. */}}
{{- define "procplane.installId" -}}
{{- .Values.installId | default (sha256sum (printf "%s/%s" .Release.Namespace .Release.Name) | trunc 16) -}}
{{- end -}}

{{- define "procplane.installEnv" }}
- name: PROCPLANE_INSTALL_ID
  value: {{ include "procplane.installId" . | quote }}
- name: PROCPLANE_PROGRESS_DEADLINE_SECONDS
  value: {{ .Values.applications.progressDeadlineSeconds | quote }}
{{- with .Values.observing }}
- name: PROCPLANE_OBSERVE_INTERVAL_SECONDS
  value: {{ .intervalSeconds | quote }}
- name: PROCPLANE_SAMPLE_INTERVAL_SECONDS
  value: {{ .sampleIntervalSeconds | quote }}
- name: PROCPLANE_SAMPLE_RAW_RETENTION_HOURS
  value: {{ .sampleRawRetentionHours | quote }}
- name: PROCPLANE_SAMPLE_RETENTION_DAYS
  value: {{ .sampleRetentionDays | quote }}
- name: PROCPLANE_RESTART_ALERT_WINDOW_SECONDS
  value: {{ .restartAlertWindowSeconds | quote }}
{{- end }}
{{- with .Values.webhooks }}
- name: PROCPLANE_WEBHOOK_MAX_ATTEMPTS
  value: {{ .maxAttempts | quote }}
- name: PROCPLANE_WEBHOOK_RETRY_BASE_SECONDS
  value: {{ .retryBaseSeconds | quote }}
- name: PROCPLANE_WEBHOOK_RETRY_CAP_SECONDS
  value: {{ .retryCapSeconds | quote }}
- name: PROCPLANE_WEBHOOK_TIMEOUT_SECONDS
  value: {{ .timeoutSeconds | quote }}
{{- end }}
{{- end -}}

{{/* ---- Migrations (templates/migrations.yaml) ---- */}}

{{/* The hook Job's own copy of the database URL when the chart holds it: hooks run before the
release's Secret exists (install) or is updated (upgrade). */}}
{{- define "procplane.migrationSecret" -}}
{{- if .Values.database.postgresql.existingSecret -}}
{{- .Values.database.postgresql.existingSecret -}}
{{- else -}}
{{- printf "%s-migrate" (include "procplane.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The API's own settings: rate limits, requests in flight, its database pool. */}}
{{- define "procplane.apiEnv" -}}
{{- with .Values.api.rateLimits }}
- name: PROCPLANE_RATE_LIMITS_ENABLED
  value: {{ .enabled | quote }}
- name: PROCPLANE_RATE_LIMIT_WINDOW_SECONDS
  value: {{ .windowSeconds | quote }}
- name: PROCPLANE_RATE_LIMIT_READS
  value: {{ .reads | quote }}
- name: PROCPLANE_RATE_LIMIT_WRITES
  value: {{ .writes | quote }}
- name: PROCPLANE_RATE_LIMIT_CREATIONS
  value: {{ .creations | quote }}
- name: PROCPLANE_RATE_LIMIT_AUTH_FAILURES
  value: {{ .authFailures | quote }}
- name: PROCPLANE_RATE_LIMIT_HEARTBEAT_PINGS
  value: {{ .heartbeatPings | quote }}
- name: PROCPLANE_RATE_LIMIT_TEAM_FACTOR
  value: {{ .teamFactor | quote }}
{{- end }}
- name: PROCPLANE_MAX_REQUESTS_IN_FLIGHT
  value: {{ .Values.api.maxRequestsInFlight | quote }}
{{- with .Values.api.databasePool }}
- name: PROCPLANE_DATABASE_POOL_SIZE
  value: {{ .size | quote }}
- name: PROCPLANE_DATABASE_POOL_OVERFLOW
  value: {{ .overflow | quote }}
- name: PROCPLANE_DATABASE_POOL_TIMEOUT_SECONDS
  value: {{ .timeoutSeconds | quote }}
{{- end }}
{{- end -}}

{{- define "procplane.bootstrapEnv" -}}
{{- if include "procplane.hasBootstrapToken" . }}
- name: PROCPLANE_BOOTSTRAP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "procplane.bootstrapSecret" . }}
      key: {{ include "procplane.bootstrapSecretKey" . }}
{{- end }}
{{- end -}}

{{- define "procplane.leaseEnv" -}}
- name: PROCPLANE_LEASE_NAMESPACE
  value: {{ .Release.Namespace | quote }}
{{- end -}}
