//! Leaf certificates: issued by the root for one subject, and kept while they are still good.

use super::pem::{self, Pair};
use super::root::{self, Root};
use super::{LEAF_LIFETIME, TlsError};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use std::collections::BTreeSet;
use std::time::SystemTime;
use x509_parser::extensions::GeneralName;

/// Who a leaf certificate is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The common name.
    pub common_name: String,
    /// The DNS subject alternative names, in the order they are written; empty for a client certificate.
    pub dns_names: Vec<String>,
}

/// A leaf certificate and when it is due.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The certificate and its key.
    pub pair: Pair,
    /// When 2/3 of its lifetime will have passed.
    pub renew_at: SystemTime,
}

/// The leaf for `subject`: `existing` when it is still good (see [`renew_at`]), otherwise a new one signed by
/// `root`. `what` names the certificate in errors.
///
/// Every leaf may serve and may authenticate as a client (extended key usages `serverAuth` and `clientAuth`):
/// the instance and repository host certificates do both for pgBackRest, and one profile keeps the rule simple.
pub fn leaf(
    what: &str,
    subject: &Subject,
    existing: Option<Pair>,
    root: &Root,
    now: SystemTime,
) -> Result<Leaf, TlsError> {
    if let Some(pair) = existing
        && let Some(renew_at) = renew_at(&pair, subject, root, now)
    {
        return Ok(Leaf { pair, renew_at });
    }
    issue(what, subject, root, now)
}

/// When `pair` is due, provided it is still good at `now`: its key matches its certificate, the current root
/// signed it, its common name and DNS names are exactly `subject`'s, and 2/3 of its lifetime have not passed.
/// `None` when it must be reissued.
pub fn renew_at(
    pair: &Pair,
    subject: &Subject,
    root: &Root,
    now: SystemTime,
) -> Option<SystemTime> {
    let der = pem::certificate_der(&pair.certificate)?;
    let certificate = pem::parse(&der)?;
    let renew_at = root::renew_at(&certificate)?;
    let common_names: Vec<&str> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|name| name.as_str().ok())
        .collect();
    let dns_names: BTreeSet<&str> = match certificate.subject_alternative_name() {
        Ok(Some(names)) => names
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(name) => Some(*name),
                _ => None,
            })
            .collect(),
        Ok(None) => BTreeSet::new(),
        Err(_) => return None,
    };
    let wanted: BTreeSet<&str> = subject.dns_names.iter().map(String::as_str).collect();
    let good = now < renew_at
        && common_names == [subject.common_name.as_str()]
        && dns_names == wanted
        && root.signed(&certificate)
        && pem::key_matches(&certificate, &pair.private_key);
    good.then_some(renew_at)
}

/// A new leaf for `subject`, signed by `root`, valid for [`LEAF_LIFETIME`] from `now` (less the back-dating).
pub fn issue(
    what: &str,
    subject: &Subject,
    root: &Root,
    now: SystemTime,
) -> Result<Leaf, TlsError> {
    issue_for(what, subject, root, now, LEAF_LIFETIME)
}

/// A new leaf for `subject`, signed by `root`, valid for `lifetime` from `now` (less the back-dating): a
/// short-lived client certificate handed to a Job.
pub fn issue_for(
    what: &str,
    subject: &Subject,
    root: &Root,
    now: SystemTime,
    lifetime: std::time::Duration,
) -> Result<Leaf, TlsError> {
    let failed = |error: rcgen::Error| TlsError::Generate {
        what: what.to_string(),
        reason: error.to_string(),
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = CertificateParams::new(subject.dns_names.clone()).map_err(failed)?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, subject.common_name.as_str());
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = root::validity(now, lifetime);
    let certificate = params.signed_by(&key, root.issuer()).map_err(failed)?;
    let der = certificate.der();
    let renew_at = pem::parse(der)
        .as_ref()
        .and_then(root::renew_at)
        .expect("rcgen writes certificates x509-parser reads");
    Ok(Leaf {
        pair: Pair {
            certificate: certificate.pem().into_bytes(),
            private_key: key.serialize_pem().into_bytes(),
        },
        renew_at,
    })
}
