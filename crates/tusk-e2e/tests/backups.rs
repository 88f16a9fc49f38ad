//! Issue #6, end-to-end test 1 (first part): with the docs' hippo (a volume repository on the repository host),
//! the operator creates the stanza through a Job (`status.pgbackrest.repos[0].stanzaCreated`), after which
//! PostgreSQL's WAL archiving succeeds: a switched WAL segment reaches the repository.

use std::time::Duration;
use tusk_e2e::{get_json, hippo, kubectl, wait_for};

const NAMESPACE: &str = "tusk-e2e-backups";

/// `sql` as `postgres` over the local socket of `pod`.
fn psql(pod: &str, sql: &str) -> anyhow::Result<String> {
    Ok(kubectl(&[
        "-n", NAMESPACE, "exec", pod, "-c", "database", "--", "psql", "-XAtq", "-c", sql,
    ])?
    .trim()
    .to_string())
}

#[test]
fn the_stanza_is_created_and_wal_is_archived() {
    let (_namespace, leader, _) = hippo::start(NAMESPACE, 1, "");
    wait_for(
        "status.pgbackrest.repos[0].stanzaCreated",
        Duration::from_secs(300),
        || {
            let cluster = get_json(NAMESPACE, &["postgrescluster", "hippo"])?;
            Ok(
                (cluster["status"]["pgbackrest"]["repos"][0]["stanzaCreated"] == true)
                    .then_some(()),
            )
        },
    )
    .expect("the stanza is created");
    let segment =
        psql(&leader.pod, "select pg_walfile_name(pg_switch_wal())").expect("a WAL switch");
    let archived = wait_for(
        &format!("segment {segment} archived"),
        Duration::from_secs(120),
        || {
            let last = psql(
                &leader.pod,
                "select coalesce(last_archived_wal, '') from pg_stat_archiver",
            )?;
            Ok((last.as_str() >= segment.as_str() && !last.is_empty()).then_some(last))
        },
    )
    .expect("WAL reaches the repository");
    eprintln!("e2e: stanza created; WAL archived up to {archived}");
}
