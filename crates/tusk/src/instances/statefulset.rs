//! An instance's StatefulSet `<instance>`: one pod, `<instance>-0`, running Patroni and PostgreSQL in the
//! `database` container, with the instance's volumes, configuration and certificates mounted.
//!
//! Updates are `OnDelete`: a changed template reaches a pod only when Tusk replaces it, so that replicas go
//! first and the primary last, after a switchover.

use super::plan::Instance;
use super::volumes::ClaimNames;
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{annotations, labels, names};
use crate::patroni::config as patroni;
use crate::{pgbackrest, pods, postgres};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, KeyToPath, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, PodSpec,
    Probe, ProjectedVolumeSource, SecretProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tusk_api::PostgresCluster;
use tusk_api::instance::PostgresInstanceSetSpec;

/// The name of the container that runs Patroni and PostgreSQL.
pub const DATABASE_CONTAINER: &str = "database";
/// The pod's data volume (mounted at `/pgdata`).
pub const DATA_VOLUME: &str = "postgres-data";
/// The pod's WAL volume (mounted at `/pgwal`), when its set has one.
pub const WAL_VOLUME: &str = "postgres-wal";
/// The pod's volume of PostgreSQL's socket (mounted at `/tmp/postgres`).
pub const SOCKET_VOLUME: &str = "postgres-socket";
/// The file mode of mounted certificates and keys: readable by the `postgres` group (volumes belong to it),
/// as PostgreSQL requires of a key owned by root.
const SECRET_FILE_MODE: i32 = 0o640;

/// The StatefulSet of `instance`, a member of `set`. `pgbackrest_hash` is the hash of the instance's
/// pgBackRest configuration: its pod template carries it, so a configuration change rolls the instance.
/// `claims` names its claims (`volumes::claim_names`: an adopted volume keeps its name) and says whether
/// it has a WAL volume claim, which stays mounted after the set's
/// `walVolumeClaimSpec` is removed so that the WAL can be moved back (`postgres::wal`).
pub fn statefulset(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    instance: &Instance,
    images: &Images,
    pgbackrest_hash: &str,
    claims: &ClaimNames,
) -> StatefulSet {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let selector = labels::instance(cluster_name, &set.name, &instance.name);
    let metadata = owned_by(
        cluster,
        instance.name.clone(),
        set.metadata.as_ref(),
        selector.clone(),
    );
    let mut pod_labels = metadata.labels.clone().unwrap_or_default();
    pod_labels.insert(labels::DATA.into(), labels::DATA_POSTGRES.into());
    // Patroni's Kubernetes DCS finds the members of its cluster by `kubernetes.labels` plus its scope label:
    // without this label an instance never sees itself or its peers as members.
    pod_labels.insert(labels::PATRONI.into(), names::patroni_scope(cluster_name));
    if crate::monitoring::exporter(cluster).is_some() {
        // Prometheus finds the exporters by this label (PGO's).
        pod_labels.insert(labels::EXPORTER_DISCOVERY.into(), "true".into());
    }
    let mut pod_annotations = metadata.annotations.clone().unwrap_or_default();
    pod_annotations.insert(
        annotations::PGBACKREST_CONFIG_HASH.into(),
        pgbackrest_hash.into(),
    );
    pods::one_pod_statefulset(
        cluster,
        pods::OnePod {
            metadata,
            selector,
            labels: pod_labels,
            annotations: pod_annotations,
            spec: pod(cluster, set, instance, images, claims),
            update_strategy: "OnDelete",
        },
    )
}

fn pod(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    instance: &Instance,
    images: &Images,
    claims: &ClaimNames,
) -> PodSpec {
    let mount_wal = set.wal_volume_claim_spec.is_some() || claims.wal_exists;
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut spread = set.topology_spread_constraints.clone().unwrap_or_default();
    spread.extend(pods::default_data_spread(cluster));
    let mut containers = vec![
        database(cluster, set, images, mount_wal),
        pgbackrest::sidecar::instance_sidecar(cluster, set, images),
    ];
    let mut volumes = volumes(cluster, claims, instance, mount_wal);
    if let Some(exporter) = crate::monitoring::exporter(cluster) {
        containers.push(crate::monitoring::sidecar::container(
            cluster, exporter, images,
        ));
        volumes.push(crate::monitoring::sidecar::volume(cluster, exporter));
    }
    PodSpec {
        containers,
        volumes: Some(volumes),
        service_account_name: Some(names::instance_rbac(cluster_name)),
        enable_service_links: Some(false),
        security_context: Some(pods::pod_security_context(cluster)),
        image_pull_secrets: pods::image_pull_secrets(cluster),
        affinity: set.affinity.clone(),
        tolerations: set.tolerations.clone(),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
        priority_class_name: set.priority_class_name.clone(),
        ..PodSpec::default()
    }
}

fn database(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    images: &Images,
    mount_wal: bool,
) -> Container {
    let version = cluster.spec.postgres_version;
    let patroni_port = patroni::patroni_port(cluster);
    let timing = cluster.spec.patroni.clone().unwrap_or_default();
    let period = timing.sync_period_seconds;
    let probe = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(patroni_port),
            scheme: Some("HTTPS".into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(3),
        period_seconds: Some(period),
        timeout_seconds: Some((period / 2).max(1)),
        failure_threshold: Some((timing.leader_lease_duration_seconds / period).max(1)),
        ..Probe::default()
    };
    let env = |name: &str, value: String| EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    };
    let mut mounts = vec![
        mount(DATA_VOLUME, postgres::DATA_MOUNT),
        mount("cert-volume", postgres::TLS_MOUNT),
        mount("patroni-config", patroni::CONFIG_DIRECTORY),
        pgbackrest::projections::config_mount(),
        pods::tmp_mount(),
        mount(SOCKET_VOLUME, postgres::SOCKET_DIRECTORY),
    ];
    if mount_wal {
        mounts.push(mount(WAL_VOLUME, postgres::WAL_MOUNT));
    }
    let mut variables = vec![
        env("PGDATA", postgres::data_directory(version)),
        env("PGHOST", postgres::SOCKET_DIRECTORY.into()),
        env("PGPORT", cluster.spec.port.to_string()),
    ];
    if set.wal_volume_claim_spec.is_some() {
        variables.push(env(
            postgres::wal::DIRECTORY_VARIABLE,
            postgres::wal_directory(version),
        ));
    }
    variables.extend([
        EnvVar {
            name: "PATRONI_KUBERNETES_POD_IP".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.podIP".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
        env(
            "PATRONI_KUBERNETES_PORTS",
            format!(
                r#"[{{"name": "{}", "port": {}, "protocol": "TCP"}}]"#,
                crate::services::POSTGRES_PORT_NAME,
                cluster.spec.port
            ),
        ),
        env("PATRONICTL_CONFIG_FILE", patroni::CONFIG_DIRECTORY.into()),
    ]);
    Container {
        command: Some(postgres::wal::command(&[
            "patroni",
            patroni::CONFIG_DIRECTORY,
        ])),
        ports: Some(vec![
            port(crate::services::POSTGRES_PORT_NAME, cluster.spec.port),
            port("patroni", patroni_port),
        ]),
        env: Some(variables),
        readiness_probe: Some(probe("/readiness")),
        liveness_probe: Some(probe("/liveness")),
        resources: set.resources.clone(),
        volume_mounts: Some(mounts),
        ..pods::container(cluster, DATABASE_CONTAINER, images.postgres(cluster))
    }
}

fn volumes(
    cluster: &PostgresCluster,
    claims: &ClaimNames,
    instance: &Instance,
    mount_wal: bool,
) -> Vec<Volume> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let mut volumes = vec![
        claim_volume(DATA_VOLUME, claims.data.clone()),
        projected("cert-volume", certificates(cluster, &instance.name)),
        projected(
            "patroni-config",
            vec![
                config_map_item(
                    names::cluster_config_map(cluster_name),
                    patroni::CONFIG_MAP_KEY,
                    patroni::CLUSTER_FILE,
                ),
                config_map_item(
                    names::instance_config_map(&instance.name),
                    patroni::CONFIG_MAP_KEY,
                    patroni::INSTANCE_FILE,
                ),
                secret_items(
                    names::instance_certificates(&instance.name),
                    &[
                        ("patroni.ca-roots", "~postgres-operator/patroni.ca-roots"),
                        (
                            "patroni.crt-combined",
                            "~postgres-operator/patroni.crt-combined",
                        ),
                    ],
                ),
            ],
        ),
        pgbackrest::sidecar::instance_config_volume(cluster, &instance.name),
        pods::tmp_volume(),
        Volume {
            name: SOCKET_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
    ];
    if mount_wal {
        volumes.push(claim_volume(WAL_VOLUME, claims.wal.clone()));
    }
    volumes
}

/// The server certificate at `tls.*`/`ca.crt` and the replication client certificate under `replication/`:
/// Tusk's Secrets, or the user's `customTLSSecret` and `customReplicationTLSSecret` with their `items`; with
/// the user's, also the client CA bundle of the instance's Secret at `postgres::CLIENT_CA_PATH`.
fn certificates(cluster: &PostgresCluster, instance: &str) -> Vec<VolumeProjection> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let standard = ["tls.crt", "tls.key", "ca.crt"].map(|key| (key, key));
    let from = |custom: &Option<SecretProjection>, ours: String, prefix: &str| {
        let (name, items) = match custom {
            Some(custom) => (
                custom.name.clone(),
                custom
                    .items
                    .clone()
                    .unwrap_or_else(|| key_to_paths(&standard)),
            ),
            None => (ours, key_to_paths(&standard)),
        };
        let items = items
            .into_iter()
            .map(|item| KeyToPath {
                path: format!("{prefix}{}", item.path),
                mode: Some(SECRET_FILE_MODE),
                ..item
            })
            .collect();
        VolumeProjection {
            secret: Some(SecretProjection {
                name,
                items: Some(items),
                optional: Some(false),
            }),
            ..VolumeProjection::default()
        }
    };
    let mut sources = vec![
        from(
            &cluster.spec.custom_tls_secret,
            names::cluster_certificate_secret(cluster_name),
            "",
        ),
        from(
            &cluster.spec.custom_replication_tls_secret,
            names::replication_certificate_secret(cluster_name),
            "replication/",
        ),
    ];
    if cluster.spec.custom_tls_secret.is_some() {
        sources.push(secret_items(
            names::instance_certificates(instance),
            &[(
                crate::pki::secrets::POSTGRES_CLIENT_CA,
                postgres::CLIENT_CA_PATH,
            )],
        ));
    }
    sources
}

fn key_to_paths(pairs: &[(&str, &str)]) -> Vec<KeyToPath> {
    pairs
        .iter()
        .map(|(key, path)| KeyToPath {
            key: (*key).into(),
            path: (*path).into(),
            mode: None,
        })
        .collect()
}

fn secret_items(name: String, pairs: &[(&str, &str)]) -> VolumeProjection {
    let items = key_to_paths(pairs)
        .into_iter()
        .map(|item| KeyToPath {
            mode: Some(SECRET_FILE_MODE),
            ..item
        })
        .collect();
    VolumeProjection {
        secret: Some(SecretProjection {
            name,
            items: Some(items),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

fn config_map_item(name: String, key: &str, path: &str) -> VolumeProjection {
    VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name,
            items: Some(key_to_paths(&[(key, path)])),
            optional: Some(false),
        }),
        ..VolumeProjection::default()
    }
}

fn projected(name: &str, sources: Vec<VolumeProjection>) -> Volume {
    Volume {
        name: name.into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            default_mode: Some(SECRET_FILE_MODE),
        }),
        ..Volume::default()
    }
}

fn claim_volume(name: &str, claim: String) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim,
            read_only: Some(false),
        }),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::labels::Labels;

    fn hippo() -> PostgresCluster {
        let mut cluster =
            tusk_api::manifest::parse(include_str!("../../../../examples/hippo/postgres.yaml"))
                .expect("valid");
        cluster.metadata.namespace = Some("zoo".into());
        cluster
    }

    fn pod_of(cluster: &PostgresCluster) -> (Labels, PodSpec) {
        pod_with_wal_claim(cluster, false)
    }

    fn pod_with_wal_claim(cluster: &PostgresCluster, wal_claim_exists: bool) -> (Labels, PodSpec) {
        let instance = Instance {
            name: "hippo-instance1-x2bc".into(),
            set: "instance1".into(),
        };
        let statefulset = statefulset(
            cluster,
            &cluster.spec.instances[0],
            &instance,
            &Images::default(),
            "hash",
            &ClaimNames {
                data: "hippo-instance1-x2bc-pgdata".into(),
                wal: "hippo-instance1-x2bc-pgwal".into(),
                wal_exists: wal_claim_exists,
            },
        );
        let template = statefulset.spec.expect("spec").template;
        (
            template.metadata.and_then(|m| m.labels).expect("labels"),
            template.spec.expect("pod"),
        )
    }

    /// The Secrets the pod's `cert-volume` projects, with each item's key and path.
    fn certificate_sources(spec: &PodSpec) -> Vec<(String, Vec<(String, String)>)> {
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "cert-volume")
            .expect("cert-volume");
        let sources = volume.projected.as_ref().and_then(|p| p.sources.clone());
        sources
            .into_iter()
            .flatten()
            .filter_map(|source| source.secret)
            .map(|secret| {
                let items = secret.items.unwrap_or_default();
                let items = items.into_iter().map(|i| (i.key, i.path)).collect();
                (secret.name, items)
            })
            .collect()
    }

    #[test]
    fn custom_tls_projects_the_users_secrets_and_the_client_ca_bundle() {
        let (_, spec) = pod_of(&hippo());
        let names: Vec<String> = certificate_sources(&spec)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["hippo-cluster-cert", "hippo-replication-cert"]);

        let mut custom = hippo();
        custom.spec.custom_tls_secret = Some(SecretProjection {
            name: "hippo.tls".into(),
            ..SecretProjection::default()
        });
        custom.spec.custom_replication_tls_secret = Some(SecretProjection {
            name: "hippo-repl.tls".into(),
            ..SecretProjection::default()
        });
        let (_, spec) = pod_of(&custom);
        let sources = certificate_sources(&spec);
        let names: Vec<&str> = sources.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["hippo.tls", "hippo-repl.tls", "hippo-instance1-x2bc-certs"]
        );
        assert_eq!(
            sources[2].1,
            [(
                "postgres-client.ca-roots".to_string(),
                "~postgres-operator/client-ca.crt".to_string()
            )]
        );
    }

    #[test]
    fn patroni_finds_the_pod_by_its_scope_label() {
        let (labels, _) = pod_of(&hippo());
        assert_eq!(labels[labels::PATRONI], "hippo-ha");
        assert_eq!(labels[labels::CLUSTER], "hippo");
    }

    /// Where the database container is told the WAL belongs, and whether the WAL volume is mounted.
    fn wal(spec: &PodSpec) -> (Option<String>, bool) {
        let database = &spec.containers[0];
        let variable = database.env.iter().flatten().find_map(|e| {
            (e.name == crate::postgres::wal::DIRECTORY_VARIABLE)
                .then(|| e.value.clone().unwrap_or_default())
        });
        let mounted = database
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == WAL_VOLUME);
        (variable, mounted)
    }

    #[test]
    fn a_removed_wal_volume_stays_mounted_while_its_claim_exists() {
        let mut with_wal = hippo();
        with_wal.spec.instances[0].wal_volume_claim_spec = with_wal.spec.instances[0]
            .data_volume_claim_spec
            .clone()
            .into();
        let (_, spec) = pod_of(&with_wal);
        assert_eq!(wal(&spec), (Some("/pgwal/pg13_wal".into()), true));
        let (_, spec) = pod_with_wal_claim(&hippo(), true);
        assert_eq!(
            wal(&spec),
            (None, true),
            "mounted, so the WAL can move back"
        );
        let (_, spec) = pod_of(&hippo());
        assert_eq!(wal(&spec), (None, false));
        assert_eq!(
            spec.containers[0].command.as_ref().map(|c| c[0].as_str()),
            Some("sh")
        );
    }
}
