//! Issue #5, end-to-end test 7, "Users and databases" (docs: User Management, Custom Passwords): the default
//! user owns nothing but can use its database; `spec.users` with databases and options (SUPERUSER, then
//! NOSUPERUSER); the `postgres` user's Secret; a password set through the Secret's `password` and `verifier`
//! logs in; a user removed from the spec keeps its role; the SQL runs only when `status.usersRevision`
//! changes. Connects from the host with `psql` and `verify-full`, as `cargo xtask demo` does.

use std::time::{Duration, Instant};
use tusk_e2e::{
    HostPsql, Namespace, get_json, install_operator, kubectl, local_hippo, require_cluster,
    secret_field, wait_for,
};

const NAMESPACE: &str = "tusk-e2e-users";

/// The docs' example verifier of the password `datalake` (Custom Passwords).
const DATALAKE_VERIFIER: &str = "SCRAM-SHA-256$4096:FAnSkUrL3jH6Bp17P5FTuQ==$BecLU0YXzBUwnTk3b3ghIZ7/zS2XvD8wX50Hz5JL0q4=:pxuEtozYTZpAc6wINV53sCr4Afxk8LLfor5MvkYp21s=";

fn patch_users(users: &str) {
    tusk_e2e::patch_cluster(
        NAMESPACE,
        "hippo",
        "merge",
        &format!(r#"{{"spec":{{"users":{users}}}}}"#),
    )
    .expect("the users patch applies");
}

fn users_revision() -> Option<String> {
    tusk_e2e::hippo::status_text(NAMESPACE, "usersRevision")
}

/// The password of user `user` from its Secret, once the Secret has one.
fn password(user: &str) -> String {
    wait_for(
        &format!("the Secret of {user}"),
        Duration::from_secs(120),
        || {
            let password = secret_field(NAMESPACE, &format!("hippo-pguser-{user}"), "password")?;
            Ok((!password.is_empty()).then_some(password))
        },
    )
    .expect("the user's Secret")
}

/// Waits until `sql` as `user` in `database` answers `expected`.
fn eventually(
    psql: &HostPsql,
    user: &str,
    secret: &str,
    database: &str,
    sql: &str,
    expected: &str,
) {
    wait_for(
        &format!("{sql:?} as {user} in {database} to answer {expected:?}"),
        Duration::from_secs(180),
        || {
            let answer = psql.run(user, secret, database, sql)?;
            Ok((answer == expected).then_some(()))
        },
    )
    .unwrap_or_else(|error| panic!("{error:#}"));
}

#[test]
fn users_and_databases() {
    require_cluster();
    let started = Instant::now();
    install_operator().expect("the operator installs and becomes available");
    let namespace = Namespace::fresh(NAMESPACE).expect("namespace");
    namespace.apply(&local_hippo()).expect("hippo applies");
    let psql = HostPsql::new(NAMESPACE, "hippo").expect("the primary Service and the CA");

    // The default user and database: hippo logs in to hippo, which postgres owns (as in PGO), and can create
    // tables in its public schema (PostgreSQL 15 no longer lets everyone).
    let hippo = password("hippo");
    eventually(
        &psql,
        "hippo",
        &hippo,
        "hippo",
        "select current_user || ' ' || current_database()",
        "hippo hippo",
    );
    assert_eq!(
        psql.run(
            "hippo",
            &hippo,
            "hippo",
            "create table t (i int); select pg_catalog.pg_get_userbyid(datdba) from pg_catalog.pg_database where datname = 'hippo'"
        )
        .expect("hippo creates a table in its database"),
        "postgres"
    );
    eprintln!(
        "e2e: default user and database after {:.1?}",
        started.elapsed()
    );

    // The SQL runs only when the revision changes: a password changed by hand survives a reconcile.
    let revision = wait_for("status.usersRevision", Duration::from_secs(60), || {
        Ok(users_revision())
    })
    .expect("usersRevision is recorded");
    psql.run(
        "hippo",
        &hippo,
        "hippo",
        "alter role hippo password 'by-hand'",
    )
    .expect("hippo changes its own password");
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
    std::thread::sleep(Duration::from_secs(10));
    psql.run("hippo", "by-hand", "hippo", "select 1")
        .expect("an unchanged revision does not run the users' SQL again");
    assert_eq!(users_revision().as_deref(), Some(revision.as_str()));

    // spec.users with databases and options, and the postgres user.
    patch_users(
        r#"[{"name":"hippo","databases":["hippo"]},{"name":"rhino","databases":["zoo"],"options":"SUPERUSER"},{"name":"postgres"}]"#,
    );
    let rhino = password("rhino");
    let is_super = "select rolsuper from pg_catalog.pg_roles where rolname = 'rhino'";
    eventually(&psql, "rhino", &rhino, "zoo", is_super, "t");
    psql.run("rhino", &rhino, "zoo", "create table z (i int)")
        .expect("rhino creates a table in zoo");
    let postgres = password("postgres");
    eventually(
        &psql,
        "postgres",
        &postgres,
        "postgres",
        "select current_user",
        "postgres",
    );
    // The spec changed, so the revision did and the SQL ran again: hippo's Secret password is back.
    psql.run("hippo", &hippo, "hippo", "select 1")
        .expect("a new revision sets the Secret's verifier again");
    eprintln!(
        "e2e: rhino (SUPERUSER) and postgres after {:.1?}",
        started.elapsed()
    );

    patch_users(
        r#"[{"name":"hippo","databases":["hippo"]},{"name":"rhino","databases":["zoo"],"options":"NOSUPERUSER"},{"name":"postgres"}]"#,
    );
    eventually(&psql, "postgres", &postgres, "postgres", is_super, "f");

    // A custom password through the Secret's password and verifier (the docs' example).
    kubectl(&[
        "-n",
        NAMESPACE,
        "patch",
        "secret",
        "hippo-pguser-rhino",
        "--type=merge",
        "-p",
        &format!(r#"{{"stringData":{{"password":"datalake","verifier":"{DATALAKE_VERIFIER}"}}}}"#),
    ])
    .expect("the Secret patch applies");
    eventually(
        &psql,
        "rhino",
        "datalake",
        "zoo",
        "select current_user",
        "rhino",
    );
    assert_eq!(
        secret_field(NAMESPACE, "hippo-pguser-rhino", "password").unwrap(),
        "datalake",
        "the operator keeps a custom password"
    );
    eprintln!(
        "e2e: NOSUPERUSER and the custom password after {:.1?}",
        started.elapsed()
    );

    // A user removed from the spec loses its Secret but keeps its role.
    patch_users(r#"[{"name":"hippo","databases":["hippo"]},{"name":"postgres"}]"#);
    wait_for("rhino's Secret to go", Duration::from_secs(120), || {
        let secrets = get_json(
            NAMESPACE,
            &[
                "secrets",
                "--field-selector=metadata.name=hippo-pguser-rhino",
            ],
        )?;
        Ok(secrets["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(()))
    })
    .expect("the removed user's Secret is pruned");
    assert_eq!(
        psql.run(
            "postgres",
            &postgres,
            "postgres",
            "select count(*) from pg_catalog.pg_roles where rolname = 'rhino'"
        )
        .expect("postgres lists roles"),
        "1",
        "a user removed from the spec is not dropped"
    );
    psql.run("rhino", "datalake", "zoo", "select count(*) from z")
        .expect("the removed user still logs in and its table stays");
    eprintln!("e2e: users passed in {:.1?}", started.elapsed());
}
