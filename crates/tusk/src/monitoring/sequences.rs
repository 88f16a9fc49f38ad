//! Sequence exhaustion (the docs' PGSequenceExhaustion alert): how many sequences of a database are more than
//! [`THRESHOLD`] percent used. `pg_sequences.last_value` is NULL for [`MONITORING_USER`] (it has no privilege
//! on other roles' sequences), so the count comes from [`FUNCTION`], a `SECURITY DEFINER` function owned by
//! the operator's role, with a fixed `search_path`, that only [`MONITORING_USER`] may run. Sequences live in
//! the users' databases: the function goes into every database that takes connections, `template1` included
//! (databases made later inherit it), and the exporter visits every database (`sidecar`), running the query
//! `ccp_sequence_exhaustion` of `queries.yml` in each.

use super::MONITORING_USER;
use crate::postgres::users::quote_identifier;

/// The schema of [`FUNCTION`] (pgMonitor's).
pub const SCHEMA: &str = "monitor";
/// The function counting the sequences of the current database used more than a given percent; its one
/// argument is that percent.
pub const FUNCTION: &str = "monitor.sequences_over(integer)";
/// PGO's threshold: a sequence more than 75 % used counts.
pub const THRESHOLD: u32 = 75;

/// The statements run in each database, in one transaction, to install [`FUNCTION`]. A sequence's use is the
/// values it has handed out over the values it may hand out, counted in steps of its increment from the end
/// it starts at (`min_value` going up, `max_value` going down); cycling sequences never run out and a
/// sequence never used (`last_value` NULL) has used nothing.
pub fn install_in_database() -> String {
    let role = quote_identifier(MONITORING_USER);
    format!(
        "BEGIN;
SET LOCAL client_min_messages = WARNING;
SET LOCAL synchronous_commit = LOCAL;
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL PRIVILEGES ON SCHEMA {SCHEMA} FROM PUBLIC;
GRANT USAGE ON SCHEMA {SCHEMA} TO {role};
CREATE OR REPLACE FUNCTION {SCHEMA}.sequences_over(percent integer, OUT count bigint) AS $tusk$
  SELECT count(*)
  FROM pg_catalog.pg_sequences AS s
  WHERE NOT s.cycle
    AND s.last_value IS NOT NULL
    AND 100 * ((CASE WHEN s.increment_by > 0 THEN s.last_value - s.min_value
                     ELSE s.max_value - s.last_value END)::numeric / abs(s.increment_by) + 1)
      > percent * ((s.max_value - s.min_value)::numeric / abs(s.increment_by) + 1)
$tusk$ LANGUAGE SQL STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL PRIVILEGES ON FUNCTION {FUNCTION} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {FUNCTION} TO {role};
COMMIT;"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::QUERIES;

    #[test]
    fn only_the_monitoring_role_runs_the_function_with_a_fixed_search_path() {
        let sql = install_in_database();
        assert!(sql.starts_with("BEGIN;") && sql.ends_with("COMMIT;"));
        assert!(sql.contains("SECURITY DEFINER SET search_path = pg_catalog, pg_temp;"));
        assert!(sql.contains(
            "REVOKE ALL PRIVILEGES ON FUNCTION monitor.sequences_over(integer) FROM PUBLIC;"
        ));
        assert!(sql.contains(
            "GRANT EXECUTE ON FUNCTION monitor.sequences_over(integer) TO \"ccp_monitoring\";"
        ));
        assert!(sql.contains("REVOKE ALL PRIVILEGES ON SCHEMA monitor FROM PUBLIC;"));
        assert_eq!(sql.matches("GRANT ").count(), 2, "nothing else is granted");
        assert!(
            !sql.contains("OWNER TO"),
            "owned by the role that runs it, the operator's"
        );
    }

    #[test]
    fn the_exporter_query_counts_at_the_threshold_in_every_database_it_visits() {
        let queries: serde_json::Value = serde_saphyr::from_str(QUERIES).expect("YAML");
        let query = &queries["ccp_sequence_exhaustion"];
        let text = query["query"].as_str().expect("a query");
        assert!(text.contains(&format!("monitor.sequences_over({THRESHOLD})")));
        assert!(
            text.contains(&format!("to_regprocedure('{FUNCTION}')")),
            "a database without the function gives no row rather than an error"
        );
        assert!(text.contains("current_database() AS dbname"));
        assert!(
            query.get("master").is_none(),
            "run in every database the exporter visits"
        );
        let metrics = query["metrics"].as_array().expect("metrics");
        assert_eq!(metrics[0]["dbname"]["usage"], "LABEL");
        assert_eq!(metrics[1]["count"]["usage"], "GAUGE");
    }
}
