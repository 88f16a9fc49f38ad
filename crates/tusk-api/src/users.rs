//! `spec.users`: PostgreSQL roles, their databases and their Secrets.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The pattern a user name follows: a DNS label, since it is part of the user's Secret name.
pub const USER_NAME_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

/// The pattern `options` follows: no semicolon, so that the options cannot end the `ALTER ROLE` statement.
pub const USER_OPTIONS_PATTERN: &str = "^[^;]*$";

/// A PostgreSQL role whose credentials Tusk keeps in the Secret `<cluster>-pguser-<name>`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostgresUserSpec {
    /// The role's name: lowercase letters, digits and hyphens, starting and ending with a letter or digit.
    #[schemars(pattern(USER_NAME_PATTERN), length(min = 1, max = 63))]
    pub name: String,
    /// Databases the role may connect to and create objects in; each is created if missing. Removing one from
    /// the list takes nothing away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(length(min = 1, max = 63)))]
    pub databases: Option<Vec<String>>,
    /// `ALTER ROLE` options, for example `SUPERUSER` or `CREATEDB NOLOGIN`, but never `PASSWORD`: the password
    /// lives in the Secret. Ignored for the `postgres` user. More info:
    /// https://www.postgresql.org/docs/current/role-attributes.html
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(USER_OPTIONS_PATTERN), length(max = 200))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "!self.matches('(?i)PASSWORD')",
        "message": "cannot assign password"
    }]))]
    pub options: Option<String>,
}
