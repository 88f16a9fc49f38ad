//! The status stage: what a reconcile found, written to `status` so `kubectl describe` shows it.
//!
//! Status is deterministic: a condition keeps its `lastTransitionTime` until its status changes, so writing the
//! same status twice changes nothing and triggers no further reconcile.

mod pgbackrest;

pub use pgbackrest::{Progress, WAL_ARCHIVING, conditions as pgbackrest_conditions, pgbackrest};

use crate::naming::labels;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use tusk_api::PostgresCluster;
use tusk_api::status::{Condition, ConditionStatus, PgBackRestStatus, PostgresInstanceSetStatus};
use tusk_api::validation::Violation;

/// The condition that says whether the spec is valid; when it is not, its message lists every violation.
pub const SPEC_VALID: &str = "SpecValid";
/// The condition that says whether every instance is up and ready.
pub const INSTANCES_READY: &str = "InstancesReady";

/// The `SpecValid` condition for `cluster`, given the violations of its spec, at time `now`.
pub fn spec_valid(cluster: &PostgresCluster, violations: &[Violation], now: Time) -> Condition {
    let (status, reason, message) = if violations.is_empty() {
        (
            ConditionStatus::True,
            "Valid",
            "the spec is valid".to_string(),
        )
    } else {
        let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
        (
            ConditionStatus::False,
            "InvalidSpec",
            format!(
                "nothing is applied until the spec is fixed: {}",
                listed.join("; ")
            ),
        )
    };
    condition(cluster, SPEC_VALID, status, reason, message, now)
}

/// The `SpecValid` condition when the spec is valid but what it references is not (the user's custom TLS
/// Secrets, say): `reason` and `message` say what to fix.
pub fn references_invalid(
    cluster: &PostgresCluster,
    reason: &str,
    message: &str,
    now: Time,
) -> Condition {
    let message = format!("nothing is applied until this is fixed: {message}");
    condition(
        cluster,
        SPEC_VALID,
        ConditionStatus::False,
        reason,
        message,
        now,
    )
}

/// The `InstancesReady` condition: whether every instance set has as many ready pods as its spec asks for
/// (none while shut down), with the counts, and any leader kept until a switchover, in its message.
pub fn instances_ready(
    cluster: &PostgresCluster,
    sets: &[PostgresInstanceSetStatus],
    waiting_for_switchover: &[String],
    now: Time,
) -> Condition {
    let shutdown = cluster.spec.shutdown.unwrap_or(false);
    let mut counts = Vec::new();
    let mut all_ready = true;
    for (spec, status) in cluster.spec.instances.iter().zip(sets) {
        let wanted = if shutdown { 0 } else { spec.replicas };
        let ready = status.ready_replicas.unwrap_or(0);
        all_ready &= ready == wanted && status.replicas.unwrap_or(0) == wanted;
        counts.push(format!("{}: {ready}/{wanted} ready", spec.name));
    }
    let mut message = counts.join(", ");
    if !waiting_for_switchover.is_empty() {
        all_ready = false;
        message.push_str(&format!(
            "; the leader {} belongs to a removed instance set and stays until a switchover moves the leader",
            waiting_for_switchover.join(", ")
        ));
    }
    let (status, reason) = match (all_ready, shutdown) {
        (true, true) => (ConditionStatus::True, "Shutdown"),
        (true, false) => (ConditionStatus::True, "AllReady"),
        (false, _) => (ConditionStatus::False, "NotReady"),
    };
    condition(cluster, INSTANCES_READY, status, reason, message, now)
}

/// A condition of `type_` that keeps its previous `lastTransitionTime` while its status stays the same.
pub fn condition(
    cluster: &PostgresCluster,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: String,
    now: Time,
) -> Condition {
    let last_transition_time = match previous(cluster, type_) {
        Some(previous) if previous.status == status => previous.last_transition_time.clone(),
        _ => now,
    };
    Condition {
        type_: type_.into(),
        status,
        observed_generation: cluster.metadata.generation,
        last_transition_time,
        reason: reason.into(),
        message,
    }
}

/// Whether `condition` differs from what the cluster's status already says (so an event is worth sending).
pub fn is_news(cluster: &PostgresCluster, condition: &Condition) -> bool {
    previous(cluster, &condition.type_).is_none_or(|previous| {
        previous.status != condition.status || previous.message != condition.message
    })
}

/// What a reconcile observed of the cluster's workloads, for `status` (left out when not observed).
#[derive(Default)]
pub struct Observed<'a> {
    /// The pod counts of every instance set.
    pub instances: Option<&'a [PostgresInstanceSetStatus]>,
    /// The repositories and the repository host.
    pub pgbackrest: Option<&'a PgBackRestStatus>,
    /// The digest of the users last written to PostgreSQL (`status.usersRevision`); when not observed, the
    /// one recorded before is kept.
    pub users_revision: Option<&'a str>,
    /// `status.monitoring`: the exporter role's revision, `None` without the exporter.
    pub monitoring: Option<&'a tusk_api::status::MonitoringStatus>,
    /// `status.proxy`: PgBouncer's revision in PostgreSQL and its pods, `None` without PgBouncer.
    pub proxy: Option<&'a tusk_api::status::PostgresProxyStatus>,
    /// `status.databaseInitSQL` once the init SQL ran; when not observed, the value recorded before is kept
    /// while the spec has `databaseInitSQL` (and dropped with it, as PGO).
    pub database_init_sql: Option<&'a str>,
    /// `status.startupInstance` and `status.startupInstanceSet`.
    pub startup: Option<(&'a str, &'a str)>,
    /// `status.patroni.switchover`: the `trigger-switchover` value last acted on.
    pub switchover: Option<&'a str>,
}

/// The server-side apply body that sets `conditions`, `observedGeneration` and what was `observed`.
pub fn patch(
    cluster: &PostgresCluster,
    conditions: &[Condition],
    observed: Observed<'_>,
) -> serde_json::Value {
    let mut status = serde_json::json!({
        "observedGeneration": cluster.metadata.generation,
        "conditions": conditions,
    });
    if let Some(instances) = observed.instances {
        status["instances"] = serde_json::json!(instances);
    }
    if let Some(pgbackrest) = observed.pgbackrest {
        status["pgbackrest"] = serde_json::json!(pgbackrest);
    }
    let recorded = cluster.status.as_ref();
    if let Some((instance, set)) = observed.startup {
        status["startupInstance"] = serde_json::json!(instance);
        status["startupInstanceSet"] = serde_json::json!(set);
    }
    // An in-place restore brings back the roles of its target time: the users are written again after it.
    let restoring = crate::pgbackrest::in_place::active(cluster);
    if let Some(revision) = observed.users_revision.or_else(|| {
        recorded
            .filter(|_| !restoring)
            .and_then(|s| s.users_revision.as_deref())
    }) {
        status["usersRevision"] = serde_json::json!(revision);
    }
    if let Some(switchover) = observed.switchover {
        status["patroni"] = serde_json::json!({"switchover": switchover});
    }
    if let Some(monitoring) = observed.monitoring {
        status["monitoring"] = serde_json::json!(monitoring);
    }
    if let Some(proxy) = observed.proxy {
        status["proxy"] = serde_json::json!(proxy);
    }
    if cluster.spec.database_init_sql.is_some()
        && let Some(ran) = observed
            .database_init_sql
            .or_else(|| recorded.and_then(|s| s.database_init_sql.as_deref()))
    {
        status["databaseInitSQL"] = serde_json::json!(ran);
    }
    serde_json::json!({
        "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
        "kind": "PostgresCluster",
        "status": status,
    })
}

/// The pod counts of every instance set, in the spec's order, summed over the set's StatefulSets.
pub fn instance_sets(
    cluster: &PostgresCluster,
    statefulsets: &[StatefulSet],
) -> Vec<PostgresInstanceSetStatus> {
    cluster
        .spec
        .instances
        .iter()
        .map(|set| {
            let members = statefulsets.iter().filter(|statefulset| {
                statefulset.labels().get(labels::INSTANCE_SET) == Some(&set.name)
            });
            let mut counts = PostgresInstanceSetStatus {
                name: set.name.clone(),
                replicas: Some(0),
                ready_replicas: Some(0),
                updated_replicas: Some(0),
            };
            for status in members.filter_map(|s| s.status.as_ref()) {
                let add = |total: &mut Option<i32>, value: Option<i32>| {
                    *total = Some(total.unwrap_or(0) + value.unwrap_or(0));
                };
                add(&mut counts.replicas, Some(status.replicas));
                add(&mut counts.ready_replicas, status.ready_replicas);
                add(&mut counts.updated_replicas, status.updated_replicas);
            }
            counts
        })
        .collect()
}

pub fn previous<'a>(cluster: &'a PostgresCluster, type_: &str) -> Option<&'a Condition> {
    cluster
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use tusk_api::status::PostgresClusterStatus;

    fn cluster() -> PostgresCluster {
        let mut cluster =
            tusk_api::manifest::parse(include_str!("../../../../../examples/hippo/postgres.yaml"))
                .unwrap();
        cluster.metadata.generation = Some(3);
        cluster
    }

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn violation() -> Violation {
        Violation {
            field: "spec.backups.pgbackrest.repos[0].schedules.full".into(),
            rule: "not a cron schedule".into(),
        }
    }

    #[test]
    fn an_invalid_spec_lists_every_violation() {
        let condition = spec_valid(&cluster(), &[violation()], at(100));
        assert_eq!(condition.status, ConditionStatus::False);
        assert_eq!(condition.reason, "InvalidSpec");
        assert!(
            condition
                .message
                .contains("spec.backups.pgbackrest.repos[0].schedules.full: not a cron schedule")
        );
        assert_eq!(condition.observed_generation, Some(3));
    }

    #[test]
    fn the_transition_time_moves_only_when_the_status_does() {
        let mut cluster = cluster();
        let first = spec_valid(&cluster, &[], at(100));
        cluster.status = Some(PostgresClusterStatus {
            conditions: Some(vec![first.clone()]),
            ..Default::default()
        });
        let again = spec_valid(&cluster, &[], at(200));
        assert_eq!(again, first, "the same status twice is the same condition");
        assert!(!is_news(&cluster, &again));
        let broken = spec_valid(&cluster, &[violation()], at(300));
        assert_eq!(broken.last_transition_time, at(300));
        assert!(is_news(&cluster, &broken));
    }

    #[test]
    fn a_recorded_users_revision_is_kept_when_the_users_were_not_looked_at() {
        let mut cluster = cluster();
        cluster.status = Some(PostgresClusterStatus {
            users_revision: Some("abc".into()),
            ..PostgresClusterStatus::default()
        });
        assert_eq!(
            patch(&cluster, &[], Observed::default())["status"]["usersRevision"],
            "abc"
        );
        let observed = Observed {
            users_revision: Some("def"),
            ..Observed::default()
        };
        assert_eq!(
            patch(&cluster, &[], observed)["status"]["usersRevision"],
            "def"
        );
    }

    #[test]
    fn database_init_sql_is_kept_while_the_spec_has_it_and_dropped_with_it() {
        let mut cluster = cluster();
        cluster.status = Some(PostgresClusterStatus {
            database_init_sql: Some("init.sql".into()),
            ..PostgresClusterStatus::default()
        });
        assert!(
            patch(&cluster, &[], Observed::default())["status"]
                .get("databaseInitSQL")
                .is_none()
        );
        cluster.spec.database_init_sql = Some(tusk_api::cluster::DatabaseInitSql {
            name: "hippo-init-sql".into(),
            key: "init.sql".into(),
        });
        assert_eq!(
            patch(&cluster, &[], Observed::default())["status"]["databaseInitSQL"],
            "init.sql"
        );
    }
}
