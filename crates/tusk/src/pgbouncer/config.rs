//! PgBouncer's configuration file ([`super::MAIN_FILE`]), written with the injection-safe INI writer.
//!
//! One `[pgbouncer]` section: it begins with `%include` of the user's file ([`super::USER_FILE`], from
//! `config.files`, empty otherwise), then Tusk's settings with `config.global` over them, so that both override
//! what the user's file says, as PGO intends. PGO opens `[pgbouncer]` twice (its settings after the
//! include); PgBouncer 1.18 resets every setting when the section opens again, which would drop the user's
//! file: Tusk never opens a section twice. A user's file that ends in another section would take Tusk's
//! settings into it: `config.files` must hold `[pgbouncer]` settings only.
//!
//! `[databases]`: `config.databases`, or one `*` entry that sends every database to the primary's Service.
//! `[users]`: `config.users`, when given. `conffile` always names this file (PGO: the user must not bypass it).

use super::{AUTH_QUERY, AUTH_USER, MAIN_FILE, USER_FILE, private_file};
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::pgbackrest::ConfigError;
use crate::pgbackrest::ini::Ini;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::proxy::PgBouncerPodSpec;

const SECTION: &str = "pgbouncer";
/// The ConfigMap key of the configuration file.
pub const FILE_KEY: &str = "pgbouncer.ini";
/// The ConfigMap key of an empty file, mounted as [`USER_FILE`] so that the include always finds a file.
pub const EMPTY_KEY: &str = "pgbouncer-empty";
const GLOBAL_FIELD: &str = "spec.proxy.pgBouncer.config.global";
const DATABASES_FIELD: &str = "spec.proxy.pgBouncer.config.databases";
const USERS_FIELD: &str = "spec.proxy.pgBouncer.config.users";

/// The auth file (the password of [`AUTH_USER`]), client certificate files and PostgreSQL's CA, under
/// [`super::PRIVATE_DIRECTORY`].
pub const AUTH_FILE: &str = "users.txt";
/// The certificate PgBouncer presents to clients.
pub const FRONTEND_CERTIFICATE: &str = "frontend-tls.crt";
/// Its private key.
pub const FRONTEND_KEY: &str = "frontend-tls.key";
/// The CA of clients' certificates.
pub const FRONTEND_CA: &str = "frontend-ca.crt";
/// The CA PostgreSQL's certificate is verified with.
pub const BACKEND_CA: &str = "backend-ca.crt";

/// Tusk's settings of the `[pgbouncer]` section, before `config.global`.
fn defaults(bouncer: &PgBouncerPodSpec) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("auth_file", private_file(AUTH_FILE)),
        ("auth_query", AUTH_QUERY.to_string()),
        ("auth_user", AUTH_USER.to_string()),
        ("client_tls_ca_file", private_file(FRONTEND_CA)),
        ("client_tls_cert_file", private_file(FRONTEND_CERTIFICATE)),
        ("client_tls_key_file", private_file(FRONTEND_KEY)),
        ("client_tls_sslmode", "require".to_string()),
        // Some drivers (JDBC) send it; PgBouncer refuses unknown startup parameters.
        (
            "ignore_startup_parameters",
            "extra_float_digits".to_string(),
        ),
        ("listen_addr", "*".to_string()),
        ("listen_port", bouncer.port.to_string()),
        ("server_tls_ca_file", private_file(BACKEND_CA)),
        ("server_tls_sslmode", "verify-full".to_string()),
        // No socket: a pod's PgBouncer is reached over TCP (and TLS) only.
        ("unix_socket_dir", String::new()),
    ])
}

/// The configuration file of `cluster`'s PgBouncer `bouncer`; an error names a setting that cannot be
/// written safely.
pub fn file(cluster: &PostgresCluster, bouncer: &PgBouncerPodSpec) -> Result<String, ConfigError> {
    let config = bouncer.config.clone().unwrap_or_default();
    let mut ini = Ini::new();
    ini.include(SECTION, USER_FILE, "spec.proxy.pgBouncer.config.files")?;
    for (key, value) in defaults(bouncer) {
        ini.set(SECTION, key, &value, "spec.proxy.pgBouncer")?;
    }
    for (key, value) in config.global.iter().flatten() {
        ini.set(SECTION, key, value, &format!("{GLOBAL_FIELD}.{key}"))?;
    }
    ini.set(SECTION, "conffile", MAIN_FILE, GLOBAL_FIELD)?;
    let databases = config
        .databases
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| {
            let primary = names::primary_service(&cluster.name_any());
            BTreeMap::from([(
                "*".to_string(),
                format!("host={primary} port={}", cluster.spec.port),
            )])
        });
    for (name, connection) in &databases {
        ini.set(
            "databases",
            name,
            connection,
            &format!("{DATABASES_FIELD}.{name}"),
        )?;
    }
    for (name, settings) in config.users.iter().flatten() {
        ini.set("users", name, settings, &format!("{USERS_FIELD}.{name}"))?;
    }
    Ok(format!(
        "# Written by Tusk from spec.proxy.pgBouncer: changes here are overwritten.\n{}",
        ini.render()
    ))
}

/// The ConfigMap `<c>-pgbouncer` of `cluster`'s PgBouncer `bouncer` holding the configuration `file`.
pub fn config_map(
    cluster: &PostgresCluster,
    bouncer: &PgBouncerPodSpec,
    file: String,
) -> ConfigMap {
    let name = cluster.name_any();
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::pgbouncer(&name),
            bouncer.metadata.as_ref(),
            labels::pgbouncer(&name),
        ),
        data: Some(BTreeMap::from([
            (EMPTY_KEY.to_string(), String::new()),
            (FILE_KEY.to_string(), file),
        ])),
        ..ConfigMap::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbouncer::hippo_with_proxy;
    use tusk_api::proxy::PgBouncerConfiguration;

    fn render(proxy: &str) -> Result<String, ConfigError> {
        let cluster = hippo_with_proxy(proxy, "");
        let bouncer = super::super::spec(&cluster).expect("a proxy");
        file(&cluster, bouncer)
    }

    #[test]
    fn one_pgbouncer_section_includes_the_user_file_first_and_every_database_goes_to_the_primary() {
        let text = render("port: 6432").expect("renders");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "[pgbouncer]");
        assert_eq!(lines[2], "%include /etc/pgbouncer/pgbouncer.ini");
        assert_eq!(text.matches("[pgbouncer]").count(), 1, "{text}");
        assert!(text.contains("\nlisten_port=6432\n"), "{text}");
        assert!(text.contains("\nauth_user=_crunchypgbouncer\n"), "{text}");
        assert!(
            text.contains("\nauth_query=SELECT username, password from pgbouncer.get_auth($1)\n"),
            "{text}"
        );
        assert!(
            text.contains("\nserver_tls_sslmode=verify-full\n"),
            "{text}"
        );
        assert!(text.contains("\nconffile=/etc/pgbouncer/~postgres-operator.ini\n"));
        assert!(
            text.ends_with("[databases]\n*=host=hippo-primary port=5432\n"),
            "{text}"
        );
        assert!(!text.contains("[users]"));
    }

    #[test]
    fn global_overrides_tusk_but_not_conffile_and_databases_replace_the_default() {
        let text = render(
            "config: {global: {pool_mode: transaction, client_tls_sslmode: verify-full, conffile: /tmp/x}, \
             databases: {app: host=hippo-primary port=5432 dbname=app}, users: {app: pool_mode=session}}",
        )
        .expect("renders");
        assert!(text.contains("\npool_mode=transaction\n"), "{text}");
        assert!(
            text.contains("\nclient_tls_sslmode=verify-full\n"),
            "{text}"
        );
        assert!(!text.contains("client_tls_sslmode=require"), "{text}");
        assert!(text.contains("\nconffile=/etc/pgbouncer/~postgres-operator.ini\n"));
        assert!(!text.contains("/tmp/x"));
        assert!(text.contains("[databases]\napp=host=hippo-primary port=5432 dbname=app\n"));
        assert!(!text.contains("*="), "{text}");
        assert!(text.ends_with("[users]\napp=pool_mode=session\n"), "{text}");
    }

    #[test]
    fn a_setting_that_would_add_lines_or_directives_is_refused_naming_its_field() {
        let one = |key: &str, value: &str| Some(BTreeMap::from([(key.into(), value.into())]));
        for (config, field) in [
            (
                PgBouncerConfiguration {
                    global: one("pool_mode", "session\nauth_type = trust"),
                    ..PgBouncerConfiguration::default()
                },
                "spec.proxy.pgBouncer.config.global.pool_mode",
            ),
            (
                PgBouncerConfiguration {
                    global: one("%include", "/etc/passwd"),
                    ..PgBouncerConfiguration::default()
                },
                "spec.proxy.pgBouncer.config.global.%include",
            ),
            (
                PgBouncerConfiguration {
                    databases: one("x]\n[pgbouncer", "y"),
                    ..PgBouncerConfiguration::default()
                },
                "spec.proxy.pgBouncer.config.databases.x]\n[pgbouncer",
            ),
            (
                PgBouncerConfiguration {
                    users: one("app", "pool_mode=session\r[pgbouncer]"),
                    ..PgBouncerConfiguration::default()
                },
                "spec.proxy.pgBouncer.config.users.app",
            ),
        ] {
            let cluster = hippo_with_proxy("port: 5432", "");
            let mut bouncer = super::super::spec(&cluster).expect("a proxy").clone();
            bouncer.config = Some(config);
            let error = file(&cluster, &bouncer).expect_err(field);
            assert_eq!(error.field, field);
        }
    }
}
