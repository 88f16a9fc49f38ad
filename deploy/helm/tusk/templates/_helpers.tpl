{{/* The labels every object of the chart carries: deploy/install's. */}}
{{- define "tusk.labels" -}}
app.kubernetes.io/name: tusk
{{- end }}

{{/* The operator's rules: deploy/rbac/cluster-role.yaml's (files/cluster-role.yaml links to it). */}}
{{- define "tusk.rules" -}}
{{- (.Files.Get "files/cluster-role.yaml" | fromYaml).rules | toYaml }}
{{- end }}

{{/* The leader election's rules: deploy/rbac/leader-election.yaml's Role (its first document). */}}
{{- define "tusk.leaderElectionRules" -}}
{{- (index (regexSplit "(?m)^---$" (.Files.Get "files/leader-election.yaml") -1) 0 | fromYaml).rules | toYaml }}
{{- end }}
