//! What every pod Tusk builds shares: its security settings, image pull settings, PGO's default spread
//! constraints, the scratch volume a read-only root filesystem needs, and the pod of the operator's one-shot
//! Jobs (restores, backups, moves of adopted volumes, `databaseInitSQL`).

use crate::naming::labels::{self, Labels};
use crate::naming::names;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EmptyDirVolumeSource, LocalObjectReference, Pod,
    PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile, SecurityContext, Toleration,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// The group of the `postgres` user in Tusk's and Crunchy's images; volumes are made writable for it.
pub const POSTGRES_GROUP: i64 = 26;
/// Where every container gets a writable scratch directory (the root filesystem is read-only).
pub const TMP_PATH: &str = "/tmp";
/// The name of the scratch volume.
pub const TMP_VOLUME: &str = "tmp";

/// The pod-level security settings: never root, volumes owned by group 26 (unless on OpenShift, which assigns
/// its own), the spec's supplemental groups.
pub fn pod_security_context(cluster: &PostgresCluster) -> PodSecurityContext {
    let openshift = cluster.spec.openshift.unwrap_or(false);
    PodSecurityContext {
        run_as_non_root: Some(true),
        fs_group: (!openshift).then_some(POSTGRES_GROUP),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        supplemental_groups: cluster.spec.supplemental_groups.clone(),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..PodSecurityContext::default()
    }
}

/// The container-level security settings of every container: no privilege, no capability, no escalation, a
/// read-only root filesystem.
pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(runtime_default_seccomp()),
        ..SecurityContext::default()
    }
}

fn runtime_default_seccomp() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    }
}

/// `spec.imagePullSecrets`, as the pod needs them.
pub fn image_pull_secrets(cluster: &PostgresCluster) -> Option<Vec<LocalObjectReference>> {
    cluster.spec.image_pull_secrets.clone()
}

/// `spec.imagePullPolicy` as the string a container takes.
pub fn image_pull_policy(cluster: &PostgresCluster) -> Option<String> {
    cluster
        .spec
        .image_pull_policy
        .map(|policy| format!("{policy:?}"))
}

/// A container with the settings every container shares: image pull policy and security context.
pub fn container(cluster: &PostgresCluster, name: &str, image: String) -> Container {
    Container {
        name: name.into(),
        image: Some(image),
        image_pull_policy: image_pull_policy(cluster),
        security_context: Some(container_security_context()),
        ..Container::default()
    }
}

/// The scratch volume mounted at [`TMP_PATH`].
pub fn tmp_volume() -> Volume {
    Volume {
        name: TMP_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(k8s_openapi::apimachinery::pkg::api::resource::Quantity(
                "16Mi".into(),
            )),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// The mount of [`tmp_volume`].
pub fn tmp_mount() -> VolumeMount {
    VolumeMount {
        name: TMP_VOLUME.into(),
        mount_path: TMP_PATH.into(),
        ..VolumeMount::default()
    }
}

/// PGO's default spread of a cluster's data pods (instances and the repository host) over hosts and zones,
/// preferred, never required; none when `spec.disableDefaultPodScheduling` is true.
pub fn default_data_spread(cluster: &PostgresCluster) -> Vec<TopologySpreadConstraint> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let selector = LabelSelector {
        match_labels: Some(labels::cluster(&name)),
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: labels::DATA.into(),
            operator: "In".into(),
            values: Some(vec![
                labels::DATA_POSTGRES.into(),
                labels::DATA_PGBACKREST.into(),
            ]),
        }]),
    };
    default_spread(cluster, selector)
}

/// PGO's default spread of a cluster's pods that carry `pod_labels` (PgBouncer's) over hosts and zones.
pub fn default_spread_of(
    cluster: &PostgresCluster,
    pod_labels: Labels,
) -> Vec<TopologySpreadConstraint> {
    let selector = LabelSelector {
        match_labels: Some(pod_labels),
        match_expressions: None,
    };
    default_spread(cluster, selector)
}

fn default_spread(
    cluster: &PostgresCluster,
    selector: LabelSelector,
) -> Vec<TopologySpreadConstraint> {
    if cluster.spec.disable_default_pod_scheduling.unwrap_or(false) {
        return Vec::new();
    }
    ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        .into_iter()
        .map(|key| TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(selector.clone()),
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

/// What a StatefulSet of exactly one pod, `<name>-0`, is made of: the instances' and the repository host's.
pub struct OnePod {
    /// The StatefulSet's metadata.
    pub metadata: ObjectMeta,
    /// The labels that select its pod.
    pub selector: Labels,
    /// The pod's labels (the selector's and more).
    pub labels: Labels,
    /// The pod's annotations (configuration hashes that roll it).
    pub annotations: BTreeMap<String, String>,
    /// The pod.
    pub spec: PodSpec,
    /// `OnDelete` (Tusk replaces the pod itself) or `RollingUpdate`.
    pub update_strategy: &'static str,
}

/// The StatefulSet of one pod, addressable through `<c>-pods` as `<name>-0.<c>-pods`, scaled to zero while the
/// cluster is shut down, keeping no old revisions.
pub fn one_pod_statefulset(cluster: &PostgresCluster, one: OnePod) -> StatefulSet {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let shutdown = cluster.spec.shutdown.unwrap_or(false);
    StatefulSet {
        spec: Some(StatefulSetSpec {
            replicas: Some(if shutdown { 0 } else { 1 }),
            selector: LabelSelector {
                match_labels: Some(one.selector),
                ..LabelSelector::default()
            },
            service_name: Some(names::pods_service(cluster_name)),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some(one.update_strategy.into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            pod_management_policy: Some("Parallel".into()),
            revision_history_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(one.labels),
                    annotations: Some(one.annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(one.spec),
            },
            ..StatefulSetSpec::default()
        }),
        metadata: one.metadata,
        ..StatefulSet::default()
    }
}

/// Where a one-shot Job's pod runs: as the pods whose volume it works on.
#[derive(Clone, Debug, Default)]
pub struct Scheduling {
    /// Their affinity.
    pub affinity: Option<Affinity>,
    /// Their tolerations.
    pub tolerations: Option<Vec<Toleration>>,
    /// Their priority class.
    pub priority_class_name: Option<String>,
}

/// The pod of a one-shot Job of the operator: `container` once (never restarted in place), with `volumes`, in
/// `cluster`'s security context, without Kubernetes API access, placed by `scheduling`.
pub fn job_pod_spec(
    cluster: &PostgresCluster,
    container: Container,
    volumes: Vec<Volume>,
    scheduling: Scheduling,
) -> PodSpec {
    PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(pod_security_context(cluster)),
        image_pull_secrets: image_pull_secrets(cluster),
        affinity: scheduling.affinity,
        tolerations: scheduling.tolerations,
        priority_class_name: scheduling.priority_class_name,
        ..PodSpec::default()
    }
}

/// A Job of the operator that runs `container` once in a [`job_pod_spec`] pod, retried `backoff_limit`
/// times; a failed pod's log is its termination message. The pod carries the Job's labels.
pub fn one_shot_job(
    cluster: &PostgresCluster,
    metadata: ObjectMeta,
    container: Container,
    volumes: Vec<Volume>,
    scheduling: Scheduling,
    backoff_limit: i32,
) -> Job {
    let container = Container {
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..container
    };
    Job {
        spec: Some(JobSpec {
            backoff_limit: Some(backoff_limit),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: metadata.labels.clone(),
                    ..ObjectMeta::default()
                }),
                spec: Some(job_pod_spec(cluster, container, volumes, scheduling)),
            },
            ..JobSpec::default()
        }),
        metadata,
        status: None,
    }
}

/// Whether `pod` has condition Ready=True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo(extra: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  {extra}
  postgresVersion: 15
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    #[test]
    fn a_one_shot_job_runs_once_without_api_access_and_reports_its_log() {
        let cluster = hippo("imagePullSecrets: [{name: registry}]");
        let metadata = ObjectMeta {
            name: Some("hippo-move".into()),
            labels: Some([("job".to_string(), "move".to_string())].into()),
            ..ObjectMeta::default()
        };
        let container = container(&cluster, "move", "image".into());
        let job = one_shot_job(
            &cluster,
            metadata,
            container,
            vec![tmp_volume()],
            Scheduling {
                priority_class_name: Some("urgent".into()),
                ..Scheduling::default()
            },
            4,
        );
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(4));
        let template_labels = spec.template.metadata.and_then(|m| m.labels);
        assert_eq!(
            template_labels, job.metadata.labels,
            "the pod carries the Job's labels"
        );
        let pod = spec.template.spec.expect("pod");
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(pod.enable_service_links, Some(false));
        assert_eq!(pod.priority_class_name.as_deref(), Some("urgent"));
        assert_eq!(pod.image_pull_secrets.map(|s| s.len()), Some(1));
        assert_eq!(
            pod.containers[0].termination_message_policy.as_deref(),
            Some("FallbackToLogsOnError")
        );
    }

    #[test]
    fn fs_group_26_unless_openshift() {
        assert_eq!(
            pod_security_context(&hippo("")).fs_group,
            Some(POSTGRES_GROUP)
        );
        assert_eq!(
            pod_security_context(&hippo("openshift: true")).fs_group,
            None
        );
        assert_eq!(
            pod_security_context(&hippo("supplementalGroups: [65534]")).supplemental_groups,
            Some(vec![65534])
        );
    }

    #[test]
    fn default_spread_is_the_docs_and_can_be_disabled() {
        let spread = default_data_spread(&hippo(""));
        assert_eq!(spread.len(), 2);
        assert_eq!(spread[0].topology_key, "kubernetes.io/hostname");
        assert_eq!(spread[1].topology_key, "topology.kubernetes.io/zone");
        let selector = spread[0].label_selector.as_ref().expect("selector");
        assert_eq!(
            selector.match_labels.as_ref().expect("labels")[labels::CLUSTER],
            "hippo"
        );
        assert_eq!(
            selector.match_expressions.as_ref().expect("expressions")[0].values,
            Some(vec!["postgres".into(), "pgbackrest".into()])
        );
        assert!(default_data_spread(&hippo("disableDefaultPodScheduling: true")).is_empty());
    }

    #[test]
    fn containers_cannot_escalate() {
        let context = container_security_context();
        assert_eq!(context.allow_privilege_escalation, Some(false));
        assert_eq!(context.read_only_root_filesystem, Some(true));
        assert_eq!(
            context.capabilities.and_then(|c| c.drop),
            Some(vec!["ALL".into()])
        );
    }
}
