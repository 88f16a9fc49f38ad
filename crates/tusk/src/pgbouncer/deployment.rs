//! The Deployment `<c>-pgbouncer`: PgBouncer and a sidecar that reloads it (SIGHUP) when its projected files
//! change, so that `config.global`, `databases`, `users`, the files' contents and new certificates take effect
//! without a restart (PgBouncer 1.16+ reloads TLS files too). What PgBouncer only reads at start (the port,
//! the user's file references, the certificates' Secret, the settings in [`RESTART_SETTINGS`]) is hashed into
//! the pod template, so that a change rolls the pods, one new pod Ready before an old one goes.

use super::config::{
    BACKEND_CA, EMPTY_KEY, FILE_KEY, FRONTEND_CA, FRONTEND_CERTIFICATE, FRONTEND_KEY,
};
use super::{CONFIG_DIRECTORY, MAIN_FILE, secret};
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{annotations, labels, names};
use crate::pods;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ContainerPort, KeyToPath, Lifecycle, LifecycleHandler, PodSpec,
    PodTemplateSpec, Probe, ProjectedVolumeSource, SecretProjection, SleepAction, TCPSocketAction,
    Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::proxy::PgBouncerPodSpec;

/// PgBouncer's container.
pub const CONTAINER: &str = "pgbouncer";
/// The reloading sidecar (PGO's name).
pub const RELOADER: &str = "pgbouncer-config";
/// The name of PgBouncer's port, which the Service targets.
pub const PORT_NAME: &str = "pgbouncer";
/// How long a pod that is being replaced keeps serving before PgBouncer is told to stop: the time the Service's
/// endpoints and every node's proxy need to stop sending it new connections, and its last short connections to
/// finish. PgBouncer 1.18 stops at once on SIGTERM, dropping what it serves; without this wait a rolling update
/// failed connections (seen in the end-to-end test: 2 of 88).
pub const DRAIN_SECONDS: i64 = 5;
/// `[pgbouncer]` settings PgBouncer 1.18 reads only when it starts (`SHOW CONFIG`: not changeable).
pub const RESTART_SETTINGS: &[&str] = &[
    "disable_pqexec",
    "job_name",
    "listen_addr",
    "listen_backlog",
    "listen_port",
    "pidfile",
    "pkt_buf",
    "resolv_conf",
    "so_reuseport",
    "unix_socket_dir",
    "unix_socket_group",
    "unix_socket_mode",
    "user",
];
const CONFIG_VOLUME: &str = "pgbouncer-config";
const FILE_MODE: i32 = 0o640;
/// The sidecar: a SIGHUP to PgBouncer whenever the kubelet swaps the projected files (their `..data` link).
const RELOAD_SCRIPT: &str = r#"trap 'exit 0' TERM
last=$(readlink "$1/..data")
while sleep 5; do
  now=$(readlink "$1/..data")
  if [ "$now" != "$last" ] && pkill -HUP -x pgbouncer; then
    last=$now
    echo "tusk: PgBouncer reloads its configuration ($now)"
  fi
done
"#;

/// The Deployment of `cluster`'s PgBouncer `bouncer`; no pod runs while the cluster is shut down.
pub fn deployment(
    cluster: &PostgresCluster,
    bouncer: &PgBouncerPodSpec,
    images: &Images,
) -> Deployment {
    let name = cluster.name_any();
    let selector = labels::pgbouncer(&name);
    let metadata = owned_by(
        cluster,
        names::pgbouncer(&name),
        bouncer.metadata.as_ref(),
        selector.clone(),
    );
    let mut pod_annotations = metadata.annotations.clone().unwrap_or_default();
    pod_annotations.insert(
        annotations::PGBOUNCER_RESTART_HASH.into(),
        restart_hash(bouncer),
    );
    pod_annotations.insert(
        "kubectl.kubernetes.io/default-container".into(),
        CONTAINER.into(),
    );
    let image = images.pgbouncer(cluster);
    let mount = VolumeMount {
        name: CONFIG_VOLUME.into(),
        mount_path: CONFIG_DIRECTORY.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    };
    let pgbouncer = k8s_openapi::api::core::v1::Container {
        command: Some(vec!["pgbouncer".into(), MAIN_FILE.into()]),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.into()),
            container_port: bouncer.port,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String(PORT_NAME.into()),
                ..TCPSocketAction::default()
            }),
            period_seconds: Some(5),
            ..Probe::default()
        }),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: DRAIN_SECONDS,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: bouncer.resources.clone(),
        volume_mounts: Some(vec![mount.clone()]),
        ..pods::container(cluster, CONTAINER, image.clone())
    };
    let reloader = k8s_openapi::api::core::v1::Container {
        command: Some(vec![
            "sh".into(),
            "-c".into(),
            RELOAD_SCRIPT.into(),
            RELOADER.into(),
            CONFIG_DIRECTORY.into(),
        ]),
        resources: bouncer
            .sidecars
            .as_ref()
            .and_then(|s| s.pgbouncer_config.as_ref())
            .and_then(|s| s.resources.clone()),
        volume_mounts: Some(vec![mount]),
        ..pods::container(cluster, RELOADER, image)
    };
    let mut spread = bouncer
        .topology_spread_constraints
        .clone()
        .unwrap_or_default();
    spread.extend(pods::default_spread_of(cluster, selector.clone()));
    let pod = PodSpec {
        containers: vec![pgbouncer, reloader],
        volumes: Some(vec![Volume {
            name: CONFIG_VOLUME.into(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(projections(cluster, bouncer)),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        // The sidecar signals PgBouncer's process.
        share_process_namespace: Some(true),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(pods::pod_security_context(cluster)),
        image_pull_secrets: pods::image_pull_secrets(cluster),
        affinity: bouncer.affinity.clone(),
        tolerations: bouncer.tolerations.clone(),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
        priority_class_name: bouncer.priority_class_name.clone(),
        ..PodSpec::default()
    };
    let shutdown = cluster.spec.shutdown.unwrap_or(false);
    Deployment {
        spec: Some(DeploymentSpec {
            replicas: Some(if shutdown { 0 } else { bouncer.replicas }),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    ..RollingUpdateDeployment::default()
                }),
            }),
            revision_history_limit: Some(0),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: metadata.labels.clone(),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        metadata,
        ..Deployment::default()
    }
}

/// The files under [`CONFIG_DIRECTORY`], later ones over earlier ones: an empty `pgbouncer.ini`, the user's
/// `config.files` (which may replace it), Tusk's file, the auth file, the client certificate (Tusk's, or
/// `customTLSSecret`'s items with the paths `tls.crt`, `tls.key` and `ca.crt`) and PostgreSQL's CA (from the
/// cluster's certificate, or its `customTLSSecret`).
fn projections(cluster: &PostgresCluster, bouncer: &PgBouncerPodSpec) -> Vec<VolumeProjection> {
    let name = cluster.name_any();
    let ours = names::pgbouncer(&name);
    let config_map = |key: &str, path: &str| VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name: ours.clone(),
            items: Some(vec![KeyToPath {
                key: key.into(),
                path: path.into(),
                mode: None,
            }]),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    };
    let item = |key: &str, file: &str| KeyToPath {
        key: key.into(),
        path: format!("~postgres-operator/{file}"),
        mode: Some(FILE_MODE),
    };
    let secret = |name: String, items: Vec<KeyToPath>| VolumeProjection {
        secret: Some(SecretProjection {
            name,
            items: Some(items),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    };
    let mut sources = vec![config_map(EMPTY_KEY, "pgbouncer.ini")];
    sources.extend(
        bouncer
            .config
            .as_ref()
            .and_then(|c| c.files.clone())
            .unwrap_or_default(),
    );
    sources.push(config_map(FILE_KEY, "~postgres-operator.ini"));
    let mut private = vec![item(secret::AUTH_FILE, super::config::AUTH_FILE)];
    if bouncer.custom_tls_secret.is_none() {
        private.push(item(secret::FRONTEND_CERTIFICATE, FRONTEND_CERTIFICATE));
        private.push(item(secret::FRONTEND_KEY, FRONTEND_KEY));
        private.push(item(secret::FRONTEND_CA, FRONTEND_CA));
    }
    sources.push(secret(ours.clone(), private));
    if let Some(custom) = &bouncer.custom_tls_secret {
        sources.push(secret(
            custom.name.clone(),
            renamed(
                custom,
                &[
                    ("tls.crt", FRONTEND_CERTIFICATE),
                    ("tls.key", FRONTEND_KEY),
                    ("ca.crt", FRONTEND_CA),
                ],
            ),
        ));
    }
    let backend = match &cluster.spec.custom_tls_secret {
        Some(custom) => secret(
            custom.name.clone(),
            renamed(custom, &[("ca.crt", BACKEND_CA)]),
        ),
        None => secret(
            names::cluster_certificate_secret(&name),
            vec![item("ca.crt", BACKEND_CA)],
        ),
    };
    sources.push(backend);
    sources
}

/// The items of a user's certificate Secret whose paths are `wanted`'s first elements (its keys themselves
/// when it lists no items), placed at the second ones under `~postgres-operator/`.
fn renamed(custom: &SecretProjection, wanted: &[(&str, &str)]) -> Vec<KeyToPath> {
    wanted
        .iter()
        .map(|(path, file)| {
            let key = custom
                .items
                .iter()
                .flatten()
                .find(|item| item.path == *path)
                .map_or_else(|| (*path).to_string(), |item| item.key.clone());
            KeyToPath {
                key,
                path: format!("~postgres-operator/{file}"),
                mode: Some(FILE_MODE),
            }
        })
        .collect()
}

/// A digest of what PgBouncer reads only at start: its port, the user's file and certificate references, and
/// the settings of [`RESTART_SETTINGS`] in `config.global`.
fn restart_hash(bouncer: &PgBouncerPodSpec) -> String {
    let config = bouncer.config.clone().unwrap_or_default();
    let restart_only: Vec<(&String, &String)> = config
        .global
        .iter()
        .flatten()
        .filter(|(key, _)| RESTART_SETTINGS.contains(&key.as_str()))
        .collect();
    let inputs = serde_json::json!({
        "port": bouncer.port,
        "files": config.files,
        "customTLSSecret": bouncer.custom_tls_secret,
        "global": restart_only,
    });
    crate::digest::concatenated(&[&inputs.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbouncer::hippo_with_proxy as hippo;

    fn build(cluster: &PostgresCluster) -> Deployment {
        deployment(
            cluster,
            super::super::spec(cluster).unwrap(),
            &Images::default(),
        )
    }

    fn pod(deployment: &Deployment) -> &PodSpec {
        deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
    }

    fn hash(deployment: &Deployment) -> String {
        deployment
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[annotations::PGBOUNCER_RESTART_HASH]
            .clone()
    }

    fn files(deployment: &Deployment) -> Vec<(String, String, String)> {
        pod(deployment).volumes.as_ref().unwrap()[0]
            .projected
            .as_ref()
            .unwrap()
            .sources
            .iter()
            .flatten()
            .flat_map(|source| {
                let (name, items) = match (&source.config_map, &source.secret) {
                    (Some(c), _) => (c.name.clone(), c.items.clone()),
                    (_, Some(s)) => (s.name.clone(), s.items.clone()),
                    _ => (String::new(), None),
                };
                items
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |i| (name.clone(), i.key, i.path))
            })
            .collect()
    }

    #[test]
    fn pgbouncer_and_its_reloader_with_pgo_names_labels_and_files() {
        let deployment = build(&hippo("replicas: 2, port: 6432", ""));
        assert_eq!(deployment.metadata.name.as_deref(), Some("hippo-pgbouncer"));
        let spec = deployment.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.selector.match_labels.as_ref().unwrap(),
            &labels::pgbouncer("hippo")
        );
        let pod = pod(&deployment);
        assert_eq!(pod.share_process_namespace, Some(true));
        let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [CONTAINER, RELOADER]);
        let port = &pod.containers[0].ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.container_port),
            (Some("pgbouncer"), 6432)
        );
        let files = files(&deployment);
        let paths: Vec<&str> = files.iter().map(|(_, _, path)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "pgbouncer.ini",
                "~postgres-operator.ini",
                "~postgres-operator/users.txt",
                "~postgres-operator/frontend-tls.crt",
                "~postgres-operator/frontend-tls.key",
                "~postgres-operator/frontend-ca.crt",
                "~postgres-operator/backend-ca.crt",
            ]
        );
        assert_eq!(
            files.last().unwrap(),
            &(
                "hippo-cluster-cert".into(),
                "ca.crt".into(),
                "~postgres-operator/backend-ca.crt".into()
            )
        );
        assert_eq!(
            build(&hippo("", "shutdown: true")).spec.unwrap().replicas,
            Some(0)
        );
    }

    #[test]
    fn custom_certificates_are_read_from_the_users_secrets_by_path() {
        let deployment = build(&hippo(
            "customTLSSecret: {name: bouncer-tls, items: [{key: cert, path: tls.crt}, {key: key, path: tls.key}, {key: root, path: ca.crt}]}",
            "customTLSSecret: {name: pg-tls}\n  customReplicationTLSSecret: {name: pg-repl}",
        ));
        let files = files(&deployment);
        assert!(files.contains(&(
            "bouncer-tls".into(),
            "cert".into(),
            "~postgres-operator/frontend-tls.crt".into()
        )));
        assert!(files.contains(&(
            "bouncer-tls".into(),
            "root".into(),
            "~postgres-operator/frontend-ca.crt".into()
        )));
        assert!(files.contains(&(
            "pg-tls".into(),
            "ca.crt".into(),
            "~postgres-operator/backend-ca.crt".into()
        )));
        assert!(
            !files
                .iter()
                .any(|(name, _, _)| name == "hippo-cluster-cert")
        );
        assert!(!files.iter().any(|(_, key, _)| key == secret::FRONTEND_KEY));
    }

    #[test]
    fn only_what_pgbouncer_reads_at_start_rolls_the_pods() {
        let base = hash(&build(&hippo("", "")));
        let reloadable = hippo("config: {global: {pool_mode: transaction}}", "");
        assert_eq!(hash(&build(&reloadable)), base);
        for changed in [
            "port: 6432",
            "config: {global: {listen_addr: 0.0.0.0}}",
            "customTLSSecret: {name: other}",
            "config: {files: [{configMap: {name: mine}}]}",
        ] {
            assert_ne!(hash(&build(&hippo(changed, ""))), base, "{changed}");
        }
    }
}
