//! The monitoring role in PostgreSQL: [`MONITORING_USER`] with `pg_monitor` (read every statistics view and
//! setting, nothing else), its password set by the verifier of the Secret `<c>-monitoring`, JIT off and a
//! lock timeout so that a scrape never competes with the workload; the extension of the query statistics
//! ([`STATEMENTS_LIBRARY`]) in the database the exporter reads; and the function its backup queries read
//! (`backups_sql`). Without the exporter the role stays but cannot log in (as PGO), and the extension and the
//! function stay.

use super::{MONITORING_USER, STATEMENTS_LIBRARY, sequences};
use crate::postgres::users::{quote_identifier, quote_literal};

/// The statements that make the role exist and log in with the password whose SCRAM `verifier` the Secret
/// holds, then install `monitor.pgbackrest_info()` for it.
pub fn enable(verifier: &str) -> String {
    let role = quote_identifier(MONITORING_USER);
    let literal = quote_literal(MONITORING_USER);
    format!(
        "DO $tusk$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN
    CREATE ROLE {role};
  END IF;
END $tusk$;
ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {};
GRANT pg_monitor TO {role};
ALTER ROLE {role} SET jit TO off;
ALTER ROLE {role} SET lock_timeout TO '2min';
CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA public;
{}",
        quote_literal(verifier),
        quote_identifier(STATEMENTS_LIBRARY),
        super::backups_sql::install(),
    )
}

/// The statement run once the exporter is gone from the spec.
pub fn disable() -> String {
    let literal = quote_literal(MONITORING_USER);
    format!(
        "DO $tusk$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN
    ALTER ROLE {} NOLOGIN;
  END IF;
END $tusk$;",
        quote_identifier(MONITORING_USER)
    )
}

/// What `status.monitoring.exporterConfiguration` records once the role is enabled with `verifier` and the
/// sequence function installed in every database (`sequences`).
pub fn revision(verifier: &str) -> String {
    crate::digest::concatenated(&[&enable(verifier), &sequences::install_in_database()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_reads_statistics_only_and_its_password_is_a_literal() {
        let sql = enable("SCRAM-SHA-256$4096:a$b:c");
        assert!(sql.contains("GRANT pg_monitor TO \"ccp_monitoring\""));
        assert!(sql.contains("NOSUPERUSER"));
        assert!(sql.contains("PASSWORD 'SCRAM-SHA-256$4096:a$b:c'"));
        assert!(
            sql.contains(
                "CREATE EXTENSION IF NOT EXISTS \"pg_stat_statements\" WITH SCHEMA public;"
            )
        );
        assert!(enable("x'y").contains("PASSWORD 'x''y'"));
        assert!(disable().contains("NOLOGIN"));
        assert_ne!(revision("a"), revision("b"));
        assert_ne!(
            revision("a"),
            crate::digest::concatenated(&[&enable("a")]),
            "clusters enabled before the sequence function get it"
        );
    }

    #[test]
    fn enabling_installs_the_backup_function_after_the_role() {
        let sql = enable("v");
        let role = sql.find("GRANT pg_monitor").expect("the role");
        let function = sql
            .find(&crate::monitoring::backups_sql::install())
            .expect("the function");
        assert!(role < function);
    }
}
