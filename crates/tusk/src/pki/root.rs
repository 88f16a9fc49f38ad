//! The namespace's root certificate authority, kept in Secret `pgo-root-cacert` as `root.crt` and `root.key`.

use super::pem::{self, Pair};
use super::{BACKDATE, ROOT_LIFETIME, TlsError};
use crate::naming::names;
use k8s_openapi::api::core::v1::Secret;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use x509_parser::certificate::X509Certificate;

/// The key of the root certificate (PEM) in `pgo-root-cacert`.
pub const CERTIFICATE_KEY: &str = "root.crt";
/// The key of the root's private key (PEM) in `pgo-root-cacert`.
pub const PRIVATE_KEY_KEY: &str = "root.key";

/// A root CA that can sign leaves.
pub struct Root {
    /// The certificate and key, as the Secret holds (or will hold) them.
    pub pair: Pair,
    /// The certificate's DER, to check the signatures of leaves.
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    /// When 2/3 of the root's lifetime will have passed.
    pub renew_at: SystemTime,
    /// Whether the root was made now rather than read from its Secret.
    pub is_new: bool,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root")
            .field("pair", &self.pair)
            .field("renew_at", &self.renew_at)
            .field("is_new", &self.is_new)
            .finish_non_exhaustive()
    }
}

impl Root {
    /// The root in `secret`, when it holds a CA certificate and its private key, and the root is not due at
    /// `now`. `None` means a new root is needed. A root PGO made (SEC 1 `EC PRIVATE KEY`, signed with
    /// ECDSA-SHA384) is adopted as it is, so clients that trust it keep working when Tusk takes over.
    pub fn from_secret(secret: Option<&Secret>, now: SystemTime) -> Option<Root> {
        let data = secret?.data.as_ref()?;
        let pair = Pair {
            certificate: data.get(CERTIFICATE_KEY)?.0.clone(),
            private_key: data.get(PRIVATE_KEY_KEY)?.0.clone(),
        };
        let der = pem::certificate_der(&pair.certificate)?;
        let certificate = pem::parse(&der)?;
        let renew_at = renew_at(&certificate)?;
        if !certificate.is_ca()
            || !pem::key_matches(&certificate, &pair.private_key)
            || now >= renew_at
        {
            return None;
        }
        let key = pem::signing_key(&pair.private_key)?;
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key).ok()?;
        Some(Root {
            pair,
            der,
            issuer,
            renew_at,
            is_new: false,
        })
    }

    /// A new root, valid for [`ROOT_LIFETIME`] from `now` (less [`BACKDATE`]).
    pub fn generate(now: SystemTime) -> Result<Root, TlsError> {
        let failed = |error: rcgen::Error| TlsError::Generate {
            what: "root".into(),
            reason: error.to_string(),
        };
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, names::ROOT_CA_COMMON_NAME);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        (params.not_before, params.not_after) = validity(now, ROOT_LIFETIME);
        let certificate = params.self_signed(&key).map_err(failed)?;
        let pair = Pair {
            certificate: certificate.pem().into_bytes(),
            private_key: key.serialize_pem().into_bytes(),
        };
        let der = certificate.der().to_vec();
        let renew_at = pem::parse(&der)
            .as_ref()
            .and_then(renew_at)
            .expect("rcgen writes certificates x509-parser reads");
        Ok(Root {
            pair,
            der,
            issuer: Issuer::new(params, key),
            renew_at,
            is_new: true,
        })
    }

    /// What signs leaves.
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// Whether this root signed `certificate`: the issuer is the root's subject and the signature verifies
    /// with the root's public key.
    pub fn signed(&self, certificate: &X509Certificate<'_>) -> bool {
        let root = pem::parse(&self.der).expect("the root's DER was parsed before");
        certificate.issuer() == root.subject()
            && certificate
                .verify_signature(Some(root.public_key()))
                .is_ok()
    }
}

/// The validity of a certificate made at `now`: from [`BACKDATE`] before `now`, for `lifetime`.
pub(crate) fn validity(
    now: SystemTime,
    lifetime: Duration,
) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let start = now - BACKDATE;
    (start.into(), (start + lifetime).into())
}

/// When 2/3 of `certificate`'s lifetime will have passed (PGO's renewal point); `None` for nonsense validity.
pub(crate) fn renew_at(certificate: &X509Certificate<'_>) -> Option<SystemTime> {
    let validity = certificate.validity();
    let (start, end) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let lifetime = u64::try_from(end.checked_sub(start)?).ok()?;
    let due = u64::try_from(start).ok()? + lifetime * 2 / 3;
    UNIX_EPOCH.checked_add(Duration::from_secs(due))
}
