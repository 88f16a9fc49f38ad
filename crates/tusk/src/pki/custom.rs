//! The user's own certificates: `spec.customTLSSecret` (PostgreSQL's server certificate) and
//! `spec.customReplicationTLSSecret` (the `_crunchyrepl` client certificate), checked from the Secrets as
//! observed.
//!
//! As PGO requires, both are set or neither, and both hold the same `ca.crt`. Each must hold `tls.crt`,
//! `tls.key` and `ca.crt` — under those keys, or under the keys its `items` project to those paths — with a PEM
//! certificate, a PEM private key that belongs to it, and a PEM CA certificate. Tusk does not check who signed
//! the user's certificates, nor their names or dates: replacing them is the user's (or cert-manager's) job.
//!
//! The operator keeps authenticating to PostgreSQL with its own short-lived client certificate from the
//! namespace's root, so under custom TLS PostgreSQL's `ssl_ca_file` is a bundle of the user's CA and that root
//! ([`client_ca_bundle`]), kept in each instance's Secret, which Tusk owns and rewrites when either CA changes.

use super::pem;
use k8s_openapi::api::core::v1::{Secret, SecretProjection};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// The `reason` of the status condition that reports a [`CustomTlsError`].
pub const REASON: &str = "CustomTLSInvalid";

const SERVER_FIELD: &str = "customTLSSecret";
const REPLICATION_FIELD: &str = "customReplicationTLSSecret";
const CERTIFICATE_PATH: &str = "tls.crt";
const PRIVATE_KEY_PATH: &str = "tls.key";
const CA_PATH: &str = "ca.crt";

/// Why the custom certificates cannot be used. Messages are one line and name the field and Secret at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CustomTlsError {
    /// One of the two fields is set without the other.
    #[error("spec.{set} is set without spec.{missing}: set both or neither")]
    OnlyOne {
        /// The field that is set.
        set: &'static str,
        /// The field that is not.
        missing: &'static str,
    },
    /// The referenced Secret does not exist.
    #[error("spec.{field}: Secret {secret} does not exist")]
    SecretMissing {
        /// The spec field.
        field: &'static str,
        /// The Secret's name.
        secret: String,
    },
    /// The field's `items` project nothing to one of the required paths.
    #[error("spec.{field}.items maps no key of Secret {secret} to {path}")]
    NotProjected {
        /// The spec field.
        field: &'static str,
        /// The Secret's name.
        secret: String,
        /// `tls.crt`, `tls.key` or `ca.crt`.
        path: &'static str,
    },
    /// The Secret lacks a key.
    #[error("spec.{field}: Secret {secret} has no key {key} (for {path})")]
    KeyMissing {
        /// The spec field.
        field: &'static str,
        /// The Secret's name.
        secret: String,
        /// The missing key.
        key: String,
        /// The path it is projected to.
        path: &'static str,
    },
    /// A value is not a PEM certificate or private key.
    #[error("spec.{field}: key {key} of Secret {secret} is not a PEM {what}")]
    Unparsable {
        /// The spec field.
        field: &'static str,
        /// The Secret's name.
        secret: String,
        /// The key holding the value.
        key: String,
        /// `certificate` or `private key`.
        what: &'static str,
    },
    /// The private key does not belong to the certificate.
    #[error("spec.{field}: the private key of Secret {secret} does not belong to its certificate")]
    KeyMismatch {
        /// The spec field.
        field: &'static str,
        /// The Secret's name.
        secret: String,
    },
    /// The two Secrets hold different CA certificates.
    #[error("spec.customTLSSecret and spec.customReplicationTLSSecret must hold the same ca.crt")]
    DifferentCa,
}

/// The user's certificates, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Custom {
    /// The CA certificate both Secrets hold (PEM, as the server Secret holds it).
    pub ca: Vec<u8>,
    /// The DER of the server certificate (the first of `tls.crt` in `spec.customTLSSecret`): what every
    /// member should serve once it has loaded the Secret's current contents.
    pub server_certificate: Vec<u8>,
}

/// What PostgreSQL's `ssl_ca_file` trusts under custom TLS: every certificate of the user's CA `custom_ca`,
/// then the namespace's root `root` (both PEM), each once, as PEM. Clients of the user's CA (replication,
/// applications with certificates) and the operator (root-issued) are both admitted; `pg_hba.conf` still
/// decides which role each certificate may be.
pub fn client_ca_bundle(custom_ca: &[u8], root: &[u8]) -> Vec<u8> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut bundle = Vec::new();
    for der in pem_blocks(custom_ca).into_iter().chain(pem_blocks(root)) {
        if seen.contains(&der) {
            continue;
        }
        let block = ::pem::Pem::new("CERTIFICATE", der.clone());
        let lf = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
        bundle.extend_from_slice(::pem::encode_config(&block, lf).as_bytes());
        seen.push(der);
    }
    bundle
}

/// Checks the cluster's custom certificates against `existing` (Secrets of the namespace, by name):
/// `Ok(None)` when the cluster uses Tusk's certificates.
pub fn check(
    cluster: &PostgresCluster,
    existing: &BTreeMap<String, Secret>,
) -> Result<Option<Custom>, CustomTlsError> {
    if !declared(cluster)? {
        return Ok(None);
    }
    let spec = &cluster.spec;
    let (Some(server), Some(replication)) =
        (&spec.custom_tls_secret, &spec.custom_replication_tls_secret)
    else {
        return Ok(None);
    };
    let (server_ca, server_certificate) = check_one(SERVER_FIELD, server, existing)?;
    let (replication_ca, _) = check_one(REPLICATION_FIELD, replication, existing)?;
    if pem_blocks(&server_ca) != pem_blocks(&replication_ca) {
        return Err(CustomTlsError::DifferentCa);
    }
    Ok(Some(Custom {
        ca: server_ca,
        server_certificate,
    }))
}

/// The names of every Secret the cluster references as its own TLS: `spec.customTLSSecret`,
/// `spec.customReplicationTLSSecret` and `spec.proxy.pgBouncer.customTLSSecret`.
pub fn referenced(cluster: &PostgresCluster) -> impl Iterator<Item = &str> {
    let spec = &cluster.spec;
    let bouncer = spec
        .proxy
        .as_ref()
        .and_then(|proxy| proxy.pg_bouncer.custom_tls_secret.as_ref());
    [
        spec.custom_tls_secret.as_ref(),
        spec.custom_replication_tls_secret.as_ref(),
        bouncer,
    ]
    .into_iter()
    .flatten()
    .map(|projection| projection.name.as_str())
}

/// Whether the cluster brings its own certificates, checking only what the spec alone can tell: both fields
/// are set, or neither (`tusk render`, which cannot read the Secrets, stops here).
pub fn declared(cluster: &PostgresCluster) -> Result<bool, CustomTlsError> {
    let spec = &cluster.spec;
    match (&spec.custom_tls_secret, &spec.custom_replication_tls_secret) {
        (None, None) => Ok(false),
        (Some(_), None) => Err(CustomTlsError::OnlyOne {
            set: SERVER_FIELD,
            missing: REPLICATION_FIELD,
        }),
        (None, Some(_)) => Err(CustomTlsError::OnlyOne {
            set: REPLICATION_FIELD,
            missing: SERVER_FIELD,
        }),
        (Some(_), Some(_)) => Ok(true),
    }
}

/// Checks one Secret; returns its `ca.crt` and the DER of its certificate.
fn check_one(
    field: &'static str,
    projection: &SecretProjection,
    existing: &BTreeMap<String, Secret>,
) -> Result<(Vec<u8>, Vec<u8>), CustomTlsError> {
    let secret = projection.name.clone();
    let data = existing
        .get(&secret)
        .ok_or_else(|| CustomTlsError::SecretMissing {
            field,
            secret: secret.clone(),
        })?
        .data
        .clone()
        .unwrap_or_default();
    let value = |path: &'static str| -> Result<(String, Vec<u8>), CustomTlsError> {
        let key = key_for(projection, path).ok_or_else(|| CustomTlsError::NotProjected {
            field,
            secret: secret.clone(),
            path,
        })?;
        match data.get(&key) {
            Some(value) => Ok((key, value.0.clone())),
            None => Err(CustomTlsError::KeyMissing {
                field,
                secret: secret.clone(),
                key,
                path,
            }),
        }
    };
    let unparsable = |key: String, what| CustomTlsError::Unparsable {
        field,
        secret: secret.clone(),
        key,
        what,
    };
    let (certificate_key, certificate) = value(CERTIFICATE_PATH)?;
    let (private_key_key, private_key) = value(PRIVATE_KEY_PATH)?;
    let (ca_key, ca) = value(CA_PATH)?;
    let der = pem::certificate_der(&certificate)
        .ok_or_else(|| unparsable(certificate_key.clone(), "certificate"))?;
    let parsed = pem::parse(&der).ok_or_else(|| unparsable(certificate_key, "certificate"))?;
    if !pem::is_private_key(&private_key) {
        return Err(unparsable(private_key_key, "private key"));
    }
    if !pem::key_matches(&parsed, &private_key) {
        return Err(CustomTlsError::KeyMismatch {
            field,
            secret: secret.clone(),
        });
    }
    if pem_blocks(&ca)
        .first()
        .and_then(|der| pem::parse(der))
        .is_none()
    {
        return Err(unparsable(ca_key, "certificate"));
    }
    Ok((ca, der))
}

/// The Secret key projected to `path`: the path itself without `items`, else the key of the item whose path it
/// is (`None` when no item is).
fn key_for(projection: &SecretProjection, path: &str) -> Option<String> {
    match projection.items.as_deref() {
        None | Some([]) => Some(path.to_string()),
        Some(items) => items
            .iter()
            .find(|item| item.path == path)
            .map(|item| item.key.clone()),
    }
}

/// The DER of every certificate in `pem`, so that two CA bundles compare by content, not by line endings.
fn pem_blocks(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .map_while(Result::ok)
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.contents)
        .collect()
}
