//! A small writer of pgBackRest's INI files that cannot be tricked into writing more than it was given.
//!
//! Keys and values come partly from the spec (`global`, bucket names, endpoints...). A newline in a value
//! would start a new line of the file, so a user could add any option, or a whole section, that Tusk did
//! not mean to write; an `=` or a bracket in a key would do the same in other ways. Every key and value is
//! checked as it is set, and a bad one is an error that names the spec field it came from.
//!
//! Each section keeps one value per key (a later `set` replaces an earlier one, as `global` overrides
//! Tusk's defaults) and writes its keys sorted, so the same settings always render the same bytes.

use super::ConfigError;
use std::collections::BTreeMap;

/// An INI document: named sections, written in the order they were first used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ini {
    sections: Vec<(String, BTreeMap<String, String>)>,
    includes: Vec<(String, String)>,
}

impl Ini {
    /// An empty document.
    pub fn new() -> Ini {
        Ini::default()
    }

    /// Sets `key` to `value` in `section` (created on first use). `field` is the spec field the key or value
    /// came from, named in the error when either is unsafe to write.
    pub fn set(
        &mut self,
        section: &str,
        key: &str,
        value: &str,
        field: &str,
    ) -> Result<(), ConfigError> {
        check_key(key, field)?;
        check_value(value, field)?;
        let index = match self.sections.iter().position(|(name, _)| name == section) {
            Some(index) => index,
            None => {
                self.sections.push((section.to_string(), BTreeMap::new()));
                self.sections.len() - 1
            }
        };
        self.sections[index]
            .1
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Makes `section` (created on first use) begin with `%include path` (PgBouncer's directive), so that
    /// the section's own keys, written after it, override the included file's. `field` is named in the
    /// error when the path is unsafe to write.
    pub fn include(&mut self, section: &str, path: &str, field: &str) -> Result<(), ConfigError> {
        check_value(path, field)?;
        if !self.sections.iter().any(|(name, _)| name == section) {
            self.sections.push((section.to_string(), BTreeMap::new()));
        }
        self.includes.push((section.to_string(), path.to_string()));
        Ok(())
    }

    /// The value of `key` in `section`, if set.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(name, _)| name == section)
            .and_then(|(_, keys)| keys.get(key))
            .map(String::as_str)
    }

    /// The document as text: `[section]` lines followed by `key=value` lines, a blank line between sections.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (index, (name, keys)) in self.sections.iter().enumerate() {
            if index > 0 {
                out.push('\n');
            }
            out.push_str(&format!("[{name}]\n"));
            for (_, path) in self.includes.iter().filter(|(section, _)| section == name) {
                out.push_str(&format!("%include {path}\n"));
            }
            for (key, value) in keys {
                out.push_str(&format!("{key}={value}\n"));
            }
        }
        out
    }
}

/// A key must be a single word: not empty, no whitespace or control characters (newline, carriage return,
/// NUL...), no `=` (which would end it early), no `[` or `]` (which could read as a section), no leading
/// `#` or `;` (which would make the line a comment) and no leading `%` (a directive, like `%include`).
fn check_key(key: &str, field: &str) -> Result<(), ConfigError> {
    if key.is_empty() {
        return Err(ConfigError::new(field, "a key must not be empty"));
    }
    if key.starts_with(['#', ';', '%']) {
        return Err(ConfigError::new(
            field,
            format!("key {key:?} must not start with a comment character or '%'"),
        ));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '=' | '[' | ']'))
    {
        return Err(ConfigError::new(
            field,
            format!("key {key:?} must not contain {bad:?}"),
        ));
    }
    Ok(())
}

/// A value must stay on its line: no control characters (newline, carriage return, NUL, ...).
fn check_value(value: &str, field: &str) -> Result<(), ConfigError> {
    if let Some(bad) = value.chars().find(|c| c.is_control()) {
        return Err(ConfigError::new(
            field,
            format!("value must not contain {bad:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_in_order_and_keys_sorted_with_later_values_winning() {
        let mut ini = Ini::new();
        ini.set("global", "repo1-path", "/pgbackrest/repo1", "a")
            .unwrap();
        ini.set("db", "pg1-path", "/pgdata/pg16", "b").unwrap();
        ini.set("global", "archive-async", "y", "c").unwrap();
        ini.set("global", "repo1-path", "/elsewhere", "d").unwrap();
        assert_eq!(
            ini.render(),
            "[global]\narchive-async=y\nrepo1-path=/elsewhere\n\n[db]\npg1-path=/pgdata/pg16\n"
        );
        assert_eq!(ini.get("global", "repo1-path"), Some("/elsewhere"));
    }

    #[test]
    fn unsafe_keys_and_values_are_rejected_naming_the_field() {
        let mut ini = Ini::new();
        for (key, value) in [
            ("repo1-path", "/x\n[db]\npg1-path=/etc"),
            ("repo1-path", "/x\rpg1-host=evil"),
            ("repo1-path", "/x\0"),
            ("repo1-path=/x\nrepo2-path", "/y"),
            ("a=b", "c"),
            ("[db]", "c"),
            ("a]", "c"),
            ("a b", "c"),
            ("", "c"),
            ("#x", "c"),
            ("%include", "/etc/passwd"),
        ] {
            let error = ini.set("global", key, value, "spec.x").unwrap_err();
            assert_eq!(error.field, "spec.x", "{key:?}={value:?}");
        }
        assert_eq!(ini.render(), "", "nothing was written");
    }

    #[test]
    fn an_include_opens_its_section_before_the_keys_that_override_it() {
        let mut ini = Ini::new();
        ini.set("databases", "*", "host=hippo-primary", "a")
            .unwrap();
        ini.include("pgbouncer", "/etc/pgbouncer/pgbouncer.ini", "b")
            .unwrap();
        ini.set("pgbouncer", "listen_port", "5432", "c").unwrap();
        assert_eq!(
            ini.render(),
            "[databases]\n*=host=hippo-primary\n\n[pgbouncer]\n%include /etc/pgbouncer/pgbouncer.ini\nlisten_port=5432\n"
        );
        assert!(ini.include("pgbouncer", "/x\n[users]", "d").is_err());
    }
}
