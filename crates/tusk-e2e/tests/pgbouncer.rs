//! Issue #7, PgBouncer (docs: Connection Pooling): hippo with two instances and `spec.proxy.pgBouncer`
//! (`pool_mode: transaction`, one server connection per pool). A client connects with the user Secret's
//! `pgbouncer-uri` and `verify-full` against the cluster CA; transaction pooling lets a second client in while
//! the first holds its session; PgBouncer looks the user up in PostgreSQL (no password copied into it), so a new
//! password set through the Secret logs in through PgBouncer and the old one no longer does; after the primary
//! fails, clients through PgBouncer write again; removing `spec.proxy` removes PgBouncer's objects, the Secret
//! keys and its role in PostgreSQL.

use std::time::{Duration, Instant};
use tusk_e2e::client::Client;
use tusk_e2e::{get_json, hippo, kubectl, psql_in, secret_field, wait_for};

const NAMESPACE: &str = "tusk-e2e-pgbouncer";

const PROXY: &str = "  proxy:
    pgBouncer:
      replicas: 1
      config:
        global:
          pool_mode: transaction
          default_pool_size: \"1\"
";

/// A client loop through PgBouncer with the password `$1`: a new connection about every 100 ms until
/// `/tmp/rolling-stop` exists (or three minutes passed); prints `ok <n>` or `fail <n> <error>` per attempt.
const ROLLING_LOAD: &str = r#"rm -f /tmp/rolling-stop
uri="postgresql://$(cat /user/user):$1@$(cat /user/pgbouncer-host):$(cat /user/pgbouncer-port)/$(cat /user/dbname)"
n=0
while [ ! -e /tmp/rolling-stop ] && [ "$n" -lt 1800 ]; do
  n=$((n+1))
  if timeout 5 psql "$uri" -XAtq -v ON_ERROR_STOP=1 -c 'select 1' >/dev/null 2>/tmp/rolling-error; then
    echo "ok $n"
  else
    echo "fail $n $(head -c 160 /tmp/rolling-error | tr '\n' ' ')"
  fi
  sleep 0.1
done"#;

/// Runs `sql` through PgBouncer with the Secret's `pgbouncer-uri` (its password unless `password` is given);
/// psql's output, trimmed.
fn through_pgbouncer(client: &Client, sql: &str, password: Option<&str>) -> anyhow::Result<String> {
    let script = r#"uri="$(cat /user/pgbouncer-uri)"
if [ -n "$2" ]; then uri="postgresql://$(cat /user/user):$2@$(cat /user/pgbouncer-host):$(cat /user/pgbouncer-port)/$(cat /user/dbname)"; fi
exec timeout 20 psql "$uri" -XAtq -v ON_ERROR_STOP=1 -c "$1""#;
    Ok(client
        .sh(script, &[sql, password.unwrap_or("")])?
        .trim()
        .to_string())
}

/// PgBouncer's pods, as `kubectl get -o json` lists them.
fn pgbouncer_pods() -> anyhow::Result<serde_json::Value> {
    get_json(
        NAMESPACE,
        &[
            "pods",
            "-l",
            "postgres-operator.crunchydata.com/role=pgbouncer",
        ],
    )
}

fn deployment_exists() -> bool {
    kubectl(&[
        "-n",
        NAMESPACE,
        "get",
        "deployment",
        "hippo-pgbouncer",
        "--ignore-not-found",
        "-o",
        "name",
    ])
    .is_ok_and(|out| !out.trim().is_empty())
}

#[test]
fn pgbouncer_pools_over_tls_follows_passwords_and_failovers_and_goes_with_the_spec() {
    let (_namespace, leader, _) = hippo::start(NAMESPACE, 2, PROXY);
    let ready = wait_for("PgBouncer's pod Ready", Duration::from_secs(240), || {
        let deployment = get_json(NAMESPACE, &["deployment", "hippo-pgbouncer"])?;
        Ok((deployment["status"]["readyReplicas"].as_i64() == Some(1)).then_some(()))
    });
    ready.expect("PgBouncer runs");
    let uri = secret_field(NAMESPACE, "hippo-pguser-hippo", "pgbouncer-uri").expect("the Secret");
    assert!(
        uri.contains(&format!("@hippo-pgbouncer.{NAMESPACE}.svc:5432/hippo")),
        "{uri}"
    );
    let client = Client::start(NAMESPACE).expect("the client pod");

    // verify-full against the cluster CA, through PgBouncer to the primary.
    let started = Instant::now();
    let answer = wait_for(
        "a query through PgBouncer",
        Duration::from_secs(120),
        || {
            Ok(through_pgbouncer(
                &client,
                "select current_user || '|' || not pg_is_in_recovery()",
                None,
            )
            .ok())
        },
    )
    .expect("PgBouncer answers");
    assert_eq!(answer, "hippo|true");
    eprintln!(
        "e2e: through PgBouncer with verify-full as hippo on the primary ({:.1?} after the client started)",
        started.elapsed()
    );
    through_pgbouncer(
        &client,
        "create table bounced (n int); insert into bounced values (1)",
        None,
    )
    .expect("writes through PgBouncer");
    for database in ["hippo", "template1", "postgres"] {
        let functions = tusk_e2e::psql_in_database(
            NAMESPACE,
            &leader.pod,
            database,
            "select count(*) from pg_proc where proname = 'get_auth'",
        )
        .expect("psql in the database");
        assert_eq!(functions.trim(), "1", "the lookup function in {database}");
    }

    // Transaction pooling with one server connection: a second client gets in while the first keeps its session.
    let pooled = client
        .sh(
            r#"uri="$(cat /user/pgbouncer-uri)"
psql "$uri" -XAtq -c 'select 1' -c '\! sleep 8' -c 'select 2' > /tmp/first.out 2>&1 &
sleep 2
start=$(date +%s%N)
psql "$uri" -XAtq -c 'select 3'
end=$(date +%s%N)
echo "$(( (end - start) / 1000000 ))"
wait"#,
            &[],
        )
        .expect("two clients through PgBouncer");
    let lines: Vec<&str> = pooled.lines().collect();
    assert_eq!(lines.first(), Some(&"3"), "{pooled}");
    let waited: u64 = lines
        .last()
        .and_then(|ms| ms.parse().ok())
        .expect("milliseconds");
    assert!(
        waited < 4000,
        "the second client waited {waited} ms: the first held the only server connection (session pooling?)"
    );
    eprintln!(
        "e2e: pool_mode transaction: a second client answered in {waited} ms while the first held its session"
    );

    // A new database entry is reloaded (SIGHUP from the sidecar), not restarted: same pod, no restart.
    let pod_of_pgbouncer = || -> anyhow::Result<tusk_e2e::PodIdentity> {
        Ok(tusk_e2e::pod_identity(&pgbouncer_pods()?["items"][0]))
    };
    let before = pod_of_pgbouncer().expect("PgBouncer's pod");
    tusk_e2e::patch_cluster(NAMESPACE, "hippo", "merge", r#"{"spec":{"proxy":{"pgBouncer":{"config":{"databases":{"*":"host=hippo-primary port=5432","bouncer_alias":"host=hippo-primary port=5432 dbname=hippo"}}}}}}"#)
    .expect("the databases patch applies");
    let patched = Instant::now();
    let alias = r#"uri="$(cat /user/pgbouncer-uri)"
exec timeout 20 psql "${uri%/*}/bouncer_alias" -XAtq -c 'select current_database()'"#;
    let database = wait_for("the new database entry", Duration::from_secs(180), || {
        Ok(client.sh(alias, &[]).ok().map(|out| out.trim().to_string()))
    })
    .expect("the alias answers through PgBouncer");
    assert_eq!(database, "hippo");
    assert_eq!(
        pod_of_pgbouncer().expect("PgBouncer's pod"),
        before,
        "the same pod, not restarted"
    );
    eprintln!(
        "e2e: config.databases changed: reloaded without a restart, the new entry answered {:.1?} later",
        patched.elapsed()
    );

    // A new password, set through the Secret as the docs say: PgBouncer asks PostgreSQL, copies nothing.
    kubectl(&[
        "-n",
        NAMESPACE,
        "patch",
        "secret",
        "hippo-pguser-hippo",
        "-p",
        r#"{"stringData":{"password":"bouncing-hippo-7"},"data":{"verifier":""}}"#,
    ])
    .expect("the password patch applies");
    let changed = Instant::now();
    wait_for(
        "the new password through PgBouncer",
        Duration::from_secs(120),
        || Ok(through_pgbouncer(&client, "select 'new'", Some("bouncing-hippo-7")).ok()),
    )
    .expect("the new password logs in through PgBouncer");
    assert!(
        through_pgbouncer(&client, "select 'old'", Some(&uri_password(&uri))).is_err(),
        "the old password no longer logs in"
    );
    eprintln!(
        "e2e: a new password logged in through PgBouncer {:.1?} after the Secret changed",
        changed.elapsed()
    );

    // The primary fails: clients through PgBouncer write again once another instance leads.
    kubectl(&[
        "-n",
        NAMESPACE,
        "delete",
        "pod",
        &leader.pod,
        "--wait=false",
    ])
    .expect("the primary's pod deletes");
    let failed = Instant::now();
    let promoted = wait_for("another instance to lead", Duration::from_secs(180), || {
        Ok(hippo::instances(NAMESPACE)?
            .into_iter()
            .find(|i| i.is_leader() && i.ready && i.pod != leader.pod))
    })
    .expect("a replica is promoted");
    wait_for(
        "a write through PgBouncer on the new primary",
        Duration::from_secs(180),
        || {
            let sql = "insert into bounced values (2) returning host(inet_server_addr())";
            Ok(through_pgbouncer(&client, sql, Some("bouncing-hippo-7"))
                .ok()
                .filter(|address| address == &promoted.ip))
        },
    )
    .expect("writes through PgBouncer reach the new primary");
    eprintln!(
        "e2e: the primary's pod deleted; {} leads and a write through PgBouncer reached it {:.1?} later",
        promoted.pod,
        failed.elapsed()
    );
    assert_eq!(
        through_pgbouncer(
            &client,
            "select count(*) filter (where n = 1) || '|' || (count(*) filter (where n = 2) > 0) from bounced",
            Some("bouncing-hippo-7")
        )
        .expect("reads"),
        "1|true",
        "the row written before the failover is there, and the one after"
    );

    // A rolling update under load: a new pod template (the docs' way to restart PgBouncer: an annotation in
    // spec.proxy.pgBouncer.metadata) replaces the pod while a client connects through PgBouncer about ten times a
    // second, a new connection each time; not one attempt may fail.
    let old_pod = pod_of_pgbouncer().expect("PgBouncer's pod").name;
    let load = std::thread::spawn(|| {
        kubectl(&[
            "-n",
            NAMESPACE,
            "exec",
            tusk_e2e::client::CLIENT_POD,
            "--",
            "sh",
            "-c",
            ROLLING_LOAD,
            "sh",
            "bouncing-hippo-7",
        ])
    });
    std::thread::sleep(Duration::from_secs(3));
    tusk_e2e::patch_cluster(
        NAMESPACE,
        "hippo",
        "merge",
        r#"{"spec":{"proxy":{"pgBouncer":{"metadata":{"annotations":{"e2e.tusk/restarted":"once"}}}}}}"#,
    )
    .expect("the annotation patch applies");
    let rolled = Instant::now();
    let new_pod = wait_for(
        "PgBouncer's pod to be replaced",
        Duration::from_secs(180),
        || {
            let pods = pgbouncer_pods()?;
            let items = pods["items"].as_array().cloned().unwrap_or_default();
            let [pod] = items.as_slice() else {
                return Ok(None);
            };
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            Ok((name != old_pod && tusk_e2e::pod_ready(pod)).then(|| name.to_string()))
        },
    )
    .expect("the Deployment rolls to a new pod");
    let replaced = rolled.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    client
        .sh("touch /tmp/rolling-stop", &[])
        .expect("the load stops");
    let log = load.join().expect("the load thread").expect("the load ran");
    let attempts = log
        .lines()
        .filter(|line| line.starts_with("ok ") || line.starts_with("fail "))
        .count();
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("fail "))
        .collect();
    assert!(
        attempts >= 50,
        "too few attempts to judge the rollout: {log}"
    );
    assert!(
        failures.is_empty(),
        "{} of {attempts} connections through PgBouncer failed during its rolling update: {failures:?}",
        failures.len()
    );
    eprintln!(
        "e2e: PgBouncer rolled from {old_pod} to {new_pod} in {replaced:.1?}; {attempts} connections through it meanwhile, none failed"
    );

    // spec.proxy removed: PgBouncer's objects, the Secret keys and its role go.
    tusk_e2e::patch_cluster(
        NAMESPACE,
        "hippo",
        "json",
        r#"[{"op":"remove","path":"/spec/proxy"}]"#,
    )
    .expect("the proxy removal applies");
    let removed = Instant::now();
    wait_for(
        "PgBouncer's objects to go",
        Duration::from_secs(120),
        || {
            let keys = get_json(NAMESPACE, &["secret", "hippo-pguser-hippo"])?;
            let gone = !deployment_exists()
                && keys["data"].get("pgbouncer-uri").is_none()
                && kubectl(&[
                    "-n",
                    NAMESPACE,
                    "get",
                    "service,configmap,secret",
                    "hippo-pgbouncer",
                    "--ignore-not-found",
                    "-o",
                    "name",
                ])?
                .trim()
                .is_empty();
            Ok(gone.then_some(()))
        },
    )
    .expect("PgBouncer is removed");
    let leader = wait_for("a Ready leader", Duration::from_secs(120), || {
        Ok(hippo::instances(NAMESPACE)?
            .into_iter()
            .find(|i| i.is_leader() && i.ready))
    })
    .expect("a leader");
    wait_for("PgBouncer's role to go", Duration::from_secs(120), || {
        let roles = psql_in(
            NAMESPACE,
            &leader.pod,
            "select count(*) from pg_roles where rolname = '_crunchypgbouncer'",
        )?;
        Ok((roles == "0").then_some(()))
    })
    .expect("the role is dropped");
    eprintln!(
        "e2e: spec.proxy removed: Deployment, Service, ConfigMap, Secret, Secret keys and role gone {:.1?} later",
        removed.elapsed()
    );
}

/// The password in a `postgresql://user:password@...` URI (generated passwords need no unescaping).
fn uri_password(uri: &str) -> String {
    let credentials = uri
        .trim_start_matches("postgresql://")
        .split('@')
        .next()
        .unwrap_or_default();
    credentials
        .split_once(':')
        .map(|(_, p)| p.to_string())
        .unwrap_or_default()
}
