//! The rules of a PostgresCluster beyond its OpenAPI schema (which `schema_check` applies): the CEL rules of the
//! CRD, and the checks PGO makes in its operator. Every violation names the field and the rule.
//!
//! - CEL rules, repeated here so that offline validation gives the API server's answers: no `PASSWORD` in user
//!   options, one storage type per repository, manual backups and standbys name a declared repository.
//! - Operator rules: cron syntax of backup schedules, the cluster name is a DNS-1035 label (it names Services),
//!   ports are at most 65535, and nothing that lands in a configuration file holds a line break or another
//!   control character (no injected lines).

use crate::cluster::PostgresCluster;
use crate::pgbackrest::PgBackRestRepo;
use croner::parser::{CronParser, Seconds, Year};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One broken rule: where, and what the rule is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The field's path, as `kubectl explain` spells it: `spec.backups.pgbackrest.repos[0].name`.
    pub field: String,
    /// The rule the value breaks, in words.
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

/// Checks a parsed PostgresCluster against the rules its schema cannot hold; an empty list means it is valid.
pub fn validate(cluster: &PostgresCluster) -> Vec<Violation> {
    let mut check = Checker::default();
    check.cluster(cluster);
    check.violations
}

#[derive(Default)]
struct Checker {
    violations: Vec<Violation>,
}

impl Checker {
    fn fail(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.violations.push(Violation {
            field: field.into(),
            rule: rule.into(),
        });
    }

    fn cluster(&mut self, cluster: &PostgresCluster) {
        match cluster.metadata.name.as_deref() {
            None | Some("") => self.fail("metadata.name", "is required"),
            Some(name) => self.dns_1035_label("metadata.name", name),
        }
        let spec = &cluster.spec;
        self.port("spec.port", spec.port);
        self.backups(cluster);
        if let Some(patroni) = &spec.patroni {
            self.port("spec.patroni.port", patroni.port);
            if let Some(dynamic) = &patroni.dynamic_configuration {
                for (key, value) in dynamic {
                    self.no_control_characters_in_json(
                        &format!("spec.patroni.dynamicConfiguration.{key}"),
                        value,
                    );
                }
            }
        }
        if let Some(proxy) = &spec.proxy {
            let bouncer = &proxy.pg_bouncer;
            self.port("spec.proxy.pgBouncer.port", bouncer.port);
            if let Some(config) = &bouncer.config {
                self.settings("spec.proxy.pgBouncer.config.global", config.global.as_ref());
                self.settings(
                    "spec.proxy.pgBouncer.config.databases",
                    config.databases.as_ref(),
                );
                self.settings("spec.proxy.pgBouncer.config.users", config.users.as_ref());
            }
        }
        for (i, user) in spec.users.iter().flatten().enumerate() {
            if let Some(options) = &user.options {
                let field = format!("spec.users[{i}].options");
                if options.to_ascii_uppercase().contains("PASSWORD") {
                    self.fail(
                        field.clone(),
                        "cannot assign password: the password lives in the user's Secret",
                    );
                }
                self.no_control_characters(&field, options);
            }
            for (j, database) in user.databases.iter().flatten().enumerate() {
                self.no_control_characters(&format!("spec.users[{i}].databases[{j}]"), database);
            }
        }
    }

    fn backups(&mut self, cluster: &PostgresCluster) {
        let spec = &cluster.spec;
        let archive = &spec.backups.pgbackrest;
        let base = "spec.backups.pgbackrest";
        self.settings(&format!("{base}.global"), archive.global.as_ref());
        for (i, repo) in archive.repos.iter().enumerate() {
            self.repo(&format!("{base}.repos[{i}]"), repo);
        }
        let declared: BTreeSet<&str> = archive
            .repos
            .iter()
            .map(|repo| repo.name.as_str())
            .collect();
        if let Some(manual) = &archive.manual {
            self.declared_repo(
                &format!("{base}.manual.repoName"),
                &manual.repo_name,
                &declared,
            );
        }
        if let Some(restore) = archive
            .restore
            .as_ref()
            .filter(|restore| restore.cluster_name.is_none())
        {
            self.declared_repo(
                &format!("{base}.restore.repoName"),
                &restore.repo_name,
                &declared,
            );
        }
        if let Some(standby) = &spec.standby {
            self.declared_repo("spec.standby.repoName", &standby.repo_name, &declared);
        }
    }

    fn repo(&mut self, path: &str, repo: &PgBackRestRepo) {
        let kinds = [
            repo.volume.is_some(),
            repo.s3.is_some(),
            repo.gcs.is_some(),
            repo.azure.is_some(),
        ];
        if kinds.iter().filter(|set| **set).count() != 1 {
            self.fail(
                path.to_string(),
                "must set exactly one of volume, s3, gcs and azure",
            );
        }
        if let Some(schedules) = &repo.schedules {
            for (kind, schedule) in [
                ("full", &schedules.full),
                ("differential", &schedules.differential),
                ("incremental", &schedules.incremental),
            ] {
                if let Some(schedule) = schedule
                    && let Err(reason) = check_cron(schedule)
                {
                    self.fail(
                        format!("{path}.schedules.{kind}"),
                        format!("{schedule:?} is not a cron schedule of five fields: {reason}"),
                    );
                }
            }
        }
    }

    /// A repository name that must be one of the cluster's own repositories.
    fn declared_repo(&mut self, field: &str, name: &str, declared: &BTreeSet<&str>) {
        if !declared.contains(name) {
            self.fail(
                field.to_string(),
                format!("{name:?} is not one of spec.backups.pgbackrest.repos"),
            );
        }
    }

    fn port(&mut self, field: &str, port: i32) {
        if port > i32::from(u16::MAX) {
            self.fail(
                field.to_string(),
                format!("must be at most 65535, not {port}"),
            );
        }
    }

    /// The cluster name prefixes Service names, which are DNS-1035 labels.
    fn dns_1035_label(&mut self, field: &str, value: &str) {
        let chars_ok = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let first_ok = value.starts_with(|c: char| c.is_ascii_lowercase());
        if value.len() > 63 || !chars_ok || !first_ok || value.ends_with('-') {
            self.fail(
                field.to_string(),
                format!(
                    "{value:?} must be at most 63 lowercase letters, digits and '-', start with a letter and end \
                     with a letter or digit: it names the cluster's Services"
                ),
            );
        }
    }

    fn settings(&mut self, field: &str, settings: Option<&BTreeMap<String, String>>) {
        for (key, value) in settings.into_iter().flatten() {
            let path = format!("{field}.{key}");
            if key.is_empty()
                || key
                    .chars()
                    .any(|c| c.is_control() || c == '=' || c == '[' || c == ']')
            {
                self.fail(path.clone(), "a setting's name must be non-empty, without '=', brackets or control characters");
            }
            self.no_control_characters(&path, value);
        }
    }

    fn no_control_characters(&mut self, field: &str, value: &str) {
        if value.chars().any(char::is_control) {
            self.fail(
                field.to_string(),
                "must not contain line breaks or other control characters",
            );
        }
    }

    fn no_control_characters_in_json(&mut self, field: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.no_control_characters(field, text),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.no_control_characters_in_json(&format!("{field}[{i}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let path = format!("{field}.{key}");
                    self.no_control_characters(&path, key);
                    self.no_control_characters_in_json(&path, item);
                }
            }
            _ => {}
        }
    }
}

/// Checks a Kubernetes CronJob schedule: five fields (or a `@daily`-style macro), none of the extensions
/// (`L`, `W`, `#`, seconds, years) that Kubernetes does not understand.
pub fn check_cron(schedule: &str) -> Result<(), String> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    let is_macro = fields.len() == 1 && fields[0].starts_with('@');
    if !is_macro && fields.len() != 5 {
        return Err(format!("it has {} fields", fields.len()));
    }
    for field in &fields {
        let upper = field.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        let modifier = bytes.iter().enumerate().any(|(i, b)| {
            (*b == b'L' || *b == b'W')
                && (upper.len() == 1 || (i > 0 && bytes[i - 1].is_ascii_digit()))
        });
        if upper.contains('#') || modifier {
            return Err(format!(
                "{field:?} uses L, W or #, which Kubernetes does not support"
            ));
        }
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser
        .parse(schedule)
        .map(|_| ())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron_accepts_kubernetes_schedules() {
        for schedule in [
            "0 1 * * 0",
            "*/5 * * * *",
            "0 1 * * 1-6",
            "@daily",
            "0 0 1 JAN,JUL *",
            "30 2 * * WED",
        ] {
            assert_eq!(check_cron(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn cron_rejects_what_kubernetes_rejects() {
        for schedule in [
            "61 * * * *",
            "* * * *",
            "0 0 0 * * *",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 * * 1#2",
            "every day",
            "0 0 * * 8",
        ] {
            assert!(check_cron(schedule).is_err(), "{schedule}");
        }
    }
}
