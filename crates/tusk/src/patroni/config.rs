//! Patroni's configuration files, as PGO splits them: the cluster's part (`<c>-config`, the same for every
//! instance) and each instance's part (`<instance>-config`). Patroni reads both from the directory
//! `/etc/patroni`, where the pod mounts them with the instance's certificate.
//!
//! The files are JSON, which is YAML too: Patroni's YAML 1.1 parser reads it exactly, with no implicit typing
//! of values such as `on` or `no`, so what Tusk writes is what Patroni gets.

use crate::naming::{labels, names};
use crate::postgres::{
    self, OPERATOR_USER, REPLICATION_USER, SUPERUSER, TLS_MOUNT, hba, parameters, users,
};
use serde_json::{Map, Value, json};
use tusk_api::PostgresCluster;

/// Where the pod mounts Patroni's configuration directory.
pub const CONFIG_DIRECTORY: &str = "/etc/patroni";
/// The file name of the cluster's part in [`CONFIG_DIRECTORY`].
pub const CLUSTER_FILE: &str = "~postgres-operator_cluster.yaml";
/// The file name of the instance's part in [`CONFIG_DIRECTORY`].
pub const INSTANCE_FILE: &str = "~postgres-operator_instance.yaml";
/// The key of both parts in their ConfigMaps.
pub const CONFIG_MAP_KEY: &str = "patroni.yaml";
/// The CA bundle that Patroni's REST API and `patronictl` trust (in [`CONFIG_DIRECTORY`]).
pub const CA_FILE: &str = "/etc/patroni/~postgres-operator/patroni.ca-roots";
/// The instance's certificate followed by its key, for Patroni's REST API.
pub const CERTIFICATE_FILE: &str = "/etc/patroni/~postgres-operator/patroni.crt-combined";

/// The cluster's part of Patroni's configuration.
pub fn cluster_file(cluster: &PostgresCluster) -> String {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let replication = json!({
        "username": REPLICATION_USER,
        "sslmode": "verify-ca",
        "sslcert": format!("{TLS_MOUNT}/replication/tls.crt"),
        "sslkey": format!("{TLS_MOUNT}/replication/tls.key"),
        "sslrootcert": format!("{TLS_MOUNT}/replication/ca.crt"),
    });
    let config = json!({
        "scope": names::patroni_scope(name),
        "kubernetes": {
            "namespace": cluster.metadata.namespace.clone().unwrap_or_default(),
            "labels": labels::cluster(name),
            "role_label": labels::ROLE,
            "scope_label": labels::PATRONI,
            "leader_label_value": labels::ROLE_PATRONI_LEADER,
            "standby_leader_label_value": labels::ROLE_PATRONI_LEADER,
            "use_endpoints": true,
        },
        "postgresql": {
            "authentication": {
                "superuser": {"username": SUPERUSER},
                "replication": replication,
                "rewind": replication,
            },
        },
        "restapi": {
            "cafile": CA_FILE,
            "certfile": CERTIFICATE_FILE,
            "verify_client": "optional",
        },
        "ctl": {
            "cacert": CA_FILE,
            "certfile": CERTIFICATE_FILE,
            "insecure": false,
        },
        "watchdog": {"mode": "off"},
        "bootstrap": {"dcs": dynamic_configuration(cluster)},
    });
    to_text(&config)
}

/// One instance's part of Patroni's configuration: its name and addresses, and how it creates its data.
pub fn instance_file(cluster: &PostgresCluster, instance: &str, has_wal_volume: bool) -> String {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let pod = names::instance_pod(instance);
    let host = format!("{pod}.{}", names::pods_service(name));
    let version = cluster.spec.postgres_version;
    let patroni_port = patroni_port(cluster);
    let mut initdb = vec![json!("data-checksums"), json!({"encoding": "UTF8"})];
    // A new replica's pg_basebackup asks the primary for a fast checkpoint: the default, spread, waits for
    // up to checkpoint_completion_target × checkpoint_timeout (4.5 minutes) on an idle primary.
    let mut basebackup = vec![json!({"checkpoint": "fast"})];
    if has_wal_volume {
        initdb.push(json!({"waldir": postgres::wal_directory(version)}));
        basebackup.push(json!({"waldir": postgres::wal_directory(version)}));
    }
    let mut postgresql = json!({
        "listen": format!("*:{}", cluster.spec.port),
        "connect_address": format!("{host}:{}", cluster.spec.port),
        "data_dir": postgres::data_directory(version),
        "config_dir": postgres::data_directory(version),
        "pgpass": "/tmp/.pgpass",
        "use_unix_socket": true,
        "create_replica_methods": ["basebackup"],
        "basebackup": basebackup,
    });
    if let Some(method) = pgbackrest_replica_method(cluster, has_wal_volume) {
        postgresql["create_replica_methods"] = json!(["pgbackrest", "basebackup"]);
        postgresql["pgbackrest"] = method;
    }
    let mut bootstrap = json!({"initdb": initdb, "post_bootstrap": post_bootstrap()});
    let method = crate::pgbackrest::restore::bootstrap_method(cluster)
        .or_else(|| crate::adopt::bootstrap_method(cluster));
    if let Some((method, settings)) = method {
        bootstrap["method"] = method.into();
        bootstrap[method] = settings;
    }
    let config = json!({
        "name": pod,
        "postgresql": postgresql,
        "restapi": {
            "listen": format!("0.0.0.0:{patroni_port}"),
            "connect_address": format!("{host}:{patroni_port}"),
        },
        "bootstrap": bootstrap,
    });
    to_text(&config)
}

/// Patroni's `pgbackrest` replica method, for a cluster with repositories: a new replica (or one Patroni
/// reinitializes) is restored from the latest backup of the first repository (a standby's from its
/// `standby.repoName`) with `--delta`, keeping what it has (`keep_data`), and then replays WAL from the archive
/// and the primary, instead of copying the whole database from the primary. Patroni falls back to
/// `pg_basebackup` when it fails (no backup yet, say). The command holds no user input.
///
/// pgBackRest refuses to restore over a data directory with a `postmaster.pid`, and a PostgreSQL that was
/// killed, or crashed and could not start again (the members Patroni reinitializes), leaves one behind:
/// Patroni would then delete the data directory and copy it all with `pg_basebackup`. Patroni stops
/// PostgreSQL before it creates a replica, so the file is removed when the process it names is not a running
/// `postgres` of this pod (checked by its `comm`, as PIDs are reused after the container restarts).
fn pgbackrest_replica_method(cluster: &PostgresCluster, has_wal_volume: bool) -> Option<Value> {
    let repo = match &cluster.spec.standby {
        Some(standby) if standby.enabled => standby.repo_name.clone(),
        _ => cluster.spec.backups.pgbackrest.repos.first()?.name.clone(),
    };
    let number = repo.strip_prefix("repo")?.parse::<u8>().ok()?;
    let version = cluster.spec.postgres_version;
    let data = postgres::data_directory(version);
    let mut restore = format!(
        "pgbackrest restore --stanza={} --repo={number} --delta --type=standby \
         --log-level-console=info --log-level-file=off",
        crate::pgbackrest::STANZA
    );
    if has_wal_volume {
        restore.push_str(&format!(
            " --link-map=pg_wal={}",
            postgres::wal_directory(version)
        ));
    }
    // `no_leader` (Patroni 3; `no_master` before): the method works without a running leader, which a standby
    // leader never has; Patroni skips other methods then.
    Some(json!({
        "command": format!(
            "sh -c 'install -d -m 0700 {data} && {{ {} }} && exec {restore}'",
            remove_stale_pid_file(&data)
        ),
        "keep_data": true,
        "no_params": true,
        "no_leader": true,
        "no_master": true,
    }))
}

/// Shell (to go inside single quotes) that removes `<data>/postmaster.pid` unless the process it names is a
/// running `postgres`.
fn remove_stale_pid_file(data: &str) -> String {
    let pid_file = format!("{data}/postmaster.pid");
    format!(
        "pid=$(head -n 1 {pid_file} 2>/dev/null); [ -z \"$pid\" ] || \
         grep -qx postgres /proc/$pid/comm 2>/dev/null || rm -f {pid_file};"
    )
}

/// What Patroni runs once, after `initdb` or a restore, as the superuser: it makes the role the operator logs
/// in as (by certificate). A restored cluster may have it already (a clone of a Tusk cluster), so it is
/// created unless it exists, then given its attributes. Patroni appends a connection string, which becomes
/// psql's `--dbname`.
pub fn post_bootstrap() -> String {
    let role = users::quote_identifier(OPERATOR_USER);
    format!(
        "psql -Xq -v ON_ERROR_STOP=1 \
         -c 'DO $$BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object THEN NULL; END$$' \
         -c 'ALTER ROLE {role} WITH LOGIN SUPERUSER' --dbname"
    )
}

/// The port of Patroni's REST API.
pub fn patroni_port(cluster: &PostgresCluster) -> i32 {
    cluster.spec.patroni.as_ref().map_or(8008, |p| p.port)
}

/// Patroni's dynamic configuration (its DCS `config`): the user's `dynamicConfiguration` with Tusk's timing,
/// parameters and `pg_hba` rules, and the standby settings from `spec.standby`.
pub fn dynamic_configuration(cluster: &PostgresCluster) -> Map<String, Value> {
    let patroni = cluster.spec.patroni.clone().unwrap_or_default();
    let mut dcs = patroni.dynamic_configuration.unwrap_or_default();
    dcs.insert("ttl".into(), patroni.leader_lease_duration_seconds.into());
    dcs.insert("loop_wait".into(), patroni.sync_period_seconds.into());
    let mut postgresql = Map::new();
    postgresql.insert(
        "use_pg_rewind".into(),
        (cluster.spec.postgres_version > 10).into(),
    );
    postgresql.insert("use_slots".into(), false.into());
    if let Some(Value::Object(user)) = dcs.get("postgresql") {
        postgresql.extend(user.clone());
    }
    postgresql.insert("parameters".into(), parameters::parameters(cluster).into());
    postgresql.insert("pg_hba".into(), hba::rules(cluster).into());
    dcs.insert("postgresql".into(), postgresql.into());
    match &cluster.spec.standby {
        Some(standby) if standby.enabled => {
            dcs.insert(
                "standby_cluster".into(),
                json!({
                    "create_replica_methods": ["pgbackrest"],
                    "restore_command": parameters::RESTORE_COMMAND,
                }),
            );
        }
        _ => {
            dcs.remove("standby_cluster");
        }
    }
    dcs
}

fn to_text(config: &Value) -> String {
    let mut text = serde_json::to_string_pretty(config).expect("JSON values serialize");
    text.push('\n');
    text
}

/// Keys of Patroni's dynamic configuration that its users set at run time and the spec leaves alone: `pause`
/// (`patronictl pause`, maintenance mode). The operator writes the spec's configuration whole, so without
/// this a paused cluster would be resumed within seconds — while someone works on it.
const RUNTIME_KEYS: &[&str] = &["pause"];

/// `wanted` with the [`RUNTIME_KEYS`] that `current` (Patroni's configuration as it is) holds and `wanted`
/// does not: what writing the spec's configuration must keep.
pub fn keeping_runtime_keys(mut wanted: Map<String, Value>, current: &Value) -> Value {
    for key in RUNTIME_KEYS {
        if let Some(value) = current.get(*key)
            && !wanted.contains_key(*key)
        {
            wanted.insert((*key).into(), value.clone());
        }
    }
    Value::Object(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(extra: &str) -> PostgresCluster {
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo, namespace: zoo}}
spec:
  postgresVersion: 15
  {extra}
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn a_pause_set_at_run_time_survives_the_specs_configuration() {
        let wanted: Map<String, Value> = serde_json::from_str(r#"{"ttl": 30}"#).unwrap();
        let paused = serde_json::json!({"ttl": 30, "pause": true});
        assert_eq!(keeping_runtime_keys(wanted.clone(), &paused), paused);
        let running = serde_json::json!({"ttl": 10});
        assert_eq!(
            keeping_runtime_keys(wanted.clone(), &running),
            serde_json::json!({"ttl": 30})
        );
        let mut resumed = wanted;
        resumed.insert("pause".into(), false.into());
        assert_eq!(
            keeping_runtime_keys(resumed, &paused),
            serde_json::json!({"ttl": 30, "pause": false}),
            "a pause the spec sets wins"
        );
    }

    #[test]
    fn cluster_file_uses_the_kubernetes_dcs_with_pgo_labels() {
        let config = parse(&cluster_file(&cluster("")));
        assert_eq!(config["scope"], "hippo-ha");
        let kubernetes = &config["kubernetes"];
        assert_eq!(kubernetes["namespace"], "zoo");
        assert_eq!(kubernetes["use_endpoints"], true);
        assert_eq!(kubernetes["role_label"], labels::ROLE);
        assert_eq!(kubernetes["scope_label"], labels::PATRONI);
        assert_eq!(kubernetes["labels"][labels::CLUSTER], "hippo");
        assert_eq!(
            config["postgresql"]["authentication"]["replication"]["username"],
            "_crunchyrepl"
        );
        assert_eq!(config["restapi"]["certfile"], CERTIFICATE_FILE);
    }

    #[test]
    fn dynamic_configuration_keeps_the_users_keys_and_tusks_rules() {
        let dcs = dynamic_configuration(&cluster(
            "patroni: {leaderLeaseDurationSeconds: 45, dynamicConfiguration: {synchronous_mode: true, \
             postgresql: {use_slots: true, parameters: {work_mem: 4MB}, pg_hba: [\"hostssl all all all md5\"]}}}",
        ));
        assert_eq!(dcs["ttl"], 45);
        assert_eq!(dcs["loop_wait"], 10);
        assert_eq!(dcs["synchronous_mode"], true);
        let postgresql = &dcs["postgresql"];
        assert_eq!(
            postgresql["use_slots"], true,
            "the user's keys win over Tusk's defaults"
        );
        assert_eq!(postgresql["use_pg_rewind"], true);
        assert_eq!(postgresql["parameters"]["work_mem"], "4MB");
        assert_eq!(postgresql["parameters"]["ssl"], "on");
        let hba = postgresql["pg_hba"].as_array().expect("rules");
        assert_eq!(hba.last(), Some(&json!("hostssl all all all md5")));
        assert_eq!(hba[0], json!(r#"local all "postgres" peer"#));
        assert!(dcs.get("standby_cluster").is_none());
    }

    #[test]
    fn a_standby_restores_from_its_repository() {
        let dcs = dynamic_configuration(&cluster("standby: {repoName: repo1}"));
        assert_eq!(
            dcs["standby_cluster"]["restore_command"],
            parameters::RESTORE_COMMAND
        );
    }

    #[test]
    fn instance_file_names_the_pod_and_its_addresses() {
        let config = parse(&instance_file(&cluster(""), "hippo-instance1-x2bc", true));
        assert_eq!(config["name"], "hippo-instance1-x2bc-0");
        assert_eq!(
            config["postgresql"]["connect_address"],
            "hippo-instance1-x2bc-0.hippo-pods:5432"
        );
        assert_eq!(
            config["restapi"]["connect_address"],
            "hippo-instance1-x2bc-0.hippo-pods:8008"
        );
        assert_eq!(config["postgresql"]["data_dir"], "/pgdata/pg15");
        assert_eq!(
            config["bootstrap"]["initdb"][2]["waldir"],
            "/pgwal/pg15_wal"
        );
        assert_eq!(
            config["bootstrap"]["post_bootstrap"],
            r#"psql -Xq -v ON_ERROR_STOP=1 -c 'DO $$BEGIN CREATE ROLE "_tusk"; EXCEPTION WHEN duplicate_object THEN NULL; END$$' -c 'ALTER ROLE "_tusk" WITH LOGIN SUPERUSER' --dbname"#
        );
        assert!(config["bootstrap"].get("method").is_none(), "initdb");
        assert_eq!(
            config["postgresql"]["basebackup"],
            json!([{"checkpoint": "fast"}, {"waldir": "/pgwal/pg15_wal"}])
        );
        assert_eq!(
            config["postgresql"]["create_replica_methods"],
            json!(["pgbackrest", "basebackup"])
        );
        assert_eq!(
            config["postgresql"]["pgbackrest"]["command"],
            "sh -c 'install -d -m 0700 /pgdata/pg15 && { pid=$(head -n 1 /pgdata/pg15/postmaster.pid \
             2>/dev/null); [ -z \"$pid\" ] || grep -qx postgres /proc/$pid/comm 2>/dev/null || \
             rm -f /pgdata/pg15/postmaster.pid; } && exec pgbackrest restore --stanza=db --repo=1 \
             --delta --type=standby --log-level-console=info --log-level-file=off \
             --link-map=pg_wal=/pgwal/pg15_wal'"
        );
        assert_eq!(config["postgresql"]["pgbackrest"]["keep_data"], true);
        assert_eq!(config["postgresql"]["pgbackrest"]["no_leader"], true);
        let without_wal = parse(&instance_file(&cluster(""), "hippo-instance1-x2bc", false));
        assert_eq!(
            without_wal["bootstrap"]["initdb"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn a_stale_pid_file_goes_but_a_running_postgres_keeps_it() {
        let dir = std::env::temp_dir().join(format!("tusk-pid-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let data = dir.to_str().expect("UTF-8");
        let pid_file = dir.join("postmaster.pid");
        let run = || {
            let status = std::process::Command::new("sh")
                .args(["-c", &remove_stale_pid_file(data)])
                .status()
                .expect("sh runs");
            assert!(status.success());
        };
        // No file: nothing to do.
        run();
        // A PID that is not a postgres (this test) or not running: stale.
        for pid in [std::process::id(), u32::MAX / 2] {
            std::fs::write(&pid_file, format!("{pid}\n{data}\n")).expect("pid file");
            run();
            assert!(!pid_file.exists(), "the stale file of {pid} is removed");
        }
        // A running process named postgres keeps it.
        let postgres = dir.join("postgres");
        std::fs::copy("/bin/sleep", &postgres).expect("a copy of sleep named postgres");
        let mut running = std::process::Command::new(&postgres)
            .arg("30")
            .spawn()
            .expect("it runs");
        std::fs::write(&pid_file, format!("{}\n", running.id())).expect("pid file");
        run();
        let kept = pid_file.exists();
        let _ = running.kill();
        let _ = running.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(kept, "the file of a running postgres stays");
    }
}
