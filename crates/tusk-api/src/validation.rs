//! Checks of a PostgresCluster that its schema cannot express, or that Tusk makes before the API server sees a
//! manifest (`tusk render`): every violation names the field and the rule.
//!
//! The API server enforces the schema (types, required fields, enums, patterns, minimums, list keys); these
//! checks repeat the schema's rules so that offline validation gives the same answers, and add the rules PGO
//! checks in its operator: cron syntax, one storage type per repository, references between fields, and no
//! line breaks in anything that ends up in a configuration file.

use crate::cluster::{POSTGRES_VERSION_MAX, POSTGRES_VERSION_MIN, PostgresCluster};
use crate::common::VolumeClaimSpec;
use crate::pgbackrest::{PgBackRestRepo, REPO_NAME_PATTERN};
use crate::users::PostgresUserSpec;
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

/// Checks a parsed PostgresCluster; an empty list means it is valid.
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
        self.violations.push(Violation { field: field.into(), rule: rule.into() });
    }

    fn cluster(&mut self, cluster: &PostgresCluster) {
        match cluster.metadata.name.as_deref() {
            None | Some("") => self.fail("metadata.name", "is required"),
            Some(name) => self.dns_label("metadata.name", name, true),
        }
        let spec = &cluster.spec;
        self.range("spec.postgresVersion", spec.postgres_version.into(), POSTGRES_VERSION_MIN.into(), POSTGRES_VERSION_MAX.into());
        self.range("spec.port", spec.port.into(), 1024, 65535);

        self.min_items("spec.instances", spec.instances.len(), 1);
        self.unique_keys("spec.instances", spec.instances.iter().map(|set| set.name.as_str()));
        for (i, set) in spec.instances.iter().enumerate() {
            let path = format!("spec.instances[{i}]");
            if !set.name.is_empty() {
                self.dns_label(&format!("{path}.name"), &set.name, false);
            }
            self.range(&format!("{path}.replicas"), set.replicas.into(), 1, i32::MAX.into());
            self.claim(&format!("{path}.dataVolumeClaimSpec"), &set.data_volume_claim_spec);
            if let Some(wal) = &set.wal_volume_claim_spec {
                self.claim(&format!("{path}.walVolumeClaimSpec"), wal);
            }
        }

        self.backups(cluster);

        if let Some(patroni) = &spec.patroni {
            self.range("spec.patroni.leaderLeaseDurationSeconds", patroni.leader_lease_duration_seconds.into(), 3, i32::MAX.into());
            self.range("spec.patroni.port", patroni.port.into(), 1024, 65535);
            self.range("spec.patroni.syncPeriodSeconds", patroni.sync_period_seconds.into(), 1, i32::MAX.into());
            if let Some(dynamic) = &patroni.dynamic_configuration {
                self.no_line_breaks_in_json("spec.patroni.dynamicConfiguration", &serde_json::Value::Object(dynamic.clone()));
            }
        }

        if let Some(proxy) = &spec.proxy {
            let bouncer = &proxy.pg_bouncer;
            self.range("spec.proxy.pgBouncer.port", bouncer.port.into(), 1024, 65535);
            self.range("spec.proxy.pgBouncer.replicas", bouncer.replicas.into(), 0, i32::MAX.into());
            if let Some(config) = &bouncer.config {
                self.settings("spec.proxy.pgBouncer.config.global", config.global.as_ref());
                self.settings("spec.proxy.pgBouncer.config.databases", config.databases.as_ref());
                self.settings("spec.proxy.pgBouncer.config.users", config.users.as_ref());
            }
        }

        for (i, group) in spec.supplemental_groups.iter().flatten().enumerate() {
            self.range(&format!("spec.supplementalGroups[{i}]"), *group, 1, i32::MAX.into());
        }

        if let Some(users) = &spec.users {
            self.unique_keys("spec.users", users.iter().map(|user| user.name.as_str()));
            for (i, user) in users.iter().enumerate() {
                self.user(&format!("spec.users[{i}]"), user);
            }
        }
    }

    fn backups(&mut self, cluster: &PostgresCluster) {
        let spec = &cluster.spec;
        let archive = &spec.backups.pgbackrest;
        let base = "spec.backups.pgbackrest";
        self.settings(&format!("{base}.global"), archive.global.as_ref());
        self.min_items(&format!("{base}.repos"), archive.repos.len(), 1);
        self.unique_keys(&format!("{base}.repos"), archive.repos.iter().map(|repo| repo.name.as_str()));
        for (i, repo) in archive.repos.iter().enumerate() {
            self.repo(&format!("{base}.repos[{i}]"), repo);
        }
        let declared: BTreeSet<&str> = archive.repos.iter().map(|repo| repo.name.as_str()).collect();
        if let Some(manual) = &archive.manual {
            self.declared_repo(&format!("{base}.manual.repoName"), &manual.repo_name, &declared);
        }
        if let Some(restore) = &archive.restore {
            let field = format!("{base}.restore.repoName");
            if restore.cluster_name.is_some() {
                self.repo_name(&field, &restore.repo_name);
            } else {
                self.declared_repo(&field, &restore.repo_name, &declared);
            }
        }
        if let Some(source) = spec.data_source.as_ref().and_then(|source| source.postgres_cluster.as_ref()) {
            self.repo_name("spec.dataSource.postgresCluster.repoName", &source.repo_name);
        }
        if let Some(standby) = &spec.standby {
            self.declared_repo("spec.standby.repoName", &standby.repo_name, &declared);
        }
    }

    fn repo(&mut self, path: &str, repo: &PgBackRestRepo) {
        self.repo_name(&format!("{path}.name"), &repo.name);
        let kinds = [repo.volume.is_some(), repo.s3.is_some(), repo.gcs.is_some(), repo.azure.is_some()];
        if kinds.iter().filter(|set| **set).count() != 1 {
            self.fail(path.to_string(), "must set exactly one of volume, s3, gcs and azure");
        }
        if let Some(volume) = &repo.volume {
            self.claim(&format!("{path}.volume.volumeClaimSpec"), &volume.volume_claim_spec);
        }
        if let Some(schedules) = &repo.schedules {
            for (kind, schedule) in [
                ("full", &schedules.full),
                ("differential", &schedules.differential),
                ("incremental", &schedules.incremental),
            ] {
                if let Some(schedule) = schedule {
                    self.cron(&format!("{path}.schedules.{kind}"), schedule);
                }
            }
        }
    }

    fn user(&mut self, path: &str, user: &PostgresUserSpec) {
        self.dns_label(&format!("{path}.name"), &user.name, false);
        if let Some(options) = &user.options {
            if options.contains(';') {
                self.fail(format!("{path}.options"), "must not contain ';'");
            }
            if options.to_ascii_uppercase().contains("PASSWORD") {
                self.fail(format!("{path}.options"), "cannot assign password: PASSWORD is not allowed, the password lives in the user's Secret");
            }
            self.no_line_breaks(&format!("{path}.options"), options);
        }
        let databases = user.databases.as_deref().unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (i, database) in databases.iter().enumerate() {
            let field = format!("{path}.databases[{i}]");
            if database.is_empty() || database.len() > 63 {
                self.fail(field.clone(), "must be 1 to 63 bytes long");
            }
            if !seen.insert(database.as_str()) {
                self.fail(field.clone(), format!("duplicate database {database:?}"));
            }
            self.no_line_breaks(&field, database);
        }
    }

    fn claim(&mut self, path: &str, claim: &VolumeClaimSpec) {
        if claim.0.access_modes.as_ref().is_none_or(Vec::is_empty) {
            self.fail(format!("{path}.accessModes"), "is required");
        }
        if claim.0.resources.is_none() {
            self.fail(format!("{path}.resources"), "is required");
        }
    }

    fn repo_name(&mut self, field: &str, name: &str) -> bool {
        let valid = matches!(name, "repo1" | "repo2" | "repo3" | "repo4");
        if !valid {
            self.fail(field.to_string(), format!("must be repo1, repo2, repo3 or repo4 (pattern {REPO_NAME_PATTERN}), not {name:?}"));
        }
        valid
    }

    /// A repository name that must also be one of the cluster's own repositories.
    fn declared_repo(&mut self, field: &str, name: &str, declared: &BTreeSet<&str>) {
        if self.repo_name(field, name) && !declared.contains(name) {
            self.fail(field.to_string(), format!("{name:?} is not one of spec.backups.pgbackrest.repos"));
        }
    }

    fn cron(&mut self, field: &str, schedule: &str) {
        if let Err(reason) = check_cron(schedule) {
            self.fail(field.to_string(), format!("{schedule:?} is not a cron schedule of five fields: {reason}"));
        }
    }

    fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            let rule = if max == i64::from(i32::MAX) {
                format!("must be at least {min}, not {value}")
            } else {
                format!("must be between {min} and {max}, not {value}")
            };
            self.fail(field.to_string(), rule);
        }
    }

    fn min_items(&mut self, field: &str, len: usize, min: usize) {
        if len < min {
            self.fail(field.to_string(), format!("must have at least {min} item(s)"));
        }
    }

    fn unique_keys<'a>(&mut self, field: &str, keys: impl Iterator<Item = &'a str>) {
        let mut seen = BTreeSet::new();
        for (i, key) in keys.enumerate() {
            if !seen.insert(key) {
                self.fail(format!("{field}[{i}].name"), format!("duplicate name {key:?}"));
            }
        }
    }

    /// A name that becomes part of object names: a lowercase DNS label (RFC 1123, or RFC 1035 when it must
    /// start with a letter, as Service names do).
    fn dns_label(&mut self, field: &str, value: &str, starts_with_letter: bool) {
        let chars_ok = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ends_ok = !value.starts_with('-') && !value.ends_with('-');
        let first_ok = !starts_with_letter || value.starts_with(|c: char| c.is_ascii_lowercase());
        if value.is_empty() || value.len() > 63 || !chars_ok || !ends_ok || !first_ok {
            let what = if starts_with_letter { "start with a letter, " } else { "" };
            self.fail(
                field.to_string(),
                format!("{value:?} must be 1 to 63 lowercase letters, digits and '-', {what}start and end with a letter or digit"),
            );
        }
    }

    fn settings(&mut self, field: &str, settings: Option<&BTreeMap<String, String>>) {
        for (key, value) in settings.into_iter().flatten() {
            if key.is_empty() || key.chars().any(|c| c.is_control() || c == '=' || c == '[' || c == ']') {
                self.fail(format!("{field}.{key}"), "a setting's name must be non-empty, without '=', brackets or control characters");
            }
            self.no_line_breaks(&format!("{field}.{key}"), value);
        }
    }

    fn no_line_breaks(&mut self, field: &str, value: &str) {
        if value.chars().any(char::is_control) {
            self.fail(field.to_string(), "must not contain line breaks or other control characters");
        }
    }

    fn no_line_breaks_in_json(&mut self, field: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(text) => self.no_line_breaks(field, text),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.no_line_breaks_in_json(&format!("{field}[{i}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let path = format!("{field}.{key}");
                    self.no_line_breaks(&path, key);
                    self.no_line_breaks_in_json(&path, item);
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
            (*b == b'L' || *b == b'W') && (upper.len() == 1 || (i > 0 && bytes[i - 1].is_ascii_digit()))
        });
        if upper.contains('#') || modifier {
            return Err(format!("{field:?} uses L, W or #, which Kubernetes does not support"));
        }
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    parser.parse(schedule).map(|_| ()).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron_accepts_kubernetes_schedules() {
        for schedule in ["0 1 * * 0", "*/5 * * * *", "0 1 * * 1-6", "@daily", "0 0 1 JAN,JUL *", "30 2 * * WED"] {
            assert_eq!(check_cron(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn cron_rejects_what_kubernetes_rejects() {
        for schedule in ["61 * * * *", "* * * *", "0 0 0 * * *", "0 0 L * *", "0 0 15W * *", "0 0 * * 1#2", "every day", "0 0 * * 8"] {
            assert!(check_cron(schedule).is_err(), "{schedule}");
        }
    }
}
