//! The dedicated repository host `<c>-repo-host`: one pod, `<c>-repo-host-0`, that serves the volume
//! repositories to the instances with `pgbackrest server` over TLS. Only a cluster with a `volume`
//! repository has one.
//!
//! Updates are `RollingUpdate`: the pod holds no state but its volumes, so a new configuration (the
//! `pgbackrest-hash` annotation of its template) simply replaces it. It has no replica while the cluster
//! is shut down.

use super::projections::{config_mount, config_volume, repo_host_projections};
use super::{ConfigError, SERVER_PORT, repo_path, repos};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{annotations, labels, names};
use crate::pods;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ContainerPort, PersistentVolumeClaimVolumeSource, PodSpec, Probe, ServiceAccount,
    TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tusk_api::PostgresCluster;

/// The name of the container that runs pgBackRest's TLS server, in the repository host and instance pods.
pub const CONTAINER: &str = "pgbackrest";
/// The name of the TLS server's container port.
pub const PORT_NAME: &str = "pgbackrest";

/// The repository host's ServiceAccount `<c>-repohost`. It has no Role, and its token is not mounted.
pub fn service_account(cluster: &PostgresCluster) -> ServiceAccount {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    ServiceAccount {
        metadata: owned_by(
            cluster,
            names::repo_host_service_account(name),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            labels::pgbackrest(name),
        ),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// The repository host's StatefulSet, when `cluster` has a `volume` repository. `config_hash` is the
/// configuration's hash, put on the pod template. Each repository's claim is the one `claims` (the observed
/// ones) label as its volume ([`super::volumes::claim_name`]), else `<c>-<repo>`.
pub fn statefulset(
    cluster: &PostgresCluster,
    images: &Images,
    config_hash: &str,
    claims: &Existing,
) -> Result<Option<StatefulSet>, ConfigError> {
    let volume_repos: Vec<(u8, String)> = repos(cluster)?
        .into_iter()
        .filter(|(_, repo, _)| repo.volume.is_some())
        .map(|(number, repo, _)| (number, repo.name.clone()))
        .collect();
    if volume_repos.is_empty() {
        return Ok(None);
    }
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let spec = &cluster.spec.backups.pgbackrest;
    let host = spec.repo_host.clone().unwrap_or_default();
    let selector = labels::pgbackrest_dedicated(name);
    let metadata = owned_by(
        cluster,
        names::repo_host(name),
        spec.metadata.as_ref(),
        selector.clone(),
    );
    let mut pod_labels = metadata.labels.clone().unwrap_or_default();
    pod_labels.insert(labels::DATA.into(), labels::DATA_PGBACKREST.into());
    let mut pod_annotations = metadata.annotations.clone().unwrap_or_default();
    pod_annotations.insert(
        annotations::PGBACKREST_CONFIG_HASH.into(),
        config_hash.into(),
    );

    let mut volumes = vec![
        config_volume(repo_host_projections(cluster)),
        pods::tmp_volume(),
    ];
    let mut mounts = vec![config_mount(), pods::tmp_mount()];
    for (number, repo) in &volume_repos {
        volumes.push(Volume {
            name: repo.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: super::volumes::claim_name(name, repo, claims),
                read_only: Some(false),
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: repo.clone(),
            mount_path: repo_path(*number),
            ..VolumeMount::default()
        });
    }
    let container = k8s_openapi::api::core::v1::Container {
        // The log directory of pgbackrest_repo.conf: on the first volume repository.
        command: Some(super::server_command(&format!(
            "{}/log",
            repo_path(volume_repos[0].0)
        ))),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.into()),
            container_port: SERVER_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(SERVER_PORT),
                ..TCPSocketAction::default()
            }),
            period_seconds: Some(10),
            ..Probe::default()
        }),
        resources: host.resources.clone(),
        volume_mounts: Some(mounts),
        ..pods::container(cluster, CONTAINER, images.pgbackrest(cluster))
    };
    let mut spread = host.topology_spread_constraints.clone().unwrap_or_default();
    spread.extend(pods::default_data_spread(cluster));
    let pod = PodSpec {
        containers: vec![container],
        volumes: Some(volumes),
        service_account_name: Some(names::repo_host_service_account(name)),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(pods::pod_security_context(cluster)),
        image_pull_secrets: pods::image_pull_secrets(cluster),
        affinity: host.affinity.clone(),
        tolerations: host.tolerations.clone(),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
        priority_class_name: host.priority_class_name.clone(),
        ..PodSpec::default()
    };
    Ok(Some(pods::one_pod_statefulset(
        cluster,
        pods::OnePod {
            metadata,
            selector,
            labels: pod_labels,
            annotations: pod_annotations,
            spec: pod,
            update_strategy: "RollingUpdate",
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_s3, hippo_with};

    fn build(cluster: &PostgresCluster) -> StatefulSet {
        statefulset(cluster, &Images::default(), "abc", &Existing::new())
            .expect("builds")
            .expect("a volume repository")
    }

    #[test]
    fn hippo_repo_host() {
        let set = build(&hippo());
        assert_eq!(set.metadata.name.as_deref(), Some("hippo-repo-host"));
        let spec = set.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.service_name.as_deref(), Some("hippo-pods"));
        let template = &spec.template;
        let meta = template.metadata.as_ref().unwrap();
        assert_eq!(
            meta.annotations.as_ref().unwrap()[annotations::PGBACKREST_CONFIG_HASH],
            "abc"
        );
        let pod_labels = meta.labels.as_ref().unwrap();
        assert_eq!(pod_labels[labels::PGBACKREST_DEDICATED], "");
        assert_eq!(pod_labels[labels::DATA], "pgbackrest");
        for (key, value) in spec.selector.match_labels.as_ref().unwrap() {
            assert_eq!(&pod_labels[key], value, "the selector matches the pod");
        }
        let pod = template.spec.as_ref().unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("hippo-repohost"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert_eq!(
            pod.security_context.as_ref().unwrap().run_as_non_root,
            Some(true)
        );
        let container = &pod.containers[0];
        assert_eq!(container.name, "pgbackrest");
        assert_eq!(
            container
                .command
                .as_ref()
                .unwrap()
                .last()
                .map(String::as_str),
            Some("/pgbackrest/repo1/log"),
            "the server makes the log directory of pgbackrest_repo.conf"
        );
        assert_eq!(
            container
                .readiness_probe
                .as_ref()
                .unwrap()
                .tcp_socket
                .as_ref()
                .unwrap()
                .port,
            IntOrString::Int(8432)
        );
        let mounts: Vec<_> = container
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("pgbackrest-config", "/etc/pgbackrest/conf.d"),
                ("tmp", "/tmp"),
                ("repo1", "/pgbackrest/repo1")
            ]
        );
        let claim = pod.volumes.as_ref().unwrap()[2]
            .persistent_volume_claim
            .as_ref()
            .unwrap();
        assert_eq!(claim.claim_name, "hippo-repo1");
    }

    #[test]
    fn repo_host_fields_are_honoured_and_shutdown_stops_it() {
        let cluster = hippo_with(
            "repoHost:
        priorityClassName: high
        resources: {limits: {cpu: 200m}}
        tolerations: [{key: backup, operator: Exists}]
        affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: In, values: [ssd]}]}]}}}
        topologySpreadConstraints: [{maxSkew: 1, topologyKey: rack, whenUnsatisfiable: DoNotSchedule}]
      repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
            "shutdown: true",
        );
        let set = build(&cluster);
        let spec = set.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(0));
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
        assert!(pod.affinity.is_some());
        assert_eq!(
            pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
            Some("backup")
        );
        let spread = pod.topology_spread_constraints.as_ref().unwrap();
        assert_eq!(
            spread[0].topology_key, "rack",
            "the user's first, then PGO's defaults"
        );
        assert_eq!(spread.len(), 3);
        assert!(
            pod.containers[0]
                .resources
                .as_ref()
                .unwrap()
                .limits
                .is_some()
        );
    }

    #[test]
    fn an_adopted_claim_is_mounted_under_its_own_name_by_the_host_and_the_jobs() {
        let adopted = k8s_openapi::api::core::v1::PersistentVolumeClaim {
            metadata: kube::api::ObjectMeta {
                name: Some("oldhippo-pgbr-repo".into()),
                labels: Some(labels::pgbackrest_repo_volume("hippo", "repo1")),
                ..Default::default()
            },
            ..Default::default()
        };
        let claims = Existing::from([("oldhippo-pgbr-repo".to_string(), adopted)]);
        let set = statefulset(&hippo(), &Images::default(), "abc", &claims)
            .expect("builds")
            .expect("a volume repository");
        let pod = set.spec.unwrap().template.spec.unwrap();
        let claim_names = |volumes: Option<Vec<Volume>>| -> Vec<String> {
            volumes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
                .collect()
        };
        assert_eq!(claim_names(pod.volumes), ["oldhippo-pgbr-repo"]);
        let stanza =
            crate::pgbackrest::stanza::stanza_job(&hippo(), &Images::default(), "abc", &claims)
                .expect("builds")
                .expect("a stanza Job");
        let pod = stanza.spec.unwrap().template.spec.unwrap();
        assert_eq!(claim_names(pod.volumes), ["oldhippo-pgbr-repo"]);
    }

    #[test]
    fn no_repo_host_for_cloud_repositories() {
        assert_eq!(
            statefulset(&hippo_s3(), &Images::default(), "abc", &Existing::new()),
            Ok(None)
        );
    }
}
