//! The SQL that makes the spec's users and databases exist in PostgreSQL (docs: User Management), as PGO
//! does: a missing role is created with `LOGIN`, every role gets its `options` and the SCRAM verifier of its
//! Secret as password, a missing database is created, and each user gets every privilege on its databases.
//! Nothing is ever dropped: a user removed from the spec keeps its role.
//!
//! Pure: the operator runs the statements over TLS as [`super::OPERATOR_USER`] (`controller::sql`). Names and
//! values are quoted here; `options` were checked by validation (no comments, no `PASSWORD`).

use super::SUPERUSER;
use std::collections::BTreeSet;
use tusk_api::users::PostgresUserSpec;

/// One user as the SQL needs it: its spec and the verifier of its Secret (empty when there is none yet).
pub struct User<'a> {
    /// The user's entry in the spec (or the default user).
    pub spec: &'a PostgresUserSpec,
    /// The SCRAM-SHA-256 verifier from the user's Secret.
    pub verifier: &'a str,
}

/// The statements, in order, for `users`, given the databases that already exist (`CREATE DATABASE` cannot
/// run inside a transaction or a `DO` block, so which are missing is asked first).
pub fn statements(users: &[User<'_>], existing_databases: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut created = existing_databases.clone();
    for user in users {
        let name = &user.spec.name;
        let role = quote_identifier(name);
        if name != SUPERUSER {
            // The literal goes inside the dollar-quoted body, which no name can end (names have no `$`).
            out.push(format!(
                "DO $tusk$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) \
                 THEN CREATE ROLE {role} LOGIN; END IF; END $tusk$",
                quote_literal(name)
            ));
        }
        let mut alter = format!("ALTER ROLE {role}");
        if let Some(options) = user
            .spec
            .options
            .as_deref()
            .filter(|o| !o.trim().is_empty())
        {
            alter.push_str(" WITH ");
            alter.push_str(options);
        }
        if !user.verifier.is_empty() {
            alter.push_str(" PASSWORD ");
            alter.push_str(&quote_literal(user.verifier));
        }
        if alter != format!("ALTER ROLE {role}") {
            out.push(alter);
        }
        for database in user.spec.databases.iter().flatten() {
            if created.insert(database.clone()) {
                out.push(format!("CREATE DATABASE {}", quote_identifier(database)));
            }
            out.push(format!(
                "GRANT ALL PRIVILEGES ON DATABASE {} TO {role}",
                quote_identifier(database)
            ));
        }
    }
    out
}

/// `name` as an SQL identifier: in double quotes, inner double quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as an SQL string literal: in single quotes, inner single quotes doubled (with
/// `standard_conforming_strings`, on since PostgreSQL 9.1, backslashes are plain characters).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, databases: &[&str], options: Option<&str>) -> PostgresUserSpec {
        PostgresUserSpec {
            name: name.into(),
            databases: Some(databases.iter().map(|d| d.to_string()).collect()),
            options: options.map(str::to_string),
        }
    }

    #[test]
    fn the_default_user_gets_its_role_password_and_database() {
        let hippo = user("hippo", &["hippo"], None);
        let sql = statements(
            &[User {
                spec: &hippo,
                verifier: "SCRAM-SHA-256$4096:c2FsdA==$a:b",
            }],
            &BTreeSet::from(["postgres".to_string()]),
        );
        assert_eq!(
            sql,
            [
                "DO $tusk$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'hippo') \
                 THEN CREATE ROLE \"hippo\" LOGIN; END IF; END $tusk$",
                "ALTER ROLE \"hippo\" PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'",
                "CREATE DATABASE \"hippo\"",
                "GRANT ALL PRIVILEGES ON DATABASE \"hippo\" TO \"hippo\"",
            ]
        );
    }

    #[test]
    fn existing_databases_are_not_created_again_and_options_apply() {
        let rhino = user("rhino", &["zoo", "shared"], Some("SUPERUSER"));
        let other = user("other", &["shared"], None);
        let sql = statements(
            &[
                User {
                    spec: &rhino,
                    verifier: "v",
                },
                User {
                    spec: &other,
                    verifier: "",
                },
            ],
            &BTreeSet::from(["zoo".to_string()]),
        );
        assert!(sql.contains(&"ALTER ROLE \"rhino\" WITH SUPERUSER PASSWORD 'v'".to_string()));
        assert!(!sql.iter().any(|s| s == "CREATE DATABASE \"zoo\""));
        assert_eq!(
            sql.iter()
                .filter(|s| *s == "CREATE DATABASE \"shared\"")
                .count(),
            1
        );
        assert!(
            !sql.iter().any(|s| s.starts_with("ALTER ROLE \"other\"")),
            "nothing to alter without options or a verifier"
        );
    }

    #[test]
    fn the_superuser_is_never_created() {
        let postgres = user("postgres", &[], None);
        let sql = statements(
            &[User {
                spec: &postgres,
                verifier: "v",
            }],
            &BTreeSet::new(),
        );
        assert_eq!(sql, ["ALTER ROLE \"postgres\" PASSWORD 'v'"]);
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
