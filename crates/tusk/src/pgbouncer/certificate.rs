//! Whether `spec.proxy.pgBouncer.customTLSSecret` holds a certificate for PgBouncer's Service (docs: its
//! common name should match `<c>-pgbouncer`). A certificate that does not is still mounted — clients that do
//! not verify names keep working — but the cluster says so in a condition, since `verify-full` clients fail.

use crate::naming::names;
use crate::pki::pem;
use k8s_openapi::api::core::v1::{Secret, SecretProjection};
use std::collections::BTreeMap;
use x509_parser::extensions::GeneralName;

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The certificate names the Service (one of `names` is in its common name or DNS names).
    NamesService,
    /// The Secret does not exist, or has nothing at the certificate's key.
    Missing(String),
    /// The value is not a PEM certificate.
    Unreadable(String),
    /// The certificate names other hosts: these.
    OtherNames(Vec<String>),
}

/// Checks `projection` (PgBouncer's `customTLSSecret`) of cluster `cluster` in `namespace` against `existing`
/// (Secrets by name). `domain` is the Kubernetes cluster domain.
pub fn check(
    projection: &SecretProjection,
    existing: &BTreeMap<String, Secret>,
    cluster: &str,
    namespace: &str,
    domain: &str,
) -> Check {
    let key = match projection.items.as_deref() {
        None | Some([]) => Some("tls.crt".to_string()),
        Some(items) => items
            .iter()
            .find(|item| item.path == "tls.crt")
            .map(|item| item.key.clone()),
    };
    let Some(value) = key.as_ref().and_then(|key| {
        existing
            .get(&projection.name)?
            .data
            .as_ref()?
            .get(key)
            .map(|value| value.0.clone())
    }) else {
        return Check::Missing(format!(
            "Secret {} has no certificate at {}",
            projection.name,
            key.as_deref().unwrap_or("tls.crt")
        ));
    };
    let unreadable = || {
        Check::Unreadable(format!(
            "Secret {} holds no PEM certificate",
            projection.name
        ))
    };
    let Some(der) = pem::certificate_der(&value) else {
        return unreadable();
    };
    let Some(certificate) = pem::parse(&der) else {
        return unreadable();
    };
    let mut named: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_string)
        .collect();
    if let Ok(Some(san)) = certificate.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                named.push((*dns).to_string());
            }
        }
    }
    let wanted = names::dns_names(&names::pgbouncer(cluster), namespace, domain);
    if wanted
        .iter()
        .any(|host| named.iter().any(|name| matches(name, host)))
    {
        Check::NamesService
    } else {
        Check::OtherNames(named)
    }
}

/// Whether certificate name `name` (perhaps a `*.` wildcard for one label) matches `host`, ignoring case.
fn matches(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    match name.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, parent)| !label.is_empty() && parent == rest),
        None => name == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::KeyToPath;

    fn certificate(common_name: &str, dns: &[&str]) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(dns.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let key = rcgen::KeyPair::generate().expect("key");
        params.self_signed(&key).expect("signed").pem().into_bytes()
    }

    fn secrets(key: &str, value: Vec<u8>) -> BTreeMap<String, Secret> {
        let secret = Secret {
            data: Some(BTreeMap::from([(key.to_string(), ByteString(value))])),
            ..Secret::default()
        };
        BTreeMap::from([("bouncer.tls".to_string(), secret)])
    }

    fn projection(items: Option<Vec<KeyToPath>>) -> SecretProjection {
        SecretProjection {
            name: "bouncer.tls".into(),
            items,
            optional: None,
        }
    }

    fn run(existing: &BTreeMap<String, Secret>, items: Option<Vec<KeyToPath>>) -> Check {
        check(
            &projection(items),
            existing,
            "hippo",
            "zoo",
            "cluster.local",
        )
    }

    #[test]
    fn the_common_name_or_any_dns_name_of_the_service_will_do() {
        let by_cn = secrets("tls.crt", certificate("hippo-pgbouncer", &[]));
        assert_eq!(run(&by_cn, None), Check::NamesService);
        let by_san = secrets(
            "tls.crt",
            certificate("someone", &["other", "hippo-pgbouncer.zoo.svc"]),
        );
        assert_eq!(run(&by_san, None), Check::NamesService);
        let wildcard = secrets("tls.crt", certificate("someone", &["*.zoo.svc"]));
        assert_eq!(run(&wildcard, None), Check::NamesService);
        let upper = secrets(
            "tls.crt",
            certificate("x", &["HIPPO-PGBOUNCER.zoo.svc.cluster.local"]),
        );
        assert_eq!(run(&upper, None), Check::NamesService);
    }

    #[test]
    fn another_name_is_reported_with_what_the_certificate_names() {
        let other = secrets(
            "tls.crt",
            certificate("hippo-primary", &["hippo-primary.zoo.svc"]),
        );
        assert_eq!(
            run(&other, None),
            Check::OtherNames(vec!["hippo-primary".into(), "hippo-primary.zoo.svc".into()])
        );
        let deeper = secrets("tls.crt", certificate("x", &["*.svc"]));
        assert!(matches!(run(&deeper, None), Check::OtherNames(_)));
    }

    #[test]
    fn items_say_where_the_certificate_is() {
        let existing = secrets("server.pem", certificate("hippo-pgbouncer", &[]));
        assert!(matches!(run(&existing, None), Check::Missing(_)));
        let items = vec![KeyToPath {
            key: "server.pem".into(),
            path: "tls.crt".into(),
            mode: None,
        }];
        assert_eq!(run(&existing, Some(items)), Check::NamesService);
    }

    #[test]
    fn a_missing_secret_or_garbage_is_said() {
        assert!(matches!(run(&BTreeMap::new(), None), Check::Missing(_)));
        let garbage = secrets("tls.crt", b"not a certificate".to_vec());
        assert!(matches!(run(&garbage, None), Check::Unreadable(_)));
    }
}
