//! pgBackRest: its configuration, the repository volumes, the dedicated repository host, and the Jobs that
//! take backups. Pure builders: the spec (and what was observed) in, objects out.
//!
//! # How backups run without `pods/exec`
//!
//! Every pgBackRest process that needs another pod talks to it over pgBackRest's TLS protocol, port 8432,
//! with certificates from the PKI module:
//!
//! * Each instance pod runs `pgbackrest server` in a `pgbackrest` sidecar ([`sidecar::instance_sidecar`]).
//!   It lets a remote pgBackRest read the data directory and talk to PostgreSQL over its socket.
//! * The repository host `<c>-repo-host` (only with a `volume` repository) runs `pgbackrest server` over the
//!   repository volumes. PostgreSQL's `archive_command` (`archive-push`) in an instance pod writes WAL
//!   through it: `pgbackrest_instance.conf` names it as `repoN-host` with `repoN-host-type=tls`.
//! * Both servers accept only the client certificate whose CN is `pgbackrest@<c>`
//!   (`tls-server-auth=pgbackrest@<c>=db`).
//!
//! pgBackRest runs `backup` only where the repository is *local*: with `repoN-host` set, it refuses
//! ("backup command must be run on the repository host"), and its TLS server serves files, never
//! commands. So a backup Job is itself the repository host of the backup, with `pgbackrest_repo.conf`:
//! the repository local, and `pg1-host`..`pgN-host` the DNS names of every instance pod
//! (`<instance>-0.<c>-pods.<ns>.svc.cluster.local.`, which their server certificates carry; the
//! `<c>-primary` Service is not in them). pgBackRest asks each host and backs up from the primary.
//!
//! * **Cloud repository** (S3, GCS, Azure): the Job reaches the bucket itself, with the credentials of
//!   `spec.backups.pgbackrest.configuration`.
//! * **Volume repository**: the Job mounts the repository's claim. It must run on the repository host's
//!   node, since a `ReadWriteOnce` claim is mounted by pods of one node only: the Job has a required pod
//!   affinity to the repository host. A claim with `ReadWriteOncePod` cannot work this way. Its lock
//!   directory is on the repository volume (`--lock-path`), so two backups of one repository never run at
//!   once, whatever pods they are in.
//!
//! The Job runs with `--log-level-file=off` (its log is the pod's output), and no Kubernetes API access.

pub mod config;
pub mod in_place;
pub mod ini;
pub mod jobs;
pub mod manual;
pub mod projections;
pub mod replica_create;
pub mod repo_host;
pub mod restore;
pub mod schedules;
pub mod sidecar;
pub mod stanza;
pub mod volumes;

use crate::images::Images;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, ServiceAccount};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::pgbackrest::PgBackRestRepo;

/// pgBackRest's stanza: the one PostgreSQL cluster its configuration describes. `db`, as PGO's.
pub const STANZA: &str = "db";
/// The port of pgBackRest's TLS servers (pgBackRest's default).
pub const SERVER_PORT: i32 = 8432;
/// Where repository volumes are mounted: `/pgbackrest/repoN`. Also the default `repoN-path` of every
/// repository, as PGO's.
pub const REPO_ROOT: &str = "/pgbackrest";

/// The spec field of the repositories, for errors.
pub(crate) const REPOS_FIELD: &str = "spec.backups.pgbackrest.repos";

/// A setting Tusk will not write into pgBackRest's configuration: the spec field it came from and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// The field, as a path into the cluster: `spec.backups.pgbackrest.global[repo1-path]`.
    pub field: String,
    /// What is wrong with it, on one line.
    pub message: String,
}

impl ConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every pgBackRest object of a cluster, but the backup Jobs the controller starts on request.
#[derive(Clone, Debug, PartialEq)]
pub struct Backups {
    /// `<c>-pgbackrest-config`: the configuration files and their hash.
    pub config_map: ConfigMap,
    /// The hash of what instance pods read, for the `pgbackrest-hash` annotation of their template (the
    /// repository host and the Jobs carry the hash of what they read).
    pub instance_config_hash: String,
    /// The hash of what the repository host and backup Jobs read; a manual backup Job
    /// ([`manual::manual_backup_job`]) takes it.
    pub repo_config_hash: String,
    /// One claim per `volume` repository.
    pub repo_volumes: Vec<PersistentVolumeClaim>,
    /// The repository host, when there is a `volume` repository.
    pub repo_host: Option<StatefulSet>,
    /// The repository host's ServiceAccount, with it.
    pub service_account: Option<ServiceAccount>,
    /// One CronJob per backup schedule.
    pub cron_jobs: Vec<CronJob>,
    /// The Job that creates the stanza in the repositories.
    pub stanza_job: Option<Job>,
    /// The full backup taken once the stanza exists.
    pub replica_create_job: Option<Job>,
}

/// Builds every pgBackRest object of `cluster`, whose instances are `instances` (StatefulSet names), keeping
/// the fixed fields of the repository claims in `existing_volumes` (by name).
pub fn backups(
    cluster: &PostgresCluster,
    instances: &[String],
    existing_volumes: &BTreeMap<String, PersistentVolumeClaim>,
    images: &Images,
) -> Result<Backups, ConfigError> {
    let files = config::files(cluster, instances)?;
    let config_map = config::config_map(cluster, &files);
    let repo_host = repo_host::statefulset(cluster, images, &files.repo_hash, existing_volumes)?;
    let service_account = repo_host
        .is_some()
        .then(|| repo_host::service_account(cluster));
    Ok(Backups {
        config_map,
        repo_volumes: volumes::claims(cluster, existing_volumes)?,
        repo_host,
        service_account,
        cron_jobs: schedules::cron_jobs(cluster, images, &files.repo_hash, existing_volumes)?,
        stanza_job: stanza::stanza_job(cluster, images, &files.repo_hash, existing_volumes)?,
        replica_create_job: replica_create::replica_create_job(
            cluster,
            images,
            &files.repo_hash,
            existing_volumes,
        )?,
        instance_config_hash: files.instance_hash,
        repo_config_hash: files.repo_hash,
    })
}

/// The repositories, each with its number (`repo3` is 3) and the spec field it is at.
pub(crate) fn repos(
    cluster: &PostgresCluster,
) -> Result<Vec<(u8, &PgBackRestRepo, String)>, ConfigError> {
    cluster
        .spec
        .backups
        .pgbackrest
        .repos
        .iter()
        .enumerate()
        .map(|(index, repo)| {
            let field = format!("{REPOS_FIELD}[{index}]");
            Ok((
                repo_number(&repo.name, &format!("{field}.name"))?,
                repo,
                field,
            ))
        })
        .collect()
}

/// The number of a repository named `repo1`..`repo4`.
pub(crate) fn repo_number(name: &str, field: &str) -> Result<u8, ConfigError> {
    name.strip_prefix("repo")
        .and_then(|n| n.parse::<u8>().ok())
        .filter(|n| (1..=4).contains(n) && name.len() == 5)
        .ok_or_else(|| ConfigError::new(field, format!("{name:?} is not one of repo1..repo4")))
}

/// The command of a `pgbackrest server` container that logs to `log_path`: pgBackRest does not create its log
/// directory (it warns `unable to open log file ... No such file or directory` and logs nothing), and
/// PGO's images create it in a startup script; here the container makes it before it starts the server.
/// The path is an argument of the script, never part of it.
pub fn server_command(log_path: &str) -> Vec<String> {
    [
        "sh",
        "-c",
        r#"mkdir -p -- "$1" && exec pgbackrest server"#,
        "pgbackrest-server",
        log_path,
    ]
    .map(String::from)
    .to_vec()
}

/// Where a volume repository is mounted, and every repository's default path: `/pgbackrest/repoN`.
pub fn repo_path(number: u8) -> String {
    format!("{REPO_ROOT}/repo{number}")
}

/// The cluster's name and namespace (`default` when it has none, offline).
pub(crate) fn name_and_namespace(cluster: &PostgresCluster) -> (&str, &str) {
    (
        cluster.metadata.name.as_deref().unwrap_or_default(),
        cluster.metadata.namespace.as_deref().unwrap_or("default"),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The docs' hippo with `extra` YAML added under `spec.backups.pgbackrest` (flow style, comma first).
    pub(crate) fn hippo_with(pgbackrest: &str, spec: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: zoo}}
spec:
  {spec}
  postgresVersion: 16
  instances: [{{name: instance1, dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups:
    pgbackrest:
      {pgbackrest}
"
        ))
        .expect("valid")
    }

    /// hippo with one volume repository, `repo1`.
    pub(crate) fn hippo() -> PostgresCluster {
        hippo_with(
            "repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
            "",
        )
    }

    /// hippo with one S3 repository, `repo2`, and nothing else.
    pub(crate) fn hippo_s3() -> PostgresCluster {
        hippo_with(
            "repos: [{name: repo2, s3: {bucket: my-bucket, endpoint: s3.us-east-1.amazonaws.com, region: us-east-1}}]",
            "",
        )
    }

    pub(crate) fn instances() -> Vec<String> {
        vec!["hippo-instance1-x2bc".into(), "hippo-instance1-b4dz".into()]
    }

    #[test]
    fn repository_numbers() {
        assert_eq!(repo_number("repo4", "f"), Ok(4));
        assert!(repo_number("repo5", "f").is_err());
        assert!(repo_number("repo11", "f").is_err());
        assert!(repo_number("rep1", "f").is_err());
    }

    #[test]
    fn no_repository_host_without_a_volume_repository() {
        let built = backups(
            &hippo_s3(),
            &instances(),
            &BTreeMap::new(),
            &Images::default(),
        )
        .expect("builds");
        assert!(built.repo_host.is_none());
        assert!(built.service_account.is_none());
        assert!(built.repo_volumes.is_empty());

        let built =
            backups(&hippo(), &instances(), &BTreeMap::new(), &Images::default()).expect("builds");
        assert!(built.repo_host.is_some());
        assert!(built.service_account.is_some());
        assert_eq!(built.repo_volumes.len(), 1);
        assert_eq!(
            built.config_map.data.as_ref().expect("data")[config::CONFIG_HASH_KEY].len(),
            64
        );
        assert_eq!(built.instance_config_hash.len(), 64);
    }

    /// hippo with `spec.backups.pgbackrest.global[key] = value`, set after parsing: the parser rejects what
    /// the builders must reject too, should an object reach them unchecked.
    pub(crate) fn hippo_with_global(key: &str, value: &str) -> PostgresCluster {
        let mut cluster = hippo();
        cluster
            .spec
            .backups
            .pgbackrest
            .global
            .get_or_insert_default()
            .insert(key.into(), value.into());
        cluster
    }

    #[test]
    fn an_unsafe_global_value_fails_the_whole_build() {
        let cluster = hippo_with_global("repo1-retention-full", "2\n[db]\npg1-host=evil");
        let error = backups(&cluster, &instances(), &BTreeMap::new(), &Images::default())
            .expect_err("rejected");
        assert_eq!(
            error.field,
            "spec.backups.pgbackrest.global[repo1-retention-full]"
        );
    }
}
