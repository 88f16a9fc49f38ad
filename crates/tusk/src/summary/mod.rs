//! What `tusk status` shows: one cluster's health, built from what the API server holds (the PostgresCluster,
//! its instance pods with Patroni's member annotations, its backup Jobs and its certificate Secrets). Pure:
//! the objects and the time in, a [`Summary`] out; [`text`] renders it for people, `serde` as JSON.

mod backups;
mod certificates;
mod members;
pub mod text;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus, WalArchivingStatus};

pub use backups::{LastBackup, Repository};
pub use certificates::Certificate;
pub use members::Member;

/// A certificate that expires within this many days is a problem to act on.
const CERTIFICATE_WARNING_DAYS: i64 = 30;

/// What the API server holds about one cluster, and when it was read.
pub struct Observed<'a> {
    /// The PostgresCluster.
    pub cluster: &'a PostgresCluster,
    /// Its pods.
    pub pods: &'a [Pod],
    /// Its Jobs.
    pub jobs: &'a [Job],
    /// Its Secrets, and the namespace's root certificate authority.
    pub secrets: &'a [Secret],
    /// When they were read.
    pub now: Timestamp,
}

/// One cluster's health, for a person (see [`text`]) or a program (JSON).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The cluster's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its PostgreSQL major version.
    pub postgres_version: i32,
    /// Whether the operator has acted on the latest spec (`status.observedGeneration`).
    pub spec_observed: bool,
    /// Whether the cluster is shut down (`spec.shutdown`).
    pub shutdown: bool,
    /// Each instance, the primary first.
    pub members: Vec<Member>,
    /// Each pgBackRest repository with its latest backups.
    pub repositories: Vec<Repository>,
    /// WAL archiving as the primary last reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_archiving: Option<WalArchivingStatus>,
    /// PgBouncer's pods, ready of total, when `spec.proxy` asks for PgBouncer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbouncer: Option<Replicas>,
    /// Each certificate the cluster's Secrets hold, the soonest to expire first.
    pub certificates: Vec<Certificate>,
    /// The status conditions.
    pub conditions: Vec<Condition>,
    /// What needs attention, each with what to do next.
    pub problems: Vec<String>,
}

/// Ready pods of all.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Replicas {
    /// Pods that are ready.
    pub ready: i32,
    /// Pods wanted.
    pub wanted: i32,
}

/// Summarizes `observed`.
pub fn summarize(observed: &Observed<'_>) -> Summary {
    let cluster = observed.cluster;
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let namespace = cluster.metadata.namespace.clone().unwrap_or_default();
    let status = cluster.status.clone().unwrap_or_default();
    let members = members::members(observed.pods);
    let repositories = backups::repositories(cluster, observed.jobs);
    let certificates = certificates::certificates(observed.secrets, observed.now);
    let pgbouncer = cluster.spec.proxy.as_ref().map(|proxy| {
        let counted = status.proxy.as_ref().and_then(|p| p.pg_bouncer.as_ref());
        Replicas {
            ready: counted.and_then(|c| c.ready_replicas).unwrap_or(0),
            wanted: proxy.pg_bouncer.replicas,
        }
    });
    let mut summary = Summary {
        spec_observed: status.observed_generation == cluster.metadata.generation,
        shutdown: cluster.spec.shutdown.unwrap_or(false),
        postgres_version: cluster.spec.postgres_version,
        wal_archiving: status
            .pgbackrest
            .as_ref()
            .and_then(|p| p.wal_archiving.clone()),
        conditions: status.conditions.clone().unwrap_or_default(),
        name,
        namespace,
        members,
        repositories,
        pgbouncer,
        certificates,
        problems: Vec::new(),
    };
    summary.problems = problems(&summary);
    summary
}

/// What in `summary` needs a person, and what they can do.
fn problems(summary: &Summary) -> Vec<String> {
    let mut problems = Vec::new();
    let cluster = &summary.name;
    if !summary.shutdown && !summary.members.iter().any(Member::leads) {
        problems.push(format!(
            "no instance is primary: see `kubectl -n {} get pods -l postgres-operator.crunchydata.com/cluster={cluster}` and the database containers' logs",
            summary.namespace
        ));
    }
    for member in &summary.members {
        if !member.ready && !summary.shutdown {
            problems.push(format!(
                "{} is not ready: `kubectl -n {} describe pod {}`",
                member.pod, summary.namespace, member.pod
            ));
        }
        if member.pending_restart {
            problems.push(format!(
                "{} waits for a restart to apply a parameter: `tusk restart {cluster}`",
                member.pod
            ));
        }
    }
    if let Some(failed) = summary
        .wal_archiving
        .as_ref()
        .filter(|w| w.last_failed_time.is_some())
        .filter(|w| {
            w.last_archived_time.is_none()
                || w.last_failed_time.as_ref().map(|t| t.0)
                    > w.last_archived_time.as_ref().map(|t| t.0)
        })
    {
        problems.push(format!(
            "WAL archiving fails (last failed: {}): the primary's pgBackRest log says why",
            failed.last_failed_wal.as_deref().unwrap_or("?")
        ));
    }
    for repository in &summary.repositories {
        if repository.last.is_empty() && !repository.running {
            problems.push(format!(
                "{} has no backup yet: `tusk backup {cluster} --repo {}`",
                repository.name, repository.name
            ));
        }
    }
    if let Some(pgbouncer) = summary.pgbouncer.filter(|p| p.ready < p.wanted) {
        problems.push(format!(
            "PgBouncer: {} of {} pods ready: `kubectl -n {} describe deployment {cluster}-pgbouncer`",
            pgbouncer.ready, pgbouncer.wanted, summary.namespace
        ));
    }
    for certificate in &summary.certificates {
        if certificate.days_left < CERTIFICATE_WARNING_DAYS {
            problems.push(format!(
                "certificate in Secret {} expires in {} days: renew it (Tusk renews the ones it issued by itself)",
                certificate.secret, certificate.days_left
            ));
        }
    }
    for condition in &summary.conditions {
        if condition.status == ConditionStatus::False && condition_is_trouble(&condition.type_) {
            problems.push(format!(
                "{}: {} ({})",
                condition.type_, condition.message, condition.reason
            ));
        }
    }
    problems
}

/// Whether a condition that is `False` means something is wrong (rather than, say, a restore not running).
fn condition_is_trouble(type_: &str) -> bool {
    !matches!(
        type_,
        "PGBackRestRestoreProgressing" | "PostgresDataInitialized"
    )
}

#[cfg(test)]
mod tests;
