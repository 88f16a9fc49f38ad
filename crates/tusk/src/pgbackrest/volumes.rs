//! The claims of volume repositories, `<c>-<repo>`. As the instances' volumes, a claim that exists keeps the
//! fields Kubernetes fixes, and its storage request only grows.

use super::{ConfigError, repos};
use crate::instances::volumes::grown;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// The claim of every `volume` repository, given the claims that exist (by name).
pub fn claims(
    cluster: &PostgresCluster,
    existing: &BTreeMap<String, PersistentVolumeClaim>,
) -> Result<Vec<PersistentVolumeClaim>, ConfigError> {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    Ok(repos(cluster)?
        .into_iter()
        .filter_map(|(_, repo, _)| {
            let wanted = &repo.volume.as_ref()?.volume_claim_spec.0;
            let name = names::repo_volume(cluster_name, &repo.name);
            let spec = match existing.get(&name).and_then(|claim| claim.spec.as_ref()) {
                Some(current) => grown(current, wanted),
                None => wanted.clone(),
            };
            Some(PersistentVolumeClaim {
                metadata: owned_by(
                    cluster,
                    name,
                    cluster.spec.backups.pgbackrest.metadata.as_ref(),
                    labels::pgbackrest_repo_volume(cluster_name, &repo.name),
                ),
                spec: Some(spec),
                ..PersistentVolumeClaim::default()
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgbackrest::tests::{hippo, hippo_s3};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn storage(claim: &PersistentVolumeClaim) -> &str {
        &claim
            .spec
            .as_ref()
            .unwrap()
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .0
    }

    #[test]
    fn one_claim_per_volume_repository_with_pgo_name_and_labels() {
        let claims = claims(&hippo(), &BTreeMap::new()).expect("builds");
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("hippo-repo1"));
        let labels = claims[0].metadata.labels.as_ref().expect("labels");
        assert_eq!(labels[labels::PGBACKREST_REPO], "repo1");
        assert_eq!(labels[labels::PGBACKREST_VOLUME], "");
        assert_eq!(labels[labels::DATA], labels::DATA_PGBACKREST);
        assert!(
            super::claims(&hippo_s3(), &BTreeMap::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn existing_claims_keep_fixed_fields_and_never_shrink() {
        let mut current = claims(&hippo(), &BTreeMap::new()).unwrap().remove(0);
        let spec = current.spec.as_mut().unwrap();
        spec.storage_class_name = Some("local-path".into());
        spec.resources
            .as_mut()
            .unwrap()
            .requests
            .as_mut()
            .unwrap()
            .insert("storage".into(), Quantity("2Gi".into()));
        let existing = BTreeMap::from([("hippo-repo1".to_string(), current)]);
        let claim = claims(&hippo(), &existing).unwrap().remove(0);
        assert_eq!(storage(&claim), "2Gi", "1Gi wanted, 2Gi kept");
        assert_eq!(
            claim.spec.as_ref().unwrap().storage_class_name.as_deref(),
            Some("local-path")
        );
    }
}
