//! The claims of volume repositories. A repository's claim is the claim labelled as its volume, whatever its
//! name (a claim adopted through `spec.dataSource.volumes.pgBackRestVolume` keeps its own), else `<c>-<repo>`
//! ([`claim_name`]). As the instances' volumes, a claim that exists keeps the fields Kubernetes fixes, and its
//! storage request only grows.

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
            let name = claim_name(cluster_name, &repo.name, existing);
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

/// The name of the claim of repository `repo` of cluster `cluster`, given the claims that exist (by name): the
/// claim labelled as that repository's volume, else `<cluster>-<repo>`. Among several labelled claims, one
/// of another name (an adopted one) is taken first, then by name, so the choice never depends on order.
pub fn claim_name(
    cluster: &str,
    repo: &str,
    existing: &BTreeMap<String, PersistentVolumeClaim>,
) -> String {
    let ours = names::repo_volume(cluster, repo);
    let wanted = labels::pgbackrest_repo_volume(cluster, repo);
    existing
        .iter()
        .filter(|(_, claim)| {
            let found = claim.metadata.labels.as_ref();
            wanted
                .iter()
                .all(|(key, value)| found.and_then(|l| l.get(key)) == Some(value))
        })
        .map(|(name, _)| name.clone())
        .min_by_key(|name| (*name == ours, name.clone()))
        .unwrap_or(ours)
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

    fn labelled(name: &str, cluster: &str, repo: &str) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                labels: Some(labels::pgbackrest_repo_volume(cluster, repo)),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_repository_claim_is_found_by_its_labels_else_named_after_the_repository() {
        let empty = BTreeMap::new();
        assert_eq!(claim_name("hippo", "repo1", &empty), "hippo-repo1");
        let existing = BTreeMap::from([
            (
                "old-pgbr-repo".to_string(),
                labelled("old-pgbr-repo", "hippo", "repo1"),
            ),
            ("other".to_string(), labelled("other", "elephant", "repo1")),
            (
                "hippo-repo2".to_string(),
                labelled("hippo-repo2", "hippo", "repo2"),
            ),
        ]);
        assert_eq!(claim_name("hippo", "repo1", &existing), "old-pgbr-repo");
        assert_eq!(claim_name("hippo", "repo2", &existing), "hippo-repo2");
        assert_eq!(claim_name("hippo", "repo3", &existing), "hippo-repo3");
        let mut both = existing.clone();
        both.insert(
            "hippo-repo1".into(),
            labelled("hippo-repo1", "hippo", "repo1"),
        );
        assert_eq!(
            claim_name("hippo", "repo1", &both),
            "old-pgbr-repo",
            "the adopted claim first"
        );
    }

    #[test]
    fn an_adopted_repository_claim_is_applied_under_its_own_name_and_no_other_is_made() {
        let mut adopted = labelled("oldhippo-pgbr-repo", "hippo", "repo1");
        adopted.spec = claims(&hippo(), &BTreeMap::new()).unwrap().remove(0).spec;
        let existing = BTreeMap::from([("oldhippo-pgbr-repo".to_string(), adopted)]);
        let mut cluster = hippo();
        cluster.metadata.uid = Some("a-uid".into());
        let built = claims(&cluster, &existing).unwrap();
        let names: Vec<_> = built.iter().map(|c| c.metadata.name.as_deref()).collect();
        assert_eq!(names, [Some("oldhippo-pgbr-repo")]);
        let meta = &built[0].metadata;
        assert_eq!(
            meta.labels.as_ref().unwrap()[labels::PGBACKREST_REPO],
            "repo1"
        );
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("PostgresCluster", Some(true))
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
