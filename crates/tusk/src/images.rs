//! Which container image each component runs: the image the spec names, else the one the operator's
//! `RELATED_IMAGE_*` environment names (as PGO's), else Tusk's locally built image.

use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// The image Tusk builds locally; it carries PostgreSQL, Patroni, pgBackRest, PgBouncer and the exporter.
pub const DEFAULT_IMAGE: &str = "localhost/tusk-postgres:dev";
/// The prefix of the environment variables that name images.
pub const RELATED_IMAGE_PREFIX: &str = "RELATED_IMAGE_";

/// The images the operator was deployed with, from its `RELATED_IMAGE_*` environment variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    related: BTreeMap<String, String>,
}

impl Images {
    /// Keeps the non-empty `RELATED_IMAGE_*` variables of `variables` (for example `std::env::vars()`).
    pub fn from_environment(variables: impl IntoIterator<Item = (String, String)>) -> Images {
        let related = variables
            .into_iter()
            .filter(|(name, value)| name.starts_with(RELATED_IMAGE_PREFIX) && !value.is_empty())
            .collect();
        Images { related }
    }

    fn related(&self, component: &str) -> Option<String> {
        self.related
            .get(&format!("{RELATED_IMAGE_PREFIX}{component}"))
            .cloned()
    }

    /// The image of the `database` container: `spec.image`, else `RELATED_IMAGE_POSTGRES_<version>`.
    pub fn postgres(&self, cluster: &PostgresCluster) -> String {
        cluster
            .spec
            .image
            .clone()
            .or_else(|| self.related(&format!("POSTGRES_{}", cluster.spec.postgres_version)))
            .unwrap_or_else(|| DEFAULT_IMAGE.into())
    }

    /// The image of pgBackRest's containers: `spec.backups.pgbackrest.image`, else `RELATED_IMAGE_PGBACKREST`.
    pub fn pgbackrest(&self, cluster: &PostgresCluster) -> String {
        cluster
            .spec
            .backups
            .pgbackrest
            .image
            .clone()
            .or_else(|| self.related("PGBACKREST"))
            .unwrap_or_else(|| DEFAULT_IMAGE.into())
    }

    /// PgBouncer's image: `spec.proxy.pgBouncer.image`, else `RELATED_IMAGE_PGBOUNCER`.
    pub fn pgbouncer(&self, cluster: &PostgresCluster) -> String {
        cluster
            .spec
            .proxy
            .as_ref()
            .and_then(|proxy| proxy.pg_bouncer.image.clone())
            .or_else(|| self.related("PGBOUNCER"))
            .unwrap_or_else(|| DEFAULT_IMAGE.into())
    }

    /// The metrics exporter's image: `spec.monitoring.pgmonitor.exporter.image`, else `RELATED_IMAGE_PGEXPORTER`.
    pub fn exporter(&self, cluster: &PostgresCluster) -> String {
        cluster
            .spec
            .monitoring
            .as_ref()
            .and_then(|monitoring| monitoring.pgmonitor.as_ref())
            .and_then(|pgmonitor| pgmonitor.exporter.as_ref())
            .and_then(|exporter| exporter.image.clone())
            .or_else(|| self.related("PGEXPORTER"))
            .unwrap_or_else(|| DEFAULT_IMAGE.into())
    }
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_IMAGE, Images};

    fn cluster(image: Option<&str>) -> tusk_api::PostgresCluster {
        let image = image.map(|i| format!("image: {i}")).unwrap_or_default();
        tusk_api::manifest::parse(&format!(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {{name: hippo}}
spec:
  {image}
  postgresVersion: 15
  instances: [{{dataVolumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}]
  backups: {{pgbackrest: {{repos: [{{name: repo1, volume: {{volumeClaimSpec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}}}}}]}}}}
"
        ))
        .expect("valid")
    }

    #[test]
    fn spec_then_environment_then_default() {
        let images = Images::from_environment([
            ("RELATED_IMAGE_POSTGRES_15".into(), "pg15:env".into()),
            ("RELATED_IMAGE_POSTGRES_16".into(), "pg16:env".into()),
            ("RELATED_IMAGE_PGBOUNCER".into(), String::new()),
            ("PATH".into(), "/bin".into()),
        ]);
        assert_eq!(images.postgres(&cluster(Some("pg:spec"))), "pg:spec");
        assert_eq!(images.postgres(&cluster(None)), "pg15:env");
        assert_eq!(images.pgbackrest(&cluster(None)), DEFAULT_IMAGE);
        assert_eq!(
            images.pgbouncer(&cluster(None)),
            DEFAULT_IMAGE,
            "an empty variable names no image"
        );
    }
}
