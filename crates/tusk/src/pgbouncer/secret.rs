//! The Secret `<c>-pgbouncer`: the password of [`super::AUTH_USER`] (made once, kept), its SCRAM verifier (what
//! PostgreSQL gets), PgBouncer's auth file with that password, and, unless `customTLSSecret` is set, the
//! certificate PgBouncer presents to clients, issued by the namespace's root for the `<c>-pgbouncer` Service.

use super::AUTH_USER;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::pki::TlsError;
use crate::pki::leaf::{self, Subject};
use crate::pki::pem::Pair;
use crate::pki::root::Root;
use crate::users::credentials::{Credentials, credentials_at};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::time::SystemTime;
use tusk_api::PostgresCluster;
use tusk_api::proxy::PgBouncerPodSpec;

/// The password of [`AUTH_USER`].
pub const PASSWORD: &str = "pgbouncer-password";
/// Its SCRAM-SHA-256 verifier.
pub const VERIFIER: &str = "pgbouncer-verifier";
/// PgBouncer's auth file.
pub const AUTH_FILE: &str = "pgbouncer-users.txt";
/// The certificate PgBouncer presents to clients.
pub const FRONTEND_CERTIFICATE: &str = "pgbouncer-frontend.crt";
/// Its private key.
pub const FRONTEND_KEY: &str = "pgbouncer-frontend.key";
/// The CA that signed it.
pub const FRONTEND_CA: &str = "pgbouncer-frontend.ca-roots";

/// The Secret and when its certificate is due (`None`: it holds none).
#[derive(Clone, Debug)]
pub struct Built {
    /// `<c>-pgbouncer`.
    pub secret: Secret,
    /// When the certificate in it is due for renewal.
    pub renew_at: Option<SystemTime>,
}

/// The Secret of `cluster`'s PgBouncer `bouncer`, keeping what `existing` (the Secret as it is) holds where it
/// is still good; `domain` is the cluster domain of the Service's names.
pub fn secret(
    cluster: &PostgresCluster,
    bouncer: &PgBouncerPodSpec,
    root: &Root,
    existing: Option<&Secret>,
    domain: &str,
    now: SystemTime,
) -> Result<Built, TlsError> {
    let name = names::pgbouncer(&cluster.name_any());
    let Credentials { password, verifier } = credentials_at(existing, PASSWORD, VERIFIER);
    let mut data: BTreeMap<String, ByteString> = BTreeMap::from([
        (
            AUTH_FILE.to_string(),
            ByteString(auth_file(&password).into_bytes()),
        ),
        (PASSWORD.to_string(), ByteString(password.into_bytes())),
        (VERIFIER.to_string(), ByteString(verifier.into_bytes())),
    ]);
    let mut renew_at = None;
    if bouncer.custom_tls_secret.is_none() {
        let namespace = cluster.namespace().unwrap_or_default();
        let dns_names = names::dns_names(&name, &namespace, domain).to_vec();
        let subject = Subject {
            common_name: dns_names[0].clone(),
            dns_names,
        };
        let kept = existing.and_then(|secret| {
            let data = secret.data.as_ref()?;
            Some(Pair {
                certificate: data.get(FRONTEND_CERTIFICATE)?.0.clone(),
                private_key: data.get(FRONTEND_KEY)?.0.clone(),
            })
        });
        let leaf = leaf::leaf(&name, &subject, kept, root, now)?;
        renew_at = Some(leaf.renew_at);
        data.insert(
            FRONTEND_CERTIFICATE.into(),
            ByteString(leaf.pair.certificate),
        );
        data.insert(FRONTEND_KEY.into(), ByteString(leaf.pair.private_key));
        data.insert(
            FRONTEND_CA.into(),
            ByteString(root.pair.certificate.clone()),
        );
    }
    let metadata = owned_by(
        cluster,
        name.clone(),
        bouncer.metadata.as_ref(),
        labels::pgbouncer(&cluster.name_any()),
    );
    Ok(Built {
        secret: Secret {
            metadata,
            data: Some(data),
            ..Secret::default()
        },
        renew_at,
    })
}

/// PgBouncer's auth file: one line, the user and the password, each in double quotes (a double quote inside
/// doubled, as PgBouncer reads it).
fn auth_file(password: &str) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    format!("{} {}\n", quote(AUTH_USER), quote(password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbouncer::hippo_with_proxy;
    use crate::pki::pem;
    use std::time::Duration;

    fn text(secret: &Secret, key: &str) -> String {
        String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
    }

    fn build(cluster: &PostgresCluster, root: &Root, existing: Option<&Secret>) -> Built {
        let bouncer = super::super::spec(cluster).unwrap();
        secret(
            cluster,
            bouncer,
            root,
            existing,
            "cluster.local",
            SystemTime::now(),
        )
        .expect("builds")
    }

    #[test]
    fn a_password_made_once_its_verifier_and_a_certificate_for_the_service() {
        let root = Root::generate(SystemTime::now()).unwrap();
        let cluster = hippo_with_proxy("", "");
        let built = build(&cluster, &root, None);
        let secret = &built.secret;
        assert_eq!(secret.metadata.name.as_deref(), Some("hippo-pgbouncer"));
        assert_eq!(
            secret.metadata.labels.as_ref().unwrap()[labels::ROLE],
            labels::ROLE_PGBOUNCER
        );
        let password = text(secret, PASSWORD);
        assert_eq!(password.len(), crate::users::credentials::PASSWORD_LEN);
        assert!(text(secret, VERIFIER).starts_with("SCRAM-SHA-256$4096:"));
        assert_eq!(
            text(secret, AUTH_FILE),
            format!("\"_crunchypgbouncer\" \"{password}\"\n")
        );
        let der = pem::certificate_der(text(secret, FRONTEND_CERTIFICATE).as_bytes()).unwrap();
        let certificate = pem::parse(&der).unwrap();
        let common_name = certificate.subject().iter_common_name().next().unwrap();
        assert_eq!(
            common_name.as_str().unwrap(),
            "hippo-pgbouncer.ns.svc.cluster.local"
        );
        assert!(root.signed(&certificate));
        assert_eq!(text(secret, FRONTEND_CA).as_bytes(), root.pair.certificate);
        assert!(built.renew_at.is_some());

        let again = build(&cluster, &root, Some(secret));
        assert_eq!(again.secret.data, secret.data, "kept byte for byte");
        let later = SystemTime::now() + Duration::from_secs(300 * 24 * 60 * 60);
        let bouncer = super::super::spec(&cluster).unwrap();
        let renewed = super::secret(
            &cluster,
            bouncer,
            &root,
            Some(secret),
            "cluster.local",
            later,
        )
        .expect("builds");
        assert_eq!(
            text(&renewed.secret, PASSWORD),
            password,
            "the password stays"
        );
        assert_ne!(
            text(&renewed.secret, FRONTEND_CERTIFICATE),
            text(secret, FRONTEND_CERTIFICATE)
        );
    }

    #[test]
    fn a_custom_certificate_leaves_only_the_credentials() {
        let root = Root::generate(SystemTime::now()).unwrap();
        let built = build(
            &hippo_with_proxy("customTLSSecret: {name: mine}", ""),
            &root,
            None,
        );
        let keys: Vec<&String> = built.secret.data.as_ref().unwrap().keys().collect();
        assert_eq!(keys, [PASSWORD, AUTH_FILE, VERIFIER], "sorted");
        assert!(built.renew_at.is_none());
    }

    #[test]
    fn quotes_in_a_password_are_doubled_in_the_auth_file() {
        assert_eq!(auth_file("a\"b"), "\"_crunchypgbouncer\" \"a\"\"b\"\n");
    }
}
