//! Issue #5, end-to-end test 8, "databaseInitSQL" (docs: Database Initialization SQL): a script that fails
//! (`ON_ERROR_STOP`) sets no status and is reported as a Warning event with psql's error; once the ConfigMap
//! is fixed it runs (its `\c` reaches the database of `spec.users`) and `status.databaseInitSQL` becomes the
//! key; afterwards a changed script does not run again. The operator runs it in a Job, never through
//! `pods/exec`.

use std::time::{Duration, Instant};
use tusk_e2e::{
    HostPsql, Namespace, get_json, install_operator, kubectl, kubectl_with, local_hippo,
    require_cluster, secret_field, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-init-sql";

const FAILING: &str = "\\c zoo\ncreate table t_zoo as select s from generate_series(1, 5) s;\nselect * from no_such_table;\n";
const FIXED: &str =
    "\\c zoo\ncreate table if not exists t_zoo as select s from generate_series(1, 5) s;\n";
const CHANGED: &str = "\\c zoo\ninsert into t_zoo values (6);\n";

fn config_map(sql: &str) {
    let manifest = kubectl(&[
        "-n",
        NAMESPACE,
        "create",
        "configmap",
        "hippo-init-sql",
        &format!("--from-literal=init.sql={sql}"),
        "--dry-run=client",
        "-o",
        "yaml",
    ])
    .expect("the ConfigMap renders");
    kubectl_with(&["-n", NAMESPACE, "apply", "-f", "-"], Some(&manifest))
        .expect("the ConfigMap applies");
}

fn status() -> Option<String> {
    tusk_e2e::hippo::status_text(NAMESPACE, "databaseInitSQL")
}

#[test]
fn database_init_sql() {
    require_cluster();
    let started = Instant::now();
    install_operator().expect("the operator installs and becomes available");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    config_map(FAILING);
    let hippo = local_hippo().replace(
        "  postgresVersion: 13\n",
        "  postgresVersion: 13\n  users:\n    - {name: hippo, databases: [hippo, zoo]}\n    - {name: postgres}\n  databaseInitSQL: {name: hippo-init-sql, key: init.sql}\n",
    );
    namespace.apply(&hippo).expect("hippo applies");

    let failure = wait_for(
        "a DatabaseInitSQLFailed event",
        Duration::from_secs(420),
        || {
            let events = get_json(
                NAMESPACE,
                &["events", "--field-selector=reason=DatabaseInitSQLFailed"],
            )?;
            Ok(events["items"][0]["message"].as_str().map(str::to_string))
        },
    )
    .expect("the failing script is reported");
    assert!(failure.contains("no_such_table"), "{failure}");
    assert_eq!(status(), None, "a failed script sets no status");
    eprintln!(
        "e2e: failure reported after {:.1?}: {failure}",
        started.elapsed()
    );

    config_map(FIXED);
    wait_for(
        "status.databaseInitSQL to be init.sql",
        Duration::from_secs(240),
        || Ok((status().as_deref() == Some("init.sql")).then_some(())),
    )
    .expect("the fixed script runs");
    eprintln!("e2e: fixed script ran after {:.1?}", started.elapsed());

    let psql = HostPsql::new(NAMESPACE, "hippo").expect("the primary Service and the CA");
    let postgres = secret_field(NAMESPACE, "hippo-pguser-postgres", "password")
        .expect("the postgres user's Secret");
    assert_eq!(
        psql.run("postgres", &postgres, "zoo", "select count(*) from t_zoo")
            .expect("t_zoo is in zoo"),
        "5"
    );
    assert_eq!(
        psql.run(
            "postgres",
            &postgres,
            "postgres",
            "select to_regclass('t_zoo') is null"
        )
        .expect("postgres answers"),
        "t",
        "\\c moved the script to zoo"
    );

    // Runs once: a changed script (and a reconcile) after the status is set runs nothing.
    config_map(CHANGED);
    kubectl(&[
        "-n",
        NAMESPACE,
        "annotate",
        "postgrescluster",
        "hippo",
        "--overwrite",
        "e2e/poke=1",
    ])
    .expect("annotating wakes the operator");
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(
        psql.run("postgres", &postgres, "zoo", "select count(*) from t_zoo")
            .expect("t_zoo is in zoo"),
        "5",
        "the init SQL ran only once"
    );
    assert_eq!(status().as_deref(), Some("init.sql"));
    eprintln!("e2e: databaseInitSQL passed in {:.1?}", started.elapsed());
}
