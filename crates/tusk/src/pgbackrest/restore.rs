//! A new cluster's data from another cluster's pgBackRest backup (`spec.dataSource.postgresCluster`): a clone,
//! or a point-in-time recovery with `options`. Pure: the cluster, its source and what was observed in; the
//! restore Job, its configuration and client certificate Secret out.
//!
//! How it runs (the controller's part is `controller::restore`):
//!
//! 1. While the cluster's data is not initialized, every instance StatefulSet has no pod ([`hold`]).
//! 2. The Job `<c>-pgbackrest-restore` mounts the pgdata claim of the startup instance (the first instance of
//!    the first set, by name) and runs `restore.sh`: `pgbackrest restore --delta` into
//!    `/pgdata/pg<v>_bootstrap`, then a temporary PostgreSQL (socket only, `archive_mode=off`) replays the WAL
//!    to the end of the archive (pgBackRest's default) or to the target, is promoted and stops cleanly.
//! 3. Once the Job succeeded, the startup instance runs: Patroni bootstraps with the method `existing`
//!    ([`bootstrap_method`]), which only moves the bootstrap directory into place, and starts a cluster that
//!    needs no recovery. The other instances start once Patroni has initialized the cluster, as replicas.
//!
//! The Job reaches the source's repository host over pgBackRest's TLS protocol, as the source's own instances
//! do: with a client certificate of CN `pgbackrest@<source>` that the operator issues from the source
//! namespace's root CA into the Secret `<c>-pgbackrest-restore` (owned by the new cluster), trusting only that
//! root. Only volume repositories are sources so far (a cloud repository needs the source's credentials).
//!
//! `options` are split as a shell would split them (`--target="2021-06-09 14:15:11 EDT"` is one word), but no
//! shell ever sees them: each word is an argument of `pgbackrest restore`. Options Tusk sets itself, and those
//! that would leave the temporary PostgreSQL unpromoted, are refused ([`options`]).

use super::ini::Ini;
use super::projections::{
    CA_FILE, CA_PATH, CLIENT_CERT_FILE, CLIENT_CERT_PATH, CLIENT_KEY_FILE, CLIENT_KEY_PATH,
    config_mount, config_volume, secret,
};
use super::{ConfigError, STANZA, repos};
use crate::images::Images;
use crate::instances::volumes::Existing;
use crate::metadata::owned_by;
use crate::naming::{annotations, labels, names};
use crate::pki::pem::Pair;
use crate::{pods, postgres};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, KeyToPath, PersistentVolumeClaimVolumeSource, PodAffinityTerm,
    Secret, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::datasource::PostgresClusterDataSource;
use tusk_api::validation::Violation;

/// The script the restore Job runs.
pub const SCRIPT: &str = include_str!("restore.sh");
/// The restore Job's container.
pub const CONTAINER: &str = "pgbackrest-restore";
/// The configuration file of the restore Job (in the ConfigMap and in `/etc/pgbackrest/conf.d`).
pub const CONFIG_FILE: &str = "pgbackrest_restore.conf";
/// In the Secret `<c>-pgbackrest-restore`: the client certificate, its key, and the source namespace's root.
pub const CLIENT_CERT_KEY: &str = "pgbackrest-client.crt";
/// See [`CLIENT_CERT_KEY`].
pub const CLIENT_KEY_KEY: &str = "pgbackrest-client.key";
/// See [`CLIENT_CERT_KEY`].
pub const CA_KEY: &str = "pgbackrest.ca-roots";
/// The name of Patroni's bootstrap method for a restored cluster.
pub const BOOTSTRAP_METHOD: &str = "existing";
/// The restore Job's volume of the source's repository, when it mounts it.
const SOURCE_REPO_VOLUME: &str = "source-repository";
/// How often the restore Job's pod is retried before the Job fails.
const BACKOFF_LIMIT: i32 = 2;
/// The port of the temporary PostgreSQL (on a socket in the pod's `/tmp` only).
const TEMPORARY_PORT: &str = "5432";
/// The spec field of a clone's options, for violations.
pub const OPTIONS_FIELD: &str = "spec.dataSource.postgresCluster.options";
/// The spec field of an in-place restore's options, for violations.
pub const IN_PLACE_OPTIONS_FIELD: &str = "spec.backups.pgbackrest.restore.options";

/// Options Tusk sets itself, or that name another configuration: a second value would make pgBackRest fail,
/// or restore something else than the spec says.
const TUSK_OPTIONS: &[&str] = &[
    "stanza",
    "pg1-path",
    "repo",
    "delta",
    "force",
    "config",
    "config-path",
    "config-include-path",
    "log-level-file",
    "log-path",
];

/// The recovery types that stop at a target (pgBackRest's `--type`), after which the temporary PostgreSQL is
/// promoted (`--target-action=promote` unless the options say otherwise).
const TARGET_TYPES: &[&str] = &["immediate", "lsn", "name", "time", "xid"];

/// Where the restore goes: `/pgdata/pg<version>_bootstrap`, beside the data directory on the same volume.
pub fn bootstrap_directory(version: i32) -> String {
    format!("{}_bootstrap", postgres::data_directory(version))
}

/// The words of `options` (the spec field `field`), each element split as a shell splits words (quotes
/// removed), checked: every word is a `--name` or `--name=value` option, none is one Tusk sets, and the recovery
/// ends promoted.
pub fn options(
    source: &PostgresClusterDataSource,
    field: &str,
) -> Result<Vec<String>, Vec<Violation>> {
    let mut words = Vec::new();
    let mut violations = Vec::new();
    for (index, option) in source.options.iter().flatten().enumerate() {
        let field = format!("{field}[{index}]");
        let violation = |rule: String| Violation {
            field: field.clone(),
            rule,
        };
        if option.chars().any(char::is_control) {
            violations.push(violation(format!("{option:?} holds a control character")));
            continue;
        }
        let Some(split) = shlex::split(option) else {
            violations.push(violation(format!(
                "{option:?} has an unclosed quote or a trailing backslash"
            )));
            continue;
        };
        for word in split {
            match check_word(&word) {
                Ok(()) => words.push(word),
                Err(rule) => violations.push(violation(rule)),
            }
        }
    }
    let value = |name: &str| {
        words
            .iter()
            .filter_map(|word| {
                word.strip_prefix("--")?
                    .strip_prefix(name)?
                    .strip_prefix('=')
            })
            .next_back()
    };
    if let Some(kind) = value("type")
        && matches!(kind, "standby" | "preserve")
    {
        violations.push(Violation {
            field: field.into(),
            rule: format!("--type={kind} leaves no primary to start the new cluster from"),
        });
    }
    if let Some(action) = value("target-action")
        && action != "promote"
    {
        violations.push(Violation {
            field: field.into(),
            rule: format!(
                "--target-action={action}: the new cluster starts from a promoted recovery; use promote or leave it out"
            ),
        });
    }
    if violations.is_empty() {
        if value("target-action").is_none()
            && value("type").is_some_and(|t| TARGET_TYPES.contains(&t))
        {
            words.push("--target-action=promote".into());
        }
        Ok(words)
    } else {
        Err(violations)
    }
}

fn check_word(word: &str) -> Result<(), String> {
    let Some(option) = word.strip_prefix("--") else {
        return Err(format!("{word:?} is not a --option"));
    };
    let name = option.split_once('=').map_or(option, |(name, _)| name);
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_name {
        return Err(format!("{word:?} is not a pgBackRest option"));
    }
    let base = name.strip_prefix("no-").unwrap_or(name);
    if TUSK_OPTIONS.contains(&base) || is_repo_key(base) {
        return Err(format!(
            "--{name} is set by Tusk (from repoName and the source cluster)"
        ));
    }
    Ok(())
}

/// `repo1-path`, `repo2-host`...: a repository's own settings, which come from the source cluster.
fn is_repo_key(name: &str) -> bool {
    name.strip_prefix("repo")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_digit())
}

/// What the restore Job restores from: the source cluster (as read from the API) and its repository.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The source PostgresCluster.
    pub cluster: &'a PostgresCluster,
    /// The name of its repository, `repoN`.
    pub repo: &'a str,
}

/// The source's repository volume, which the restore Job mounts (read-only) when the source is in the cluster's
/// namespace: the backup is read from it directly rather than through the source's repository host's TLS
/// server (`docs/src/development/performance.md`). The Job then runs on the repository host's node, where the volume is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoVolume {
    /// The source cluster's name.
    pub source: String,
    /// The claim, `<source>-<repo>`.
    pub claim: String,
    /// The repository's number, for its mount path `/pgbackrest/repoN`.
    pub number: u8,
}

/// The volume of `source`'s repository when the restore Job of `cluster` can mount it: the source is in the
/// same namespace and the repository is a volume one. Its claim is the one `source_claims` (the source's
/// observed claims) label as that repository's volume, else `<source>-<repo>`.
pub fn repo_volume(
    cluster: &PostgresCluster,
    source: Source<'_>,
    source_claims: &Existing,
) -> Option<RepoVolume> {
    let (source_name, source_namespace) = super::name_and_namespace(source.cluster);
    let (_, namespace) = super::name_and_namespace(cluster);
    if source_namespace != namespace {
        return None;
    }
    let (number, _, _) = repos(source.cluster)
        .ok()?
        .into_iter()
        .find(|(_, repo, _)| repo.name == source.repo && repo.volume.is_some())?;
    Some(RepoVolume {
        source: source_name.into(),
        claim: super::volumes::claim_name(source_name, source.repo, source_claims),
        number,
    })
}

/// Why a source cannot be restored from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source has no repository of that name.
    #[error("PostgresCluster {cluster} has no repository {repo}")]
    NoRepository {
        /// The source cluster.
        cluster: String,
        /// The repository asked for.
        repo: String,
    },
    /// The repository is in the cloud: the Job would need the source's credentials.
    #[error(
        "repository {repo} of PostgresCluster {cluster} is in the cloud and the cluster is in another namespace: its credentials are not readable from here"
    )]
    CloudInAnotherNamespace {
        /// The source cluster.
        cluster: String,
        /// The repository asked for.
        repo: String,
    },
    /// A setting of the source would be unsafe in the Job's configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl SourceError {
    /// The `reason` of the condition and Event that report it.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::NoRepository { .. } => "SourceRepositoryNotFound",
            SourceError::CloudInAnotherNamespace { .. } => "SourceRepositoryUnsupported",
            SourceError::Config(_) => "InvalidSourceConfiguration",
        }
    }
}

/// The restore Job's `pgbackrest_restore.conf`: the source's repository (its own settings and the source's
/// `global` settings of that repository, as the source's instances have them) — a volume repository on its
/// volume mounted in the Job ([`repo_volume`]) or else reached through the source's repository host over TLS; a
/// cloud repository of a source in the same namespace directly, with the source's credentials
/// ([`source_configuration`]) — and the bootstrap directory of `cluster` as `pg1-path`.
pub fn config_file(cluster: &PostgresCluster, source: Source<'_>) -> Result<String, SourceError> {
    let (source_name, source_namespace) = super::name_and_namespace(source.cluster);
    let no_repository = || SourceError::NoRepository {
        cluster: source_name.into(),
        repo: source.repo.into(),
    };
    let (number, repo, field) = repos(source.cluster)?
        .into_iter()
        .find(|(_, repo, _)| repo.name == source.repo)
        .ok_or_else(no_repository)?;
    let (_, namespace) = super::name_and_namespace(cluster);
    if repo.volume.is_none() && source_namespace != namespace {
        return Err(SourceError::CloudInAnotherNamespace {
            cluster: source_name.into(),
            repo: source.repo.into(),
        });
    }
    let global = "global";
    let mut ini = Ini::new();
    super::config::repo_options(&mut ini, number, repo, &field)?;
    let key = |option: &str| format!("repo{number}-{option}");
    if repo.volume.is_some() && repo_volume(cluster, source, &Existing::new()).is_none() {
        let host = names::pod_dns_name(
            &names::repo_host_pod(source_name),
            source_name,
            source_namespace,
        );
        for (option, value) in [
            ("host", host.as_str()),
            ("host-type", "tls"),
            ("host-ca-file", CA_FILE),
            ("host-cert-file", CLIENT_CERT_FILE),
            ("host-key-file", CLIENT_KEY_FILE),
        ] {
            ini.set(global, &key(option), value, &field)?;
        }
    }
    let prefix = key("");
    for (name, value) in source
        .cluster
        .spec
        .backups
        .pgbackrest
        .global
        .iter()
        .flatten()
    {
        if name.starts_with(&prefix) {
            let field = format!("spec.backups.pgbackrest.global[{name}]");
            ini.set(global, name, value, &field)?;
        }
    }
    // archive-get, which the temporary PostgreSQL runs, reads this file too: it logs to its output only.
    ini.set(global, "log-level-file", "off", "spec")?;
    ini.set(
        STANZA,
        "pg1-path",
        &bootstrap_directory(cluster.spec.postgres_version),
        "spec.postgresVersion",
    )?;
    Ok(ini.render())
}

/// What the restore Job of `cluster` projects of `source`'s `spec.backups.pgbackrest.configuration` (the
/// credentials files such as `s3.conf`): all of it when the repository is in the cloud and the source in the same
/// namespace (its Secrets are readable there), else nothing.
pub fn source_configuration(
    cluster: &PostgresCluster,
    source: Source<'_>,
) -> Vec<VolumeProjection> {
    let (_, source_namespace) = super::name_and_namespace(source.cluster);
    let (_, namespace) = super::name_and_namespace(cluster);
    let cloud = repos(source.cluster).ok().is_some_and(|repos| {
        repos
            .iter()
            .any(|(_, repo, _)| repo.name == source.repo && repo.volume.is_none())
    });
    if !cloud || source_namespace != namespace {
        return Vec::new();
    }
    source
        .cluster
        .spec
        .backups
        .pgbackrest
        .configuration
        .clone()
        .unwrap_or_default()
}

/// The ConfigMap `<c>-pgbackrest-restore` holding `file`.
pub fn config_map(cluster: &PostgresCluster, file: &str) -> ConfigMap {
    let name = cluster.name_any();
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::restore_job(&name),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            labels::pgbackrest_restore(&name),
        ),
        data: Some(BTreeMap::from([(
            CONFIG_FILE.to_string(),
            file.to_string(),
        )])),
        ..ConfigMap::default()
    }
}

/// The Secret `<c>-pgbackrest-restore`: the client certificate `client` (CN `pgbackrest@<source>`) and the
/// source namespace's root certificate `ca` (PEM).
pub fn client_secret(cluster: &PostgresCluster, client: &Pair, ca: &[u8]) -> Secret {
    let name = cluster.name_any();
    Secret {
        metadata: owned_by(
            cluster,
            names::restore_job(&name),
            cluster.spec.backups.pgbackrest.metadata.as_ref(),
            labels::pgbackrest_restore(&name),
        ),
        data: Some(BTreeMap::from([
            (
                CLIENT_CERT_KEY.into(),
                ByteString(client.certificate.clone()),
            ),
            (
                CLIENT_KEY_KEY.into(),
                ByteString(client.private_key.clone()),
            ),
            (CA_KEY.into(), ByteString(ca.to_vec())),
        ])),
        ..Secret::default()
    }
}

/// The client certificate in `secret`, when it has one.
pub fn client_pair(secret: &Secret) -> Option<Pair> {
    let data = secret.data.as_ref()?;
    Some(Pair {
        certificate: data.get(CLIENT_CERT_KEY)?.0.clone(),
        private_key: data.get(CLIENT_KEY_KEY)?.0.clone(),
    })
}

/// The startup instance: the first, by name, of the planned instances of the first instance set.
pub fn startup_instance<'a>(
    cluster: &PostgresCluster,
    planned: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<&'a str> {
    let first_set = cluster.spec.instances.first()?.name.as_str();
    planned
        .into_iter()
        .filter(|(_, set)| *set == first_set)
        .map(|(instance, _)| instance)
        .min()
}

/// What a restore Job does.
#[derive(Clone, Copy, Debug)]
pub struct Restore<'a> {
    /// The instance whose data volume it restores into.
    pub instance: &'a str,
    /// Where from, and how the Job is scheduled and sized (`spec.dataSource.postgresCluster`, or
    /// `spec.backups.pgbackrest.restore` for an in-place restore).
    pub settings: &'a PostgresClusterDataSource,
    /// The extra `pgbackrest restore` options, checked by [`options`]; they follow Tusk's.
    pub options: &'a [String],
    /// The content of its configuration file ([`config_file`]).
    pub config: &'a str,
    /// The source's repository volume, when the Job mounts it ([`repo_volume`]).
    pub repo: Option<&'a RepoVolume>,
    /// The source's credentials to project ([`source_configuration`]).
    pub credentials: &'a [VolumeProjection],
    /// The instance's data claim (`instances::volumes::claim_names`: an adopted one keeps its name).
    pub data_claim: &'a str,
    /// The instance's WAL claim, when it has one: the Job mounts it too, since the data directory's `pg_wal` is
    /// a link into it and pgBackRest restores the WAL there.
    pub wal_claim: Option<&'a str>,
    /// An in-place restore: the instance's stopped data directory is restored over (with `--delta`). Otherwise
    /// (a new cluster) the Job refuses to touch a data directory that holds files: Patroni bootstrapped it.
    pub in_place: bool,
}

/// The restore Job of `cluster` that does `restore`. The Job carries a digest of everything it does
/// ([`inputs_hash`]), so that a changed spec replaces a Job that has not succeeded.
pub fn job(cluster: &PostgresCluster, images: &Images, restore: &Restore<'_>) -> Job {
    let Restore {
        instance,
        settings: source,
        options,
        config,
        repo,
        data_claim,
        wal_claim,
        credentials,
        in_place,
    } = *restore;
    let name = cluster.name_any();
    let version = cluster.spec.postgres_version;
    let mut command: Vec<String> = vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "pgbackrest-restore".into(),
        bootstrap_directory(version),
        postgres::data_directory(version),
        TEMPORARY_PORT.into(),
        if in_place { "in-place" } else { "new" }.into(),
        "pgbackrest".into(),
        "restore".into(),
        format!("--stanza={STANZA}"),
        "--delta".into(),
        "--log-level-console=info".into(),
    ];
    command.extend(options.iter().cloned());
    let mut ours = labels::pgbackrest_restore(&name);
    ours.insert(labels::STARTUP_INSTANCE.into(), instance.into());
    let mut metadata = owned_by(
        cluster,
        names::restore_job(&name),
        cluster.spec.backups.pgbackrest.metadata.as_ref(),
        ours,
    );
    metadata.annotations.get_or_insert_default().insert(
        annotations::PGBACKREST_CONFIG_HASH.into(),
        inputs_hash(&command, config, instance),
    );
    let mut mounts = vec![
        VolumeMount {
            name: "postgres-data".into(),
            mount_path: postgres::DATA_MOUNT.into(),
            ..VolumeMount::default()
        },
        config_mount(),
        pods::tmp_mount(),
    ];
    if wal_claim.is_some() {
        mounts.push(VolumeMount {
            name: "postgres-wal".into(),
            mount_path: postgres::WAL_MOUNT.into(),
            ..VolumeMount::default()
        });
    }
    let mut affinity = source.affinity.clone();
    if let Some(repo) = repo {
        mounts.push(VolumeMount {
            name: SOURCE_REPO_VOLUME.into(),
            mount_path: super::repo_path(repo.number),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        let with_host = affinity.get_or_insert_default();
        with_host
            .pod_affinity
            .get_or_insert_default()
            .required_during_scheduling_ignored_during_execution
            .get_or_insert_default()
            .push(PodAffinityTerm {
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels::pgbackrest_dedicated(&repo.source)),
                    ..LabelSelector::default()
                }),
                topology_key: "kubernetes.io/hostname".into(),
                ..PodAffinityTerm::default()
            });
    }
    let container = k8s_openapi::api::core::v1::Container {
        command: Some(command),
        resources: source.resources.clone(),
        volume_mounts: Some(mounts),
        ..pods::container(cluster, CONTAINER, images.postgres(cluster))
    };
    let mut projections = vec![
        VolumeProjection {
            config_map: Some(ConfigMapProjection {
                name: names::restore_job(&name),
                items: Some(vec![KeyToPath {
                    key: CONFIG_FILE.into(),
                    path: CONFIG_FILE.into(),
                    mode: None,
                }]),
                optional: Some(false),
            }),
            ..VolumeProjection::default()
        },
        secret(
            names::restore_job(&name),
            &[
                (CLIENT_CERT_KEY, CLIENT_CERT_PATH),
                (CLIENT_KEY_KEY, CLIENT_KEY_PATH),
                (CA_KEY, CA_PATH),
            ],
        ),
    ];
    projections.extend(credentials.iter().cloned());
    let mut volumes = vec![
        Volume {
            name: "postgres-data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: data_claim.into(),
                read_only: Some(false),
            }),
            ..Volume::default()
        },
        config_volume(projections),
        pods::tmp_volume(),
    ];
    if let Some(wal_claim) = wal_claim {
        volumes.push(Volume {
            name: "postgres-wal".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: wal_claim.into(),
                read_only: Some(false),
            }),
            ..Volume::default()
        });
    }
    volumes.extend(repo.map(|repo| Volume {
        name: SOURCE_REPO_VOLUME.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: repo.claim.clone(),
            read_only: Some(true),
        }),
        ..Volume::default()
    }));
    let scheduling = pods::Scheduling {
        affinity,
        tolerations: source.tolerations.clone(),
        priority_class_name: source.priority_class_name.clone(),
    };
    pods::one_shot_job(
        cluster,
        metadata,
        container,
        volumes,
        scheduling,
        BACKOFF_LIMIT,
    )
}

/// A digest of what a restore Job does: its command, configuration and volume.
fn inputs_hash(command: &[String], config: &str, instance: &str) -> String {
    let mut digest = Sha256::new();
    for part in command.iter().map(String::as_str).chain([config, instance]) {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    crate::digest::hex(digest, 8)
}

/// Patroni's bootstrap of an instance of a cluster restored from a backup: the method [`BOOTSTRAP_METHOD`]
/// moves the bootstrap directory into place (nothing else: the Job left a promoted, cleanly stopped cluster);
/// `None` for a cluster neither made from a backup (`spec.dataSource.postgresCluster`) nor being restored in
/// place (`in_place::active`): Patroni runs `initdb`. When an attempt
/// failed after the move, Patroni set the data directory aside as `<data>.failed` and exits; the next attempt
/// takes that directory back as the bootstrap directory (it holds the restored cluster, at most crash-stopped)
/// instead of failing for ever on a missing bootstrap directory. Seen once in an end-to-end run: the first
/// attempt of a point-in-time clone failed within two seconds for a reason its lost log did not keep.
pub fn bootstrap_method(cluster: &PostgresCluster) -> Option<(&'static str, Value)> {
    let clone = cluster
        .spec
        .data_source
        .as_ref()
        .is_some_and(|source| source.postgres_cluster.is_some());
    if !clone && !super::in_place::active(cluster) {
        return None;
    }
    Some((
        BOOTSTRAP_METHOD,
        move_into_place(cluster.spec.postgres_version),
    ))
}

/// The settings of a Patroni bootstrap method that moves the bootstrap directory of PostgreSQL `version` to
/// its data directory (an empty data directory is removed first), taking back `<data>.failed` when an earlier
/// attempt failed after the move. Restores and adopted volumes bootstrap this way.
pub fn move_into_place(version: i32) -> Value {
    // Patroni splits the command as a shell would (shlex); the paths are fixed by the version.
    let command = format!(
        "sh -c '{MOVE_INTO_PLACE}' {} {}",
        bootstrap_directory(version),
        postgres::data_directory(version)
    );
    json!({"command": command, "no_params": true, "keep_existing_recovery_conf": false})
}

/// The script of [`move_into_place`], run as `sh -c SCRIPT <bootstrap directory> <data directory>` (no single
/// quote in it: Patroni reads the command as a shell would). A failed attempt left the data directory as
/// `<data>.failed`, and when `pg_wal` is a link (a WAL volume) Patroni renamed its target to `<wal>.failed`
/// too and pointed the link there: taking the directory back also puts the WAL back where it was.
const MOVE_INTO_PLACE: &str = "set -e; \
    if [ ! -d \"$0\" ] && [ -d \"$1.failed\" ]; then \
    mv -- \"$1.failed\" \"$0\"; \
    if [ -L \"$0/pg_wal\" ]; then wal=$(readlink \"$0/pg_wal\"); \
    case \"$wal\" in *.failed) if [ -d \"$wal\" ] && [ ! -e \"${wal%.failed}\" ]; then \
    mv -- \"$wal\" \"${wal%.failed}\"; ln -sfn -- \"${wal%.failed}\" \"$0/pg_wal\"; fi;; esac; fi; \
    fi; \
    [ ! -d \"$1\" ] || rmdir -- \"$1\"; exec mv -- \"$0\" \"$1\"";

/// While the data is not initialized, instance StatefulSets run no pod, but the `startup` instance once its
/// data is restored: sets `replicas` of every instance StatefulSet in `statefulsets` (the repository host is
/// left alone).
pub fn hold(statefulsets: &mut [StatefulSet], startup: Option<&str>) {
    for statefulset in statefulsets
        .iter_mut()
        .filter(|s| s.labels().contains_key(labels::INSTANCE))
    {
        let runs = startup == Some(statefulset.name_any().as_str());
        if let Some(spec) = statefulset.spec.as_mut()
            && !runs
        {
            spec.replicas = Some(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_with};

    fn source(options: &[&str]) -> PostgresClusterDataSource {
        PostgresClusterDataSource {
            repo_name: "repo1".into(),
            cluster_name: Some("hippo".into()),
            options: Some(options.iter().map(|o| o.to_string()).collect()),
            ..PostgresClusterDataSource::default()
        }
    }

    fn elephant() -> PostgresCluster {
        hippo_with(
            "repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]",
            "dataSource: {postgresCluster: {clusterName: hippo, clusterNamespace: zoo, repoName: repo1, options: [--type=time]}}",
        )
    }

    #[test]
    fn options_are_split_like_a_shell_and_promote_at_a_target() {
        assert_eq!(
            options(
                &source(&["--type=time", "--target=\"2021-06-09 14:15:11 EDT\""]),
                OPTIONS_FIELD
            ),
            Ok(vec![
                "--type=time".to_string(),
                "--target=2021-06-09 14:15:11 EDT".into(),
                "--target-action=promote".into()
            ])
        );
        assert_eq!(
            options(
                &source(&["--type=time --target='2021-06-09 14:15:11' --set=20210609-141511F"]),
                OPTIONS_FIELD
            ),
            Ok(vec![
                "--type=time".to_string(),
                "--target=2021-06-09 14:15:11".into(),
                "--set=20210609-141511F".into(),
                "--target-action=promote".into()
            ])
        );
        assert_eq!(options(&source(&[]), OPTIONS_FIELD), Ok(vec![]));
        assert_eq!(
            options(
                &source(&["--type=default", "--target-action=promote"]),
                OPTIONS_FIELD
            ),
            Ok(vec![
                "--type=default".to_string(),
                "--target-action=promote".into()
            ])
        );
    }

    #[test]
    fn options_tusk_sets_or_that_leave_no_primary_are_refused() {
        for (option, what) in [
            ("--stanza=other", "set by Tusk"),
            ("--pg1-path=/pgdata/pg16", "set by Tusk"),
            ("--repo=2", "set by Tusk"),
            ("--repo1-host=evil", "set by Tusk"),
            ("--no-delta", "set by Tusk"),
            ("--config=/etc/passwd", "set by Tusk"),
            ("--type=standby", "no primary"),
            ("--target-action=pause", "promoted"),
            ("rm -rf /", "not a --option"),
            ("--target=\"unclosed", "unclosed quote"),
            ("--Type=time", "not a pgBackRest option"),
            ("--target=a\nb", "control character"),
        ] {
            let error = options(&source(&[option]), OPTIONS_FIELD).expect_err(option);
            assert!(
                error.iter().any(|v| v.rule.contains(what)),
                "{option}: {error:?}"
            );
            assert!(error[0].field.starts_with(OPTIONS_FIELD), "{error:?}");
        }
    }

    #[test]
    fn the_configuration_reaches_the_source_repository_host_over_tls() {
        let mut hippo = hippo();
        hippo.metadata.namespace = Some("other".into());
        hippo
            .spec
            .backups
            .pgbackrest
            .global
            .get_or_insert_default()
            .extend([
                (
                    "repo1-path".to_string(),
                    "/pgbackrest/hippo/repo1".to_string(),
                ),
                ("repo2-path".into(), "/elsewhere".into()),
            ]);
        let file = config_file(
            &elephant(),
            Source {
                cluster: &hippo,
                repo: "repo1",
            },
        )
        .expect("builds");
        assert_eq!(
            file,
            "[global]
log-level-file=off
repo1-host=hippo-repo-host-0.hippo-pods.other.svc.cluster.local
repo1-host-ca-file=/etc/pgbackrest/conf.d/~pgbackrest-ca/ca-roots.crt
repo1-host-cert-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.crt
repo1-host-key-file=/etc/pgbackrest/conf.d/~pgbackrest-client/client.key
repo1-host-type=tls
repo1-path=/pgbackrest/hippo/repo1
repo1-type=posix

[db]
pg1-path=/pgdata/pg16_bootstrap
"
        );
        let missing = config_file(
            &elephant(),
            Source {
                cluster: &hippo,
                repo: "repo3",
            },
        );
        assert_eq!(missing.unwrap_err().reason(), "SourceRepositoryNotFound");
        let mut s3 = crate::pgbackrest::tests::hippo_s3();
        s3.spec.backups.pgbackrest.configuration = Some(vec![VolumeProjection {
            secret: Some(k8s_openapi::api::core::v1::SecretProjection {
                name: "pgo-s3-creds".into(),
                ..Default::default()
            }),
            ..VolumeProjection::default()
        }]);
        let cloud = Source {
            cluster: &s3,
            repo: "repo2",
        };
        let file = config_file(&elephant(), cloud).expect("a cloud source in the same namespace");
        assert!(file.contains("repo2-type=s3"), "{file}");
        assert!(!file.contains("repo2-host"), "{file}");
        assert!(repo_volume(&elephant(), cloud, &Existing::new()).is_none());
        let credentials = source_configuration(&elephant(), cloud);
        assert_eq!(
            credentials[0].secret.as_ref().map(|s| s.name.as_str()),
            Some("pgo-s3-creds"),
            "the source's credentials are projected"
        );
        let mut elsewhere = elephant();
        elsewhere.metadata.namespace = Some("savanna".into());
        assert_eq!(
            config_file(&elsewhere, cloud).unwrap_err().reason(),
            "SourceRepositoryUnsupported"
        );
        assert!(source_configuration(&elsewhere, cloud).is_empty());
        assert!(
            source_configuration(
                &elephant(),
                Source {
                    cluster: &hippo,
                    repo: "repo1"
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn the_job_restores_into_the_startup_instance_volume_without_a_shell_for_options() {
        let settings = source(&["--type=time", "--target=\"2021-06-09 14:15:11 EDT\""]);
        let options = options(&settings, OPTIONS_FIELD).expect("valid");
        let restore = Restore {
            instance: "hippo-instance1-b4dz",
            settings: &settings,
            options: &options,
            config: "[global]\n",
            repo: None,
            data_claim: "hippo-instance1-b4dz-pgdata",
            wal_claim: None,
            credentials: &[],
            in_place: false,
        };
        let job = job(&elephant(), &Images::default(), &restore);
        assert_eq!(
            job.metadata.name.as_deref(),
            Some("hippo-pgbackrest-restore")
        );
        let labels = job.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels[labels::STARTUP_INSTANCE], "hippo-instance1-b4dz");
        assert!(labels.contains_key(labels::PGBACKREST_RESTORE));
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let command = pod.containers[0].command.as_ref().unwrap();
        assert_eq!(command[..2], ["sh", "-c"]);
        assert_eq!(command[2], SCRIPT);
        assert_eq!(
            command[3..],
            [
                "pgbackrest-restore",
                "/pgdata/pg16_bootstrap",
                "/pgdata/pg16",
                "5432",
                "new",
                "pgbackrest",
                "restore",
                "--stanza=db",
                "--delta",
                "--log-level-console=info",
                "--type=time",
                "--target=2021-06-09 14:15:11 EDT",
                "--target-action=promote"
            ]
        );
        let claim = pod.volumes.as_ref().unwrap()[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap();
        assert_eq!(claim.claim_name, "hippo-instance1-b4dz-pgdata");
        let hash = &job.metadata.annotations.as_ref().unwrap()[annotations::PGBACKREST_CONFIG_HASH];
        let other = super::job(
            &elephant(),
            &Images::default(),
            &Restore {
                options: &[],
                ..restore
            },
        );
        assert_ne!(
            Some(hash),
            other
                .metadata
                .annotations
                .as_ref()
                .unwrap()
                .get(annotations::PGBACKREST_CONFIG_HASH)
        );
    }

    #[test]
    fn a_source_in_the_same_namespace_is_read_from_its_volume_beside_its_repository_host() {
        let hippo = hippo();
        let source = Source {
            cluster: &hippo,
            repo: "repo1",
        };
        let volume = repo_volume(&elephant(), source, &Existing::new())
            .expect("same namespace, a volume repository");
        assert_eq!(
            volume,
            RepoVolume {
                source: "hippo".into(),
                claim: "hippo-repo1".into(),
                number: 1,
            }
        );
        let file = config_file(&elephant(), source).expect("builds");
        assert!(!file.contains("repo1-host"), "{file}");
        assert!(file.contains("repo1-path=/pgbackrest/repo1"), "{file}");
        let settings = PostgresClusterDataSource::default();
        let job = job(
            &elephant(),
            &Images::default(),
            &Restore {
                instance: "hippo-instance1-b4dz",
                settings: &settings,
                options: &[],
                config: &file,
                repo: Some(&volume),
                data_claim: "hippo-instance1-b4dz-pgdata",
                wal_claim: Some("hippo-instance1-b4dz-pgwal"),
                credentials: &[],
                in_place: false,
            },
        );
        let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == "/pgbackrest/repo1")
            .expect("the source's repository is mounted");
        let wal = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "postgres-wal");
        assert_eq!(
            wal.and_then(|v| v.persistent_volume_claim.as_ref())
                .map(|claim| claim.claim_name.as_str()),
            Some("hippo-instance1-b4dz-pgwal"),
            "the instance's WAL volume is mounted where its pg_wal link points"
        );
        assert_eq!(mount.read_only, Some(true));
        let claim = pod
            .volumes
            .iter()
            .flatten()
            .find_map(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .filter(|c| c.claim_name == "hippo-repo1")
            })
            .expect("the source's claim");
        assert_eq!(claim.read_only, Some(true));
        let term = &pod
            .affinity
            .as_ref()
            .unwrap()
            .pod_affinity
            .as_ref()
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()[0];
        assert_eq!(term.topology_key, "kubernetes.io/hostname");

        let mut elsewhere = hippo.clone();
        elsewhere.metadata.namespace = Some("other".into());
        let source = Source {
            cluster: &elsewhere,
            repo: "repo1",
        };
        assert!(repo_volume(&elephant(), source, &Existing::new()).is_none());
    }

    #[test]
    fn taking_a_failed_attempt_back_puts_its_wal_back() {
        let root = std::env::temp_dir().join(format!("tusk-move-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (data, bootstrap) = (root.join("pg15"), root.join("pg15_bootstrap"));
        let (wal, failed_wal) = (root.join("wal"), root.join("wal.failed"));
        let failed = root.join("pg15.failed");
        let move_into_place = || {
            std::process::Command::new("sh")
                .args(["-c", MOVE_INTO_PLACE])
                .arg(&bootstrap)
                .arg(&data)
                .status()
                .unwrap()
        };
        std::fs::create_dir_all(&failed).unwrap();
        std::fs::create_dir_all(&failed_wal).unwrap();
        std::fs::write(failed.join("PG_VERSION"), "15\n").unwrap();
        std::fs::write(failed_wal.join("000000010000000000000001"), "").unwrap();
        std::os::unix::fs::symlink(&failed_wal, failed.join("pg_wal")).unwrap();
        assert!(move_into_place().success());
        assert!(data.join("PG_VERSION").exists(), "the data is in place");
        assert!(!bootstrap.exists() && !failed.exists());
        assert_eq!(std::fs::read_link(data.join("pg_wal")).unwrap(), wal);
        assert!(
            wal.join("000000010000000000000001").exists(),
            "the WAL is back"
        );
        assert!(!failed_wal.exists());

        // The first attempt: the bootstrap directory moves into place, an empty data directory goes.
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::create_dir_all(&bootstrap).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(bootstrap.join("PG_VERSION"), "15\n").unwrap();
        assert!(move_into_place().success());
        assert!(data.join("PG_VERSION").exists() && !bootstrap.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn patroni_moves_the_bootstrap_directory_into_place() {
        assert!(bootstrap_method(&hippo()).is_none());
        let (name, method) = bootstrap_method(&elephant()).expect("a clone");
        assert_eq!(name, "existing");
        assert_eq!(method["no_params"], true);
        let command = method["command"].as_str().unwrap();
        assert!(
            command.ends_with(" /pgdata/pg16_bootstrap /pgdata/pg16"),
            "{command}"
        );
        assert!(
            command.contains(r#"[ -d "$1.failed" ]; then mv -- "$1.failed" "$0""#),
            "a failed attempt's directory is taken back: {command}"
        );
    }

    #[test]
    fn the_startup_instance_is_the_first_of_the_first_set_by_name() {
        let cluster = elephant();
        let planned = [
            ("hippo-instance1-x2bc", "instance1"),
            ("hippo-instance1-b4dz", "instance1"),
            ("hippo-other-aaaa", "other"),
        ];
        assert_eq!(
            startup_instance(&cluster, planned),
            Some("hippo-instance1-b4dz")
        );
    }

    #[test]
    fn held_instances_run_no_pod_but_the_restored_startup_instance() {
        let built = crate::build::render(&elephant(), &Images::default()).expect("builds");
        let mut statefulsets = built.statefulsets.clone();
        let instance = statefulsets
            .iter()
            .find(|s| s.labels().contains_key(labels::INSTANCE))
            .map(|s| s.name_any())
            .expect("an instance");
        let replicas = |sets: &[StatefulSet]| -> Vec<(String, i32)> {
            sets.iter()
                .map(|s| (s.name_any(), s.spec.as_ref().unwrap().replicas.unwrap()))
                .collect()
        };
        hold(&mut statefulsets, None);
        assert!(
            replicas(&statefulsets)
                .iter()
                .all(|(name, n)| (*n == 0) == (name != "hippo-repo-host"))
        );
        let mut statefulsets = built.statefulsets.clone();
        hold(&mut statefulsets, Some(&instance));
        assert!(replicas(&statefulsets).iter().all(|(_, n)| *n == 1));
    }
}

/// The restore script run by `sh` in a temporary directory, with `touch <marker>` as its `pgbackrest restore`
/// command line (no PostgreSQL here: the script fails after the restore, which is all these tests look at).
#[cfg(test)]
mod script_tests {
    use super::SCRIPT;
    use std::path::Path;
    use std::process::Command;

    fn run(root: &Path, kind: &str) -> bool {
        let path = |name: &str| root.join(name).to_string_lossy().into_owned();
        Command::new("sh")
            .args(["-c", SCRIPT, "pgbackrest-restore"])
            .args([
                path("pg16_bootstrap"),
                path("pg16"),
                "1".into(),
                kind.into(),
            ])
            .args(["touch".into(), path("restored")])
            .output()
            .expect("sh runs");
        root.join("restored").exists()
    }

    #[test]
    fn a_new_cluster_restore_leaves_a_bootstrapped_data_directory_alone() {
        let root = tempfile::tempdir().expect("temp");
        std::fs::create_dir(root.path().join("pg16")).expect("data");
        std::fs::write(root.path().join("pg16/PG_VERSION"), "16\n").expect("file");
        assert!(!run(root.path(), "new"), "pgBackRest must not run");
        assert!(root.path().join("pg16/PG_VERSION").exists());
        assert!(!root.path().join("pg16_bootstrap").exists());
    }

    #[test]
    fn a_new_cluster_restore_removes_an_empty_data_directory_and_restores_beside_it() {
        let root = tempfile::tempdir().expect("temp");
        std::fs::create_dir(root.path().join("pg16")).expect("data");
        assert!(run(root.path(), "new"));
        assert!(!root.path().join("pg16").exists());
        assert!(root.path().join("pg16_bootstrap").is_dir());
    }

    #[test]
    fn an_in_place_restore_restores_over_the_existing_data_directory() {
        let root = tempfile::tempdir().expect("temp");
        std::fs::create_dir(root.path().join("pg16")).expect("data");
        std::fs::write(root.path().join("pg16/PG_VERSION"), "16\n").expect("file");
        assert!(run(root.path(), "in-place"));
        assert!(!root.path().join("pg16").exists());
        assert!(root.path().join("pg16_bootstrap/PG_VERSION").exists());
    }
}
