//! When the certificates in a cluster's Secrets expire.

use crate::pki::pem;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

/// The certificate in one Secret that expires first.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// The Secret.
    pub secret: String,
    /// The key that holds it.
    pub key: String,
    /// Its subject's common name.
    pub common_name: String,
    /// When it expires.
    pub not_after: Timestamp,
    /// Whole days until then (negative once expired).
    pub days_left: i64,
}

/// For each of `secrets` that holds certificates (keys ending in `.crt`), the one that expires first; the
/// soonest first.
pub fn certificates(secrets: &[Secret], now: Timestamp) -> Vec<Certificate> {
    let mut found: Vec<Certificate> = secrets
        .iter()
        .filter_map(|secret| {
            secret
                .data
                .iter()
                .flatten()
                .filter(|(key, _)| key.ends_with(".crt"))
                .filter_map(|(key, value)| {
                    let der = pem::certificate_der(&value.0)?;
                    let certificate = pem::parse(&der)?;
                    let not_after =
                        Timestamp::from_second(certificate.validity().not_after.timestamp())
                            .ok()?;
                    let common_name = certificate
                        .subject()
                        .iter_common_name()
                        .find_map(|cn| cn.as_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    Some(Certificate {
                        secret: secret.metadata.name.clone().unwrap_or_default(),
                        key: key.clone(),
                        common_name,
                        days_left: (not_after.as_second() - now.as_second()).div_euclid(86_400),
                        not_after,
                    })
                })
                .min_by_key(|c| c.not_after)
        })
        .collect();
    found.sort_by(|a, b| {
        a.not_after
            .cmp(&b.not_after)
            .then_with(|| a.secret.cmp(&b.secret))
    });
    found
}
