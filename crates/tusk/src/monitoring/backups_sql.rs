//! `monitor.pgbackrest_info()` in the database `postgres`: what `pgbackrest info` (JSON) says about the
//! repositories, for the exporter's `ccp_backrest_*` queries (pgMonitor's function and signature, so that
//! pgMonitor's own queries run unchanged).
//!
//! The function runs a fixed command (no argument reaches the shell) through `COPY ... FROM PROGRAM`, which only
//! a superuser or `pg_execute_server_program` may use: it is `SECURITY DEFINER`, owned by the role the
//! operator's SQL runs as, and only [`MONITORING_USER`] may execute it, so the exporter's role never gets
//! `pg_execute_server_program`. The command runs as the PostgreSQL server in the `database` container, which
//! reads the instance's pgBackRest configuration as `archive_command` does.
//!
//! The output goes through a temporary table of the function's own: one left in the session (by whoever) is
//! dropped first, so no object of the caller's (a trigger on a table of the same name) runs with the owner's
//! rights. A replica cannot create temporary tables, so there the function returns no rows: the series come
//! from the primary, one view of the repositories per cluster.

use super::MONITORING_USER;
use crate::postgres::users::{quote_identifier, quote_literal};

/// The function, as pgMonitor names it.
pub const FUNCTION: &str = "monitor.pgbackrest_info()";
/// The command the function runs; nothing is added to it. It names the stanza: the repository host's pgBackRest
/// server lets the cluster's certificate in for stanza `db` only, and refuses an `info` of every stanza.
pub const COMMAND: &str = "pgbackrest --output=json --stanza=db info";
/// Where the instance's pgBackRest configuration is included from: the function's `config_file` column.
pub const CONFIG_PATH: &str = "/etc/pgbackrest/conf.d";
/// The temporary table the command's output goes through.
const TABLE: &str = "pg_temp.tusk_pgbackrest_info";

/// The statements that (re)create the schema `monitor` and the function, and let only the exporter's role
/// execute it. Run by the operator's superuser in the database `postgres`.
pub fn install() -> String {
    let role = quote_identifier(MONITORING_USER);
    let command = quote_literal(COMMAND);
    let config = quote_literal(CONFIG_PATH);
    let table = TABLE;
    let literal_table = quote_literal(TABLE);
    // pgBackRest prints its JSON on one line. CSV with quote and delimiter characters that JSON never holds
    // unescaped takes that line as it is (the text format would unescape its backslashes).
    format!(
        "CREATE SCHEMA IF NOT EXISTS monitor;
GRANT USAGE ON SCHEMA monitor TO {role};
CREATE OR REPLACE FUNCTION {FUNCTION} RETURNS TABLE(config_file text, data jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $tusk$
BEGIN
  IF pg_catalog.pg_is_in_recovery() THEN
    RETURN;
  END IF;
  IF pg_catalog.to_regclass({literal_table}) IS NOT NULL THEN
    DROP TABLE {table};
  END IF;
  CREATE TEMPORARY TABLE tusk_pgbackrest_info (line text);
  COPY {table} (line) FROM PROGRAM {command}
    WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02');
  RETURN QUERY SELECT {config}::text, line::jsonb FROM {table};
  DROP TABLE {table};
END
$tusk$;
ALTER FUNCTION {FUNCTION} OWNER TO CURRENT_USER;
REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {FUNCTION} TO {role};"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_runs_one_fixed_command_with_a_fixed_search_path() {
        let sql = install();
        assert_eq!(sql.matches("FROM PROGRAM").count(), 1);
        assert!(
            sql.contains("FROM PROGRAM 'pgbackrest --output=json --stanza=db info'\n"),
            "the command is a literal: {sql}"
        );
        assert!(!sql.contains("EXECUTE format") && !sql.contains("EXECUTE '"));
        assert!(sql.contains("SECURITY DEFINER\n  SET search_path = pg_catalog, pg_temp\n"));
        assert!(sql.contains("RETURNS TABLE(config_file text, data jsonb)"));
        assert!(sql.contains("IF pg_catalog.pg_is_in_recovery() THEN\n    RETURN;"));
        assert!(COMMAND.contains(&format!(" --stanza={} ", crate::pgbackrest::STANZA)));
    }

    #[test]
    fn the_function_uses_a_temporary_table_of_its_own() {
        let sql = install();
        let drop = sql
            .find("DROP TABLE pg_temp.tusk_pgbackrest_info;")
            .expect("dropped");
        let create = sql.find("CREATE TEMPORARY TABLE").expect("created");
        let copy = sql
            .find("COPY pg_temp.tusk_pgbackrest_info")
            .expect("copied");
        assert!(drop < create && create < copy, "{sql}");
    }

    #[test]
    fn only_the_exporters_role_executes_it_and_it_gets_no_server_program_rights() {
        let sql = install();
        let grants: Vec<&str> = sql.lines().filter(|l| l.starts_with("GRANT")).collect();
        assert_eq!(
            grants,
            [
                "GRANT USAGE ON SCHEMA monitor TO \"ccp_monitoring\";",
                "GRANT EXECUTE ON FUNCTION monitor.pgbackrest_info() TO \"ccp_monitoring\";"
            ]
        );
        assert!(sql.contains("REVOKE ALL ON FUNCTION monitor.pgbackrest_info() FROM PUBLIC;"));
        assert!(sql.contains("ALTER FUNCTION monitor.pgbackrest_info() OWNER TO CURRENT_USER;"));
        assert!(!sql.contains("pg_execute_server_program"));
        let revoke = sql.find("REVOKE ALL").expect("revoked");
        let grant = sql.find("GRANT EXECUTE").expect("granted");
        assert!(revoke < grant);
    }
}
