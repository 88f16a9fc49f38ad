//! Label keys and values, and the label sets of each kind of object.

use std::collections::BTreeMap;

/// The prefix of every label and annotation key Tusk sets.
pub const PREFIX: &str = "postgres-operator.crunchydata.com/";

/// The cluster an object belongs to (value: the cluster name). On every object Tusk creates.
pub const CLUSTER: &str = "postgres-operator.crunchydata.com/cluster";
/// The instance set of an instance's objects (value: the set name).
pub const INSTANCE_SET: &str = "postgres-operator.crunchydata.com/instance-set";
/// The instance of an object (value: the instance name, which is also its StatefulSet's).
pub const INSTANCE: &str = "postgres-operator.crunchydata.com/instance";
/// What an object is for; see the `ROLE_*` values. Patroni sets it on instance pods.
pub const ROLE: &str = "postgres-operator.crunchydata.com/role";
/// Marks pods and volumes that hold data; see the `DATA_*` values.
pub const DATA: &str = "postgres-operator.crunchydata.com/data";
/// The Patroni scope of an instance pod (value: `<cluster>-ha`). Patroni sets it.
pub const PATRONI: &str = "postgres-operator.crunchydata.com/patroni";
/// The PostgreSQL user a Secret is for (value: the user name).
pub const POSTGRES_USER: &str = "postgres-operator.crunchydata.com/pguser";
/// Marks a Secret that holds the cluster's certificate (value: [`CLUSTER_CERTIFICATE_POSTGRES_TLS`]).
pub const CLUSTER_CERTIFICATE: &str = "postgres-operator.crunchydata.com/cluster-certificate";
/// Marks pods Prometheus should scrape for the exporter (value: `true`).
pub const EXPORTER_DISCOVERY: &str = "postgres-operator.crunchydata.com/crunchy-postgres-exporter";
/// The instance that starts first when a cluster starts or restarts.
pub const STARTUP_INSTANCE: &str = "postgres-operator.crunchydata.com/startup-instance";

/// Marks every pgBackRest object (empty value).
pub const PGBACKREST: &str = "postgres-operator.crunchydata.com/pgbackrest";
/// The pgBackRest repository an object is for (value: `repo1`..`repo4`).
pub const PGBACKREST_REPO: &str = "postgres-operator.crunchydata.com/pgbackrest-repo";
/// Marks a repository's volume (empty value).
pub const PGBACKREST_VOLUME: &str = "postgres-operator.crunchydata.com/pgbackrest-volume";
/// Marks the pgBackRest configuration Tusk generates (empty value).
pub const PGBACKREST_CONFIG: &str = "postgres-operator.crunchydata.com/pgbackrest-config";
/// Marks the dedicated repository host (empty value).
pub const PGBACKREST_DEDICATED: &str = "postgres-operator.crunchydata.com/pgbackrest-dedicated";
/// The kind of backup a Job takes; see the `BACKUP_*` values.
pub const PGBACKREST_BACKUP: &str = "postgres-operator.crunchydata.com/pgbackrest-backup";
/// The backup type of a schedule's CronJob (value: `full`, `diff` or `incr`).
pub const PGBACKREST_CRONJOB: &str = "postgres-operator.crunchydata.com/pgbackrest-cronjob";
/// Marks the Job that creates the stanza in the repositories (empty value).
pub const PGBACKREST_STANZA: &str = "postgres-operator.crunchydata.com/pgbackrest-stanza";
/// Marks a restore Job (empty value).
pub const PGBACKREST_RESTORE: &str = "postgres-operator.crunchydata.com/pgbackrest-restore";
/// Marks a Job that moves an adopted volume's data to where Tusk expects it (empty value).
pub const MOVE_JOB: &str = "postgres-operator.crunchydata.com/move-job";
/// Marks the Job that moves an adopted data volume's directory (empty value).
pub const MOVE_PGDATA_DIR: &str = "postgres-operator.crunchydata.com/move-pgdata-dir";
/// Marks the Job that moves an adopted repository volume's directory into place (PGO's label).
pub const MOVE_PGBACKREST_REPO_DIR: &str =
    "postgres-operator.crunchydata.com/move-pgbackrest-repo-dir";

/// [`ROLE`] of the primary's Service and of pods Patroni made the leader (Patroni writes `master`).
pub const ROLE_PRIMARY: &str = "primary";
/// [`ROLE`] Patroni sets on the leader pod.
pub const ROLE_PATRONI_LEADER: &str = "master";
/// [`ROLE`] Patroni sets on pods that follow the leader, and of the replicas' Service.
pub const ROLE_REPLICA: &str = "replica";
/// [`ROLE`] of PgBouncer objects.
pub const ROLE_PGBOUNCER: &str = "pgbouncer";
/// [`ROLE`] of PostgreSQL data volumes.
pub const ROLE_PGDATA: &str = "pgdata";
/// [`ROLE`] of PostgreSQL WAL volumes.
pub const ROLE_PGWAL: &str = "pgwal";
/// [`ROLE`] of user Secrets.
pub const ROLE_PGUSER: &str = "pguser";
/// [`ROLE`] of monitoring objects.
pub const ROLE_MONITORING: &str = "monitoring";

/// [`DATA`] of instance pods and their volumes.
pub const DATA_POSTGRES: &str = "postgres";
/// [`DATA`] of repository volumes and the repository host.
pub const DATA_PGBACKREST: &str = "pgbackrest";

/// [`PGBACKREST_BACKUP`] of manual backup Jobs.
pub const BACKUP_MANUAL: &str = "manual";
/// [`PGBACKREST_BACKUP`] of the backup Job that lets replicas be created from a backup.
pub const BACKUP_REPLICA_CREATE: &str = "replica-create";
/// [`PGBACKREST_BACKUP`] of scheduled backups.
pub const BACKUP_SCHEDULED: &str = "scheduled";

/// [`CLUSTER_CERTIFICATE`] of the cluster's TLS Secret.
pub const CLUSTER_CERTIFICATE_POSTGRES_TLS: &str = "postgres-tls";

/// A set of labels, sorted by key.
pub type Labels = BTreeMap<String, String>;

fn set<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The label every object of `cluster` carries.
pub fn cluster(cluster: &str) -> Labels {
    set([(CLUSTER, cluster)])
}

/// The labels of one instance's StatefulSet, pod and configuration.
pub fn instance(cluster: &str, instance_set: &str, instance: &str) -> Labels {
    set([
        (CLUSTER, cluster),
        (INSTANCE_SET, instance_set),
        (INSTANCE, instance),
    ])
}

/// The labels of one instance's volume of `role` ([`ROLE_PGDATA`] or [`ROLE_PGWAL`]).
pub fn instance_volume(cluster: &str, instance_set: &str, instance: &str, role: &str) -> Labels {
    let mut labels = self::instance(cluster, instance_set, instance);
    labels.extend(set([(ROLE, role), (DATA, DATA_POSTGRES)]));
    labels
}

/// Tusk's label of the Jobs (and their client certificate Secrets) that run `spec.databaseInitSQL`; its
/// value is the revision of the SQL the Job runs.
pub const DATABASE_INIT_SQL: &str = "postgres-operator.crunchydata.com/database-init-sql";

/// The labels of the Job (and its Secret) that runs revision `revision` of the cluster's init SQL.
pub fn database_init_sql(cluster: &str, revision: &str) -> Labels {
    set([(CLUSTER, cluster), (DATABASE_INIT_SQL, revision)])
}

/// The labels of a user's Secret.
pub fn user_secret(cluster: &str, user: &str) -> Labels {
    set([
        (CLUSTER, cluster),
        (ROLE, ROLE_PGUSER),
        (POSTGRES_USER, user),
    ])
}

/// The labels of the cluster's TLS certificate Secret `<cluster>-cluster-cert`.
pub fn cluster_certificate(cluster: &str) -> Labels {
    set([
        (CLUSTER, cluster),
        (CLUSTER_CERTIFICATE, CLUSTER_CERTIFICATE_POSTGRES_TLS),
    ])
}

/// The labels of an instance's certificate Secret `<instance>-certs` (its instance set is not needed to find
/// it, and the certificates do not depend on it).
pub fn instance_certificates(cluster: &str, instance: &str) -> Labels {
    set([(CLUSTER, cluster), (INSTANCE, instance)])
}

/// The labels every pgBackRest object carries.
pub fn pgbackrest(cluster: &str) -> Labels {
    set([(CLUSTER, cluster), (PGBACKREST, "")])
}

/// The labels of a repository's objects.
pub fn pgbackrest_repo(cluster: &str, repo: &str) -> Labels {
    let mut labels = pgbackrest(cluster);
    labels.insert(PGBACKREST_REPO.into(), repo.into());
    labels
}

/// The labels of a repository's volume.
pub fn pgbackrest_repo_volume(cluster: &str, repo: &str) -> Labels {
    let mut labels = pgbackrest_repo(cluster, repo);
    labels.extend(set([(PGBACKREST_VOLUME, ""), (DATA, DATA_PGBACKREST)]));
    labels
}

/// The labels of the pgBackRest configuration Tusk generates.
pub fn pgbackrest_config(cluster: &str) -> Labels {
    let mut labels = pgbackrest(cluster);
    labels.insert(PGBACKREST_CONFIG.into(), String::new());
    labels
}

/// The labels of the dedicated repository host.
pub fn pgbackrest_dedicated(cluster: &str) -> Labels {
    let mut labels = pgbackrest(cluster);
    labels.insert(PGBACKREST_DEDICATED.into(), String::new());
    labels
}

/// The labels of a backup Job of `kind` ([`BACKUP_MANUAL`], [`BACKUP_REPLICA_CREATE`]).
pub fn pgbackrest_backup_job(cluster: &str, repo: &str, kind: &str) -> Labels {
    let mut labels = pgbackrest_repo(cluster, repo);
    labels.insert(PGBACKREST_BACKUP.into(), kind.into());
    labels
}

/// The labels of the Job that creates the stanza in the repositories.
pub fn pgbackrest_stanza_job(cluster: &str) -> Labels {
    let mut labels = pgbackrest(cluster);
    labels.insert(PGBACKREST_STANZA.into(), String::new());
    labels
}

/// The labels of a backup schedule's CronJob (`backup_type`: `full`, `diff` or `incr`).
pub fn pgbackrest_cronjob(cluster: &str, repo: &str, backup_type: &str) -> Labels {
    let mut labels = pgbackrest_backup_job(cluster, repo, BACKUP_SCHEDULED);
    labels.insert(PGBACKREST_CRONJOB.into(), backup_type.into());
    labels
}

/// The labels of a restore Job.
pub fn pgbackrest_restore(cluster: &str) -> Labels {
    let mut labels = pgbackrest(cluster);
    labels.insert(PGBACKREST_RESTORE.into(), String::new());
    labels
}

/// The labels of the Job that moves an adopted data volume's directory into place.
pub fn move_pgdata_job(cluster: &str) -> Labels {
    let mut labels = self::cluster(cluster);
    labels.insert(MOVE_JOB.into(), String::new());
    labels.insert(MOVE_PGDATA_DIR.into(), String::new());
    labels
}

/// The labels of the Job that moves an adopted repository volume's directory into place.
pub fn move_pgbackrest_repo_job(cluster: &str) -> Labels {
    let mut labels = self::cluster(cluster);
    labels.insert(MOVE_JOB.into(), String::new());
    labels.insert(MOVE_PGBACKREST_REPO_DIR.into(), String::new());
    labels
}

/// The labels of PgBouncer's objects.
pub fn pgbouncer(cluster: &str) -> Labels {
    set([(CLUSTER, cluster), (ROLE, ROLE_PGBOUNCER)])
}

/// The labels of the monitoring objects (the monitoring Secret, the exporter's queries).
pub fn monitoring(cluster: &str) -> Labels {
    set([(CLUSTER, cluster), (ROLE, ROLE_MONITORING)])
}

/// Merges label sets; later sets win where keys collide.
pub fn merge<'a>(sets: impl IntoIterator<Item = &'a Labels>) -> Labels {
    sets.into_iter()
        .flat_map(|labels| labels.iter().map(|(k, v)| (k.clone(), v.clone())))
        .collect()
}

/// A label selector that matches exactly `labels`: `key=value,key2=value2`.
pub fn selector(labels: &Labels) -> String {
    labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_pgo_prefix() {
        for key in [
            CLUSTER,
            INSTANCE_SET,
            INSTANCE,
            ROLE,
            DATA,
            PATRONI,
            POSTGRES_USER,
            CLUSTER_CERTIFICATE,
            EXPORTER_DISCOVERY,
            STARTUP_INSTANCE,
            PGBACKREST,
            PGBACKREST_REPO,
            PGBACKREST_VOLUME,
            PGBACKREST_CONFIG,
            PGBACKREST_DEDICATED,
            PGBACKREST_BACKUP,
            PGBACKREST_CRONJOB,
            PGBACKREST_RESTORE,
        ] {
            assert!(key.starts_with(PREFIX), "{key}");
        }
    }

    #[test]
    fn sets_are_those_pgo_selects_by() {
        assert_eq!(
            selector(&instance_volume(
                "hippo",
                "instance1",
                "hippo-instance1-abcd",
                ROLE_PGDATA
            )),
            "postgres-operator.crunchydata.com/cluster=hippo,postgres-operator.crunchydata.com/data=postgres,\
             postgres-operator.crunchydata.com/instance=hippo-instance1-abcd,\
             postgres-operator.crunchydata.com/instance-set=instance1,postgres-operator.crunchydata.com/role=pgdata"
        );
        let cronjob = pgbackrest_cronjob("hippo", "repo1", "full");
        assert_eq!(cronjob[PGBACKREST_BACKUP], BACKUP_SCHEDULED);
        assert_eq!(cronjob[PGBACKREST_CRONJOB], "full");
        assert_eq!(cronjob[PGBACKREST_REPO], "repo1");
        assert_eq!(cronjob[PGBACKREST], "");
        assert_eq!(user_secret("hippo", "rhino")[POSTGRES_USER], "rhino");
    }

    #[test]
    fn later_sets_win_a_merge() {
        let user = set([("team", "a"), (CLUSTER, "spoofed")]);
        let ours = cluster("hippo");
        let merged = merge([&user, &ours]);
        assert_eq!(merged[CLUSTER], "hippo");
        assert_eq!(merged["team"], "a");
    }
}
