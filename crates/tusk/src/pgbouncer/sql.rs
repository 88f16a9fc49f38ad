//! The SQL that lets PgBouncer log users in without their passwords (PGO's design): a role
//! [`AUTH_USER`] that may only run `pgbouncer.get_auth`, a `SECURITY DEFINER` function returning the SCRAM
//! verifier of an ordinary login role (never a superuser's, a replication role's or its own). PgBouncer 1.18
//! runs its auth query in the database the client asked for, so the schema and function go into every
//! database that takes connections, `template1` included (databases made later inherit them). The role's
//! password is set by its verifier (from PgBouncer's Secret), never sent in clear.

use super::AUTH_USER;
use crate::postgres::users::{quote_identifier, quote_literal};

/// The statements run in each database, in one transaction, to install the lookup.
pub fn install_in_database() -> String {
    let role = quote_identifier(AUTH_USER);
    let literal = quote_literal(AUTH_USER);
    format!(
        "BEGIN;
SET LOCAL client_min_messages = WARNING;
SET LOCAL synchronous_commit = LOCAL;
CREATE SCHEMA IF NOT EXISTS pgbouncer;
REVOKE ALL PRIVILEGES ON SCHEMA pgbouncer FROM PUBLIC, {role};
GRANT USAGE ON SCHEMA pgbouncer TO {role};
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(username TEXT)
RETURNS TABLE(username TEXT, password TEXT) AS $tusk$
  SELECT rolname::TEXT, rolpassword::TEXT
  FROM pg_catalog.pg_authid
  WHERE pg_authid.rolname = $1
    AND pg_authid.rolcanlogin
    AND NOT pg_authid.rolsuper
    AND NOT pg_authid.rolreplication
    AND pg_authid.rolname <> {literal}
    AND (pg_authid.rolvaliduntil IS NULL OR pg_authid.rolvaliduntil >= CURRENT_TIMESTAMP)
$tusk$ LANGUAGE SQL STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL PRIVILEGES ON FUNCTION pgbouncer.get_auth(username TEXT) FROM PUBLIC, {role};
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(username TEXT) TO {role};
COMMIT;"
    )
}

/// The statements run once, before [`install_in_database`], to make the role exist with the password whose
/// SCRAM `verifier` PgBouncer's Secret holds, able to log in and to nothing else.
pub fn role(verifier: &str) -> String {
    let role = quote_identifier(AUTH_USER);
    let literal = quote_literal(AUTH_USER);
    format!(
        "DO $tusk$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {literal}) THEN
    CREATE ROLE {role} NOLOGIN;
  END IF;
END $tusk$;
ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS \
PASSWORD {};
ALTER ROLE {role} SET search_path TO pgbouncer;",
        quote_literal(verifier)
    )
}

/// The statements run in each database to remove the lookup, once PgBouncer is removed from the spec.
pub fn uninstall_in_database() -> String {
    let role = quote_identifier(AUTH_USER);
    format!(
        "BEGIN;
SET LOCAL client_min_messages = WARNING;
DROP SCHEMA IF EXISTS pgbouncer CASCADE;
DO $tusk$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {}) THEN
    EXECUTE 'DROP OWNED BY {} CASCADE';
  END IF;
END $tusk$;
COMMIT;",
        quote_literal(AUTH_USER),
        role.replace('\'', "''")
    )
}

/// The statement run once, after [`uninstall_in_database`] in every database, to drop the role.
pub fn drop_role() -> String {
    format!("DROP ROLE IF EXISTS {}", quote_identifier(AUTH_USER))
}

/// What `status.proxy.pgBouncer.postgresRevision` records once the lookup is installed with `verifier`: a
/// change of either (a new Tusk, a new password) installs it again.
pub fn revision(verifier: &str) -> String {
    crate::digest::concatenated(&[&role(verifier), &install_in_database()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_returns_only_ordinary_login_roles_and_only_the_auth_role_may_run_it() {
        let sql = install_in_database();
        for needed in [
            "AND NOT pg_authid.rolsuper",
            "AND NOT pg_authid.rolreplication",
            "AND pg_authid.rolcanlogin",
            "AND pg_authid.rolname <> '_crunchypgbouncer'",
            "SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
            "FROM PUBLIC, \"_crunchypgbouncer\"",
            "GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(username TEXT) TO \"_crunchypgbouncer\"",
        ] {
            assert!(sql.contains(needed), "{needed}");
        }
        assert!(sql.starts_with("BEGIN;") && sql.ends_with("COMMIT;"));
    }

    #[test]
    fn the_role_gets_the_verifier_as_a_literal() {
        let sql = role("SCRAM-SHA-256$4096:abc$def:ghi");
        assert!(
            sql.contains("PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi'"),
            "{sql}"
        );
        assert!(role("x'; DROP TABLE t; --").contains("PASSWORD 'x''; DROP TABLE t; --'"));
    }

    #[test]
    fn the_revision_follows_the_verifier() {
        assert_eq!(revision("a"), revision("a"));
        assert_ne!(revision("a"), revision("b"));
    }
}
