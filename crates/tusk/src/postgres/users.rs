//! The SQL that makes the spec's users and databases exist in PostgreSQL (docs: User Management), as PGO
//! does: a missing role is created with `LOGIN`, every role but `postgres` gets its `options` (the docs: "the
//! privileges of the [postgres] user cannot be adjusted") and every role the SCRAM verifier of its Secret as
//! password, a missing database is created owned by `postgres` (PGO creates them as `postgres`; the
//! operator's own role `_tusk` owns nothing of the users'), and each user gets every privilege on its
//! databases. PostgreSQL 15 took `CREATE` on the `public` schema away from everyone but the database owner,
//! so on 15 and later each user also gets every privilege on `public` in its databases ([`schema_grants`]),
//! which keeps the docs' promise that the user can use its database.
//! Nothing is ever dropped: a user removed from the spec keeps its role.
//!
//! Pure: the operator runs the statements over TLS as [`super::OPERATOR_USER`] (`controller::sql`). Names and
//! values are quoted here; `options` are parsed into the role attributes `ALTER ROLE` knows and written back
//! by [`role_options`], so nothing of them reaches PostgreSQL as text Tusk did not write.

use super::SUPERUSER;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use tusk_api::users::PostgresUserSpec;

/// One user as the SQL needs it: its spec and the verifier of its Secret (empty when there is none yet).
pub struct User<'a> {
    /// The user's entry in the spec (or the default user).
    pub spec: &'a PostgresUserSpec,
    /// The SCRAM-SHA-256 verifier from the user's Secret.
    pub verifier: &'a str,
}

/// What to run in the `postgres` database, and what could not be written.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// The statements, in order.
    pub statements: Vec<String>,
    /// Users whose `options` were not applied, with the reason.
    pub rejected_options: Vec<(String, String)>,
}

/// The statements, in order, for `users`, given the databases that already exist (`CREATE DATABASE` cannot
/// run inside a transaction or a `DO` block, so which are missing is asked first).
pub fn statements(users: &[User<'_>], existing_databases: &BTreeSet<String>) -> Plan {
    let mut plan = Plan::default();
    let out = &mut plan.statements;
    let mut created = existing_databases.clone();
    for user in users {
        let name = &user.spec.name;
        let role = quote_identifier(name);
        let options = user
            .spec
            .options
            .as_deref()
            .filter(|o| !o.trim().is_empty());
        if name != SUPERUSER {
            // The literal goes inside the dollar-quoted body, which no name can end (names have no `$`).
            out.push(format!(
                "DO $tusk$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) \
                 THEN CREATE ROLE {role} LOGIN; END IF; END $tusk$",
                quote_literal(name)
            ));
            match options.map(role_options) {
                Some(Ok(attributes)) => out.push(format!("ALTER ROLE {role} WITH {attributes}")),
                Some(Err(reason)) => plan.rejected_options.push((name.clone(), reason)),
                None => {}
            }
        }
        if !user.verifier.is_empty() {
            out.push(format!(
                "ALTER ROLE {role} PASSWORD {}",
                quote_literal(user.verifier)
            ));
        }
        for database in user.spec.databases.iter().flatten() {
            if created.insert(database.clone()) {
                out.push(format!(
                    "CREATE DATABASE {} OWNER {}",
                    quote_identifier(database),
                    quote_identifier(SUPERUSER)
                ));
            }
            out.push(format!(
                "GRANT ALL PRIVILEGES ON DATABASE {} TO {role}",
                quote_identifier(database)
            ));
        }
    }
    plan
}

/// For PostgreSQL 15 and later: by database, the statements that give each of its users every privilege on
/// its `public` schema (when the schema exists; a user may have dropped it).
pub fn schema_grants(users: &[User<'_>]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for user in users.iter().filter(|user| user.spec.name != SUPERUSER) {
        for database in user.spec.databases.iter().flatten() {
            out.entry(database.clone()).or_default().push(format!(
                "DO $tusk$ BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'public') \
                 THEN GRANT ALL PRIVILEGES ON SCHEMA public TO {}; END IF; END $tusk$",
                quote_identifier(&user.spec.name)
            ));
        }
    }
    out
}

/// The role attributes of `options` (PGO's `spec.users[].options`, e.g. `SUPERUSER CREATEDB`) written back
/// as `ALTER ROLE ... WITH` takes them: the attribute keywords and their `NO` forms, `CONNECTION LIMIT <n>`
/// and `VALID UNTIL '<time>'` (re-quoted). Anything else is an error that names it.
pub fn role_options(options: &str) -> Result<String, String> {
    const FLAGS: &[&str] = &[
        "SUPERUSER",
        "CREATEDB",
        "CREATEROLE",
        "INHERIT",
        "LOGIN",
        "REPLICATION",
        "BYPASSRLS",
    ];
    let mut out = Vec::new();
    let mut rest = options;
    loop {
        let (word, after) = next_word(rest);
        if word.is_empty() {
            break;
        }
        let upper = word.to_ascii_uppercase();
        rest = after;
        if FLAGS.contains(&upper.as_str())
            || upper
                .strip_prefix("NO")
                .is_some_and(|flag| FLAGS.contains(&flag))
        {
            out.push(upper);
        } else if upper == "CONNECTION" {
            let (keyword, after) = next_word(rest);
            let (limit, after) = next_word(after);
            if !keyword.eq_ignore_ascii_case("LIMIT") {
                return Err("CONNECTION must be followed by LIMIT and a number".into());
            }
            let limit: i32 = limit
                .parse()
                .map_err(|_| format!("CONNECTION LIMIT {limit:?} is not a number"))?;
            out.push(format!("CONNECTION LIMIT {limit}"));
            rest = after;
        } else if upper == "VALID" {
            let (keyword, after) = next_word(rest);
            if !keyword.eq_ignore_ascii_case("UNTIL") {
                return Err("VALID must be followed by UNTIL".into());
            }
            let (time, after) = after
                .trim_start()
                .strip_prefix('\'')
                .and_then(|quoted| quoted.split_once('\''))
                .ok_or("VALID UNTIL needs a time in single quotes")?;
            out.push(format!("VALID UNTIL {}", quote_literal(time)));
            rest = after;
        } else {
            return Err(format!("{word:?} is not a role attribute ALTER ROLE takes"));
        }
    }
    if out.is_empty() {
        return Err("no role attribute".into());
    }
    Ok(out.join(" "))
}

/// The first whitespace-separated word of `text` and what follows it.
fn next_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    text.split_at(text.find(char::is_whitespace).unwrap_or(text.len()))
}

/// A digest of everything the users' SQL depends on (each user's name, databases, options and verifier), for
/// `status.usersRevision`: while it stays the same, the SQL has nothing new to do.
pub fn revision(users: &[User<'_>]) -> String {
    let mut digest = Sha256::new();
    for user in users {
        let mut part = |text: &str| {
            digest.update(text.len().to_be_bytes());
            digest.update(text.as_bytes());
        };
        part(&user.spec.name);
        part(user.spec.options.as_deref().unwrap_or_default());
        part(user.verifier);
        for database in user.spec.databases.iter().flatten() {
            part(database);
        }
        part("");
    }
    crate::digest::hex(digest, 16)
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
        let plan = statements(
            &[User {
                spec: &hippo,
                verifier: "SCRAM-SHA-256$4096:c2FsdA==$a:b",
            }],
            &BTreeSet::from(["postgres".to_string()]),
        );
        assert_eq!(
            plan.statements,
            [
                "DO $tusk$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'hippo') \
                 THEN CREATE ROLE \"hippo\" LOGIN; END IF; END $tusk$",
                "ALTER ROLE \"hippo\" PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'",
                "CREATE DATABASE \"hippo\" OWNER \"postgres\"",
                "GRANT ALL PRIVILEGES ON DATABASE \"hippo\" TO \"hippo\"",
            ]
        );
        assert!(plan.rejected_options.is_empty());
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
        )
        .statements;
        assert!(sql.contains(&"ALTER ROLE \"rhino\" WITH SUPERUSER".to_string()));
        assert!(sql.contains(&"ALTER ROLE \"rhino\" PASSWORD 'v'".to_string()));
        assert!(!sql.iter().any(|s| s.starts_with("CREATE DATABASE \"zoo\"")));
        assert_eq!(
            sql.iter()
                .filter(|s| s.starts_with("CREATE DATABASE \"shared\""))
                .count(),
            1
        );
        assert!(
            !sql.iter().any(|s| s.starts_with("ALTER ROLE \"other\"")),
            "nothing to alter without options or a verifier"
        );
    }

    #[test]
    fn the_superuser_is_never_created_nor_given_options() {
        let postgres = user("postgres", &[], Some("NOSUPERUSER"));
        let plan = statements(
            &[User {
                spec: &postgres,
                verifier: "v",
            }],
            &BTreeSet::new(),
        );
        assert_eq!(plan.statements, ["ALTER ROLE \"postgres\" PASSWORD 'v'"]);
        assert!(
            schema_grants(&[User {
                spec: &postgres,
                verifier: "v"
            }])
            .is_empty()
        );
    }

    #[test]
    fn options_are_parsed_and_written_back_never_passed_through() {
        assert_eq!(role_options(" superuser  "), Ok("SUPERUSER".into()));
        assert_eq!(
            role_options("NOSUPERUSER createdb CONNECTION LIMIT 5 VALID UNTIL '2030-01-01'"),
            Ok("NOSUPERUSER CREATEDB CONNECTION LIMIT 5 VALID UNTIL '2030-01-01'".into())
        );
        assert_eq!(
            role_options("connection  limit\t-1 valid until '2030-01-01 00:00:00+00' NOLOGIN"),
            Ok("CONNECTION LIMIT -1 VALID UNTIL '2030-01-01 00:00:00+00' NOLOGIN".into())
        );
        for bad in [
            "SUPERUSER -- comment",
            "SUPERUSER /* x */",
            "IN ROLE pg_monitor",
            "CONNECTION LIMIT x",
            "CONNECTION 5",
            "VALID '2030-01-01'",
            "",
            "VALID UNTIL 'open",
            "NOTHING",
            "SUPERUSER PASSWORD 'x'",
        ] {
            assert!(role_options(bad).is_err(), "{bad}");
        }
        let rhino = user("rhino", &[], Some("SUPERUSER GRANT"));
        let plan = statements(
            &[User {
                spec: &rhino,
                verifier: "",
            }],
            &BTreeSet::new(),
        );
        assert_eq!(plan.rejected_options.len(), 1);
        assert!(!plan.statements.iter().any(|s| s.contains("WITH")));
    }

    #[test]
    fn public_schema_grants_go_to_each_users_databases() {
        let rhino = user("rhino", &["zoo", "shared"], None);
        let other = user("other", &["shared"], None);
        let users = [
            User {
                spec: &rhino,
                verifier: "",
            },
            User {
                spec: &other,
                verifier: "",
            },
        ];
        let grants = schema_grants(&users);
        assert_eq!(grants.keys().collect::<Vec<_>>(), ["shared", "zoo"]);
        assert_eq!(grants["shared"].len(), 2);
        assert!(grants["zoo"][0].contains("GRANT ALL PRIVILEGES ON SCHEMA public TO \"rhino\""));
    }

    #[test]
    fn the_revision_changes_with_anything_the_sql_depends_on() {
        let base = user("rhino", &["zoo"], Some("SUPERUSER"));
        let revision_of =
            |spec: &PostgresUserSpec, verifier: &str| revision(&[User { spec, verifier }]);
        let first = revision_of(&base, "v1");
        assert_eq!(first, revision_of(&base, "v1"));
        assert_ne!(first, revision_of(&base, "v2"));
        assert_ne!(
            first,
            revision_of(&user("rhino", &["zoo"], Some("NOSUPERUSER")), "v1")
        );
        assert_ne!(
            first,
            revision_of(&user("rhino", &["zoo", "x"], Some("SUPERUSER")), "v1")
        );
        assert_ne!(
            first,
            revision_of(&user("rhinos", &["zoo"], Some("SUPERUSER")), "v1")
        );
    }

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_identifier(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
