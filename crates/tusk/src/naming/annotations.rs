//! Annotation keys users and Tusk put on objects.

/// On PgBouncer's pod template: a digest of what PgBouncer reads only when it starts (a change rolls it).
pub const PGBOUNCER_RESTART_HASH: &str = "postgres-operator.crunchydata.com/pgbouncer-restart-hash";
/// On a PostgresCluster: a new value requests a manual backup (`spec.backups.pgbackrest.manual`).
pub const PGBACKREST_BACKUP: &str = "postgres-operator.crunchydata.com/pgbackrest-backup";
/// On a PostgresCluster: a new value requests an in-place restore (`spec.backups.pgbackrest.restore`).
pub const PGBACKREST_RESTORE: &str = "postgres-operator.crunchydata.com/pgbackrest-restore";
/// On pgBackRest Jobs: the hash of the repository configuration they were made for.
pub const PGBACKREST_CONFIG_HASH: &str = "postgres-operator.crunchydata.com/pgbackrest-hash";
/// On a PostgresCluster: a new value requests a switchover (or failover) through Patroni.
pub const TRIGGER_SWITCHOVER: &str = "postgres-operator.crunchydata.com/trigger-switchover";
/// On a PostgresCluster: `"true"` creates a schema named after each user in each of its databases.
pub const AUTO_CREATE_USER_SCHEMA: &str = "postgres-operator.crunchydata.com/autoCreateUserSchema";
/// On a PostgresCluster: allows deleting volume repositories when backups are removed from the spec.
pub const AUTHORIZE_BACKUP_REMOVAL: &str =
    "postgres-operator.crunchydata.com/authorizeBackupRemoval";
/// The finalizer of objects whose clean-up owner references cannot do.
pub const FINALIZER: &str = "postgres-operator.crunchydata.com/finalizer";
/// Tusk's mark on a failed `databaseInitSQL` Job whose failure was reported as an event.
pub const INIT_SQL_FAILURE_REPORTED: &str =
    "postgres-operator.crunchydata.com/init-sql-failure-reported";

/// Where Patroni's Kubernetes DCS records, on the `<c>-ha-config` Endpoints, that the cluster was initialized
/// (the system identifier).
pub const PATRONI_INITIALIZE: &str = "initialize";

/// Where Patroni's Kubernetes DCS keeps its dynamic configuration (JSON) on the `<c>-ha-config` Endpoints.
pub const PATRONI_DYNAMIC_CONFIGURATION: &str = "config";
