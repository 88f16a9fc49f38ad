//! `spec.databaseInitSQL` (docs: Database Initialization SQL): the ConfigMap key's SQL, run once with psql's
//! semantics (`\c`, variables, `ON_ERROR_STOP`) as a superuser in the `postgres` database.
//!
//! The operator never uses `pods/exec`: a Job of the cluster's PostgreSQL image runs
//! `psql -X -v ON_ERROR_STOP=1 -f <key>` against the primary Service over TLS (`verify-full` against the
//! namespace's root CA, or the user's under custom TLS, whose certificate must then name
//! `<c>-primary.<ns>.svc`) as [`super::OPERATOR_USER`], with a short-lived client certificate the operator issues
//! into a Secret owned by the Job, so the key goes with the Job. The Job is named after a digest of the key and
//! the SQL ([`revision`]): a fixed script makes a new Job at once. A script error (psql's exit code 3) fails the
//! Job at once; connection errors are retried by the Job. A finished Job and its Secret are removed after
//! [`KEEP_FINISHED_SECONDS`], so a script that failed runs again then even when nothing changed, as PGO retries
//! until psql succeeds.
//!
//! Pure: the controller (`controller::init_sql`) reads the ConfigMap, creates the Job, then the Secret.

use super::OPERATOR_USER;
use crate::images::Images;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::pki::pem::Pair;
use crate::pods;
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EnvVar, KeyToPath, PodTemplateSpec, Secret, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;
use tusk_api::PostgresCluster;

/// How long the Job's client certificate is valid: longer than the Job may run.
pub const CERTIFICATE_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
/// How long the Job may run.
pub const DEADLINE_SECONDS: i64 = 60 * 60;
/// How long a finished Job (and, with it, its Secret) stays.
pub const KEEP_FINISHED_SECONDS: i32 = 300;
/// psql's exit code when a statement of the script failed with `ON_ERROR_STOP`.
pub const SCRIPT_ERROR_EXIT_CODE: i32 = 3;
/// The Job's container.
pub const CONTAINER: &str = "psql";
/// Where the SQL is mounted.
const SQL_DIRECTORY: &str = "/pgconf/init-sql";
/// Where the client certificate is mounted.
const TLS_DIRECTORY: &str = "/pgconf/tls";
/// The Secret's keys.
const CERTIFICATE_KEY: &str = "tls.crt";
const PRIVATE_KEY_KEY: &str = "tls.key";
const CA_KEY: &str = "ca.crt";
/// Group-readable, owned by root: what libpq accepts for a key file, readable through the pod's fsGroup.
const SECRET_FILE_MODE: i32 = 0o640;

/// A short digest of the key and its SQL: a change to either makes a new Job.
pub fn revision(key: &str, sql: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(key.as_bytes());
    digest.update([0]);
    digest.update(sql.as_bytes());
    crate::digest::hex(digest, 5)
}

/// The name of the Job (and its Secret) that runs revision `revision` of `cluster`'s init SQL.
pub fn job_name(cluster: &str, revision: &str) -> String {
    format!("{cluster}-init-sql-{revision}")
}

/// The Job that runs the SQL of `cluster`'s `spec.databaseInitSQL` at `revision`; `None` when the spec has
/// none.
pub fn job(cluster: &PostgresCluster, images: &Images, revision: &str) -> Option<Job> {
    let init = cluster.spec.database_init_sql.as_ref()?;
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let namespace = cluster.metadata.namespace.as_deref().unwrap_or("default");
    let name = job_name(cluster_name, revision);
    let meta = owned_by(
        cluster,
        name.clone(),
        None,
        labels::database_init_sql(cluster_name, revision),
    );
    let env = [
        (
            "PGHOST",
            format!("{}.{namespace}.svc", names::primary_service(cluster_name)),
        ),
        ("PGPORT", cluster.spec.port.to_string()),
        ("PGUSER", OPERATOR_USER.into()),
        ("PGDATABASE", "postgres".into()),
        ("PGSSLMODE", "verify-full".into()),
        ("PGSSLROOTCERT", format!("{TLS_DIRECTORY}/{CA_KEY}")),
        ("PGSSLCERT", format!("{TLS_DIRECTORY}/{CERTIFICATE_KEY}")),
        ("PGSSLKEY", format!("{TLS_DIRECTORY}/{PRIVATE_KEY_KEY}")),
        ("PGCONNECT_TIMEOUT", "10".into()),
        ("PGAPPNAME", "tusk-database-init-sql".into()),
    ]
    .into_iter()
    .map(|(name, value)| EnvVar {
        name: name.into(),
        value: Some(value),
        ..EnvVar::default()
    })
    .collect();
    let mut container = pods::container(cluster, CONTAINER, images.postgres(cluster));
    container.command = Some(vec![
        "psql".into(),
        "-X".into(),
        "-v".into(),
        "ON_ERROR_STOP=1".into(),
        "-f".into(),
        format!("{SQL_DIRECTORY}/{}", init.key),
    ]);
    container.env = Some(env);
    // psql's last words (the failing statement) become the container's termination message.
    container.termination_message_policy = Some("FallbackToLogsOnError".into());
    container.volume_mounts = Some(vec![
        mount("sql", SQL_DIRECTORY),
        mount("tls", TLS_DIRECTORY),
        pods::tmp_mount(),
    ]);
    let volumes = vec![
        Volume {
            name: "sql".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: init.name.clone(),
                items: Some(vec![KeyToPath {
                    key: init.key.clone(),
                    path: init.key.clone(),
                    mode: None,
                }]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        Volume {
            name: "tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(name),
                default_mode: Some(SECRET_FILE_MODE),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
        pods::tmp_volume(),
    ];
    Some(Job {
        metadata: meta.clone(),
        spec: Some(JobSpec {
            backoff_limit: Some(6),
            active_deadline_seconds: Some(DEADLINE_SECONDS),
            ttl_seconds_after_finished: Some(KEEP_FINISHED_SECONDS),
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: "FailJob".into(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some(CONTAINER.into()),
                        operator: "In".into(),
                        values: vec![SCRIPT_ERROR_EXIT_CODE],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: meta.labels.clone(),
                    annotations: meta.annotations.clone(),
                    ..ObjectMeta::default()
                }),
                spec: Some(pods::job_pod_spec(
                    cluster,
                    container,
                    volumes,
                    pods::Scheduling::default(),
                )),
            },
            ..JobSpec::default()
        }),
        status: None,
    })
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }
}

/// The Secret of `job` (created, so it has a UID): the client certificate `client` of
/// [`super::OPERATOR_USER`] and the CA `ca` (PEM) the server's certificate chains to (the root, or the user's
/// under custom TLS), owned by the Job so that it goes with it.
pub fn client_secret(job: &Job, client: &Pair, ca: &[u8]) -> Secret {
    let owner = job.controller_owner_ref(&()).map(|owner| OwnerReference {
        block_owner_deletion: Some(true),
        ..owner
    });
    Secret {
        metadata: ObjectMeta {
            name: job.metadata.name.clone(),
            namespace: job.metadata.namespace.clone(),
            labels: job.metadata.labels.clone(),
            owner_references: owner.map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            (
                CERTIFICATE_KEY.into(),
                ByteString(client.certificate.clone()),
            ),
            (
                PRIVATE_KEY_KEY.into(),
                ByteString(client.private_key.clone()),
            ),
            (CA_KEY.into(), ByteString(ca.to_vec())),
        ])),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hippo(extra: &str) -> PostgresCluster {
        let text = include_str!("../../../../examples/hippo/postgres.yaml").replace(
            "  postgresVersion: 13\n",
            &format!("  postgresVersion: 13\n{extra}"),
        );
        let mut cluster = tusk_api::manifest::parse(&text).unwrap();
        cluster.metadata.namespace = Some("zoo".into());
        cluster.metadata.uid = Some("cluster-uid".into());
        cluster
    }

    fn init() -> PostgresCluster {
        hippo("  databaseInitSQL: {name: hippo-init-sql, key: init.sql}\n")
    }

    #[test]
    fn no_job_without_init_sql() {
        assert!(job(&hippo(""), &Images::default(), "abc").is_none());
    }

    #[test]
    fn the_revision_follows_the_key_and_the_sql() {
        let first = revision("init.sql", "select 1;");
        assert_eq!(first.len(), 10);
        assert_eq!(first, revision("init.sql", "select 1;"));
        assert_ne!(first, revision("init.sql", "select 2;"));
        assert_ne!(first, revision("other.sql", "select 1;"));
        assert_eq!(job_name("hippo", &first), format!("hippo-init-sql-{first}"));
    }

    #[test]
    fn the_job_runs_psql_on_the_key_over_verify_full_as_the_operator() {
        let job = job(&init(), &Images::default(), "0123456789").unwrap();
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("hippo-init-sql-0123456789")
        );
        assert_eq!(
            job.metadata.owner_references.as_ref().unwrap()[0].name,
            "hippo"
        );
        let spec = job.spec.as_ref().unwrap();
        assert_eq!(spec.ttl_seconds_after_finished, Some(KEEP_FINISHED_SECONDS));
        let rule = &spec.pod_failure_policy.as_ref().unwrap().rules[0];
        assert_eq!(rule.action, "FailJob");
        assert_eq!(rule.on_exit_codes.as_ref().unwrap().values, [3]);
        let pod = spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        let container = &pod.containers[0];
        assert_eq!(
            container.command.as_deref().unwrap(),
            [
                "psql",
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                "/pgconf/init-sql/init.sql"
            ]
        );
        let env: BTreeMap<&str, &str> = container
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap()))
            .collect();
        assert_eq!(env["PGHOST"], "hippo-primary.zoo.svc");
        assert_eq!(env["PGUSER"], "_tusk");
        assert_eq!(env["PGSSLMODE"], "verify-full");
        assert_eq!(env["PGSSLKEY"], "/pgconf/tls/tls.key");
        let volumes = pod.volumes.as_ref().unwrap();
        let sql = volumes[0].config_map.as_ref().unwrap();
        assert_eq!(sql.name, "hippo-init-sql");
        assert_eq!(sql.items.as_ref().unwrap()[0].key, "init.sql");
        let tls = volumes[1].secret.as_ref().unwrap();
        assert_eq!(
            tls.secret_name.as_deref(),
            Some("hippo-init-sql-0123456789")
        );
        assert_eq!(tls.default_mode, Some(0o640));
    }

    #[test]
    fn the_secret_belongs_to_the_job() {
        let mut job = job(&init(), &Images::default(), "0123456789").unwrap();
        job.metadata.uid = Some("job-uid".into());
        let secret = client_secret(
            &job,
            &Pair {
                certificate: b"CERT".to_vec(),
                private_key: b"KEY".to_vec(),
            },
            b"CA",
        );
        assert_eq!(secret.metadata.name, job.metadata.name);
        let owner = &secret.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Job", "job-uid")
        );
        let data = secret.data.unwrap();
        assert_eq!(data["tls.key"].0, b"KEY");
        assert_eq!(data["ca.crt"].0, b"CA");
    }
}
