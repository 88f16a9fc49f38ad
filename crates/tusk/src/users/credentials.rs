//! A user's password and SCRAM-SHA-256 verifier: kept from the user's Secret when it has them, made when it
//! does not. The only step of a reconcile that draws randomness; it does no I/O.

use k8s_openapi::api::core::v1::Secret;
use rand::distr::{Alphanumeric, SampleString};

/// The length of generated passwords: 24 letters and digits, about 143 bits.
pub const PASSWORD_LEN: usize = 24;

/// A password and the verifier PostgreSQL stores for it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The password, for clients.
    pub password: String,
    /// Its SCRAM-SHA-256 verifier, for PostgreSQL (`SCRAM-SHA-256$4096:<salt>$<stored key>:<server key>`).
    pub verifier: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// The credentials of a user whose Secret is `existing`:
/// - both `password` and `verifier` there: kept as they are (the verifier is what PostgreSQL gets);
/// - a `password` alone (a person set it): kept, and a verifier made for it;
/// - neither: a new random password and its verifier.
pub fn credentials(existing: Option<&Secret>) -> Credentials {
    credentials_at(existing, "password", "verifier")
}

/// [`credentials`] kept under the keys `password_key` and `verifier_key` of `existing` (PgBouncer's Secret
/// keeps its role's as `pgbouncer-password` and `pgbouncer-verifier`).
pub fn credentials_at(
    existing: Option<&Secret>,
    password_key: &str,
    verifier_key: &str,
) -> Credentials {
    let field = |key: &str| {
        existing
            .and_then(|secret| secret.data.as_ref())
            .and_then(|data| data.get(key))
            .and_then(|value| String::from_utf8(value.0.clone()).ok())
            .filter(|value| !value.is_empty())
    };
    let password = field(password_key)
        .unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::rng(), PASSWORD_LEN));
    let verifier = match (field(password_key), field(verifier_key)) {
        (Some(_), Some(verifier))
            if verifier.starts_with("SCRAM-SHA-256$") || verifier.starts_with("md5") =>
        {
            verifier
        }
        _ => postgres_protocol::password::scram_sha_256(password.as_bytes()),
    };
    Credentials { password, verifier }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        let data: BTreeMap<String, ByteString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect();
        Secret {
            data: Some(data),
            ..Secret::default()
        }
    }

    /// The docs' Custom Passwords example.
    const DATALAKE: &str = "SCRAM-SHA-256$4096:FAnSkUrL3jH6Bp17P5FTuQ==$BecLU0YXzBUwnTk3b3ghIZ7/zS2XvD8wX50Hz5JL0q4=:pxuEtozYTZpAc6wINV53sCr4Afxk8LLfor5MvkYp21s=";

    #[test]
    fn a_new_user_gets_a_strong_password_and_its_verifier() {
        let made = credentials(None);
        assert_eq!(made.password.len(), PASSWORD_LEN);
        assert!(made.password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(made.verifier.starts_with("SCRAM-SHA-256$4096:"));
        assert_ne!(
            credentials(None).password,
            made.password,
            "passwords are random"
        );
    }

    #[test]
    fn a_custom_password_and_verifier_are_kept() {
        let kept = credentials(Some(&secret(&[
            ("password", "datalake"),
            ("verifier", DATALAKE),
        ])));
        assert_eq!(
            (kept.password.as_str(), kept.verifier.as_str()),
            ("datalake", DATALAKE)
        );
    }

    #[test]
    fn a_password_alone_gets_a_verifier() {
        let kept = credentials(Some(&secret(&[("password", "datalake")])));
        assert_eq!(kept.password, "datalake");
        assert!(kept.verifier.starts_with("SCRAM-SHA-256$4096:"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let shown = format!(
            "{:?}",
            credentials(Some(&secret(&[("password", "datalake")])))
        );
        assert!(!shown.contains("datalake"));
    }
}
