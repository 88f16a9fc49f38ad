//! An instance's volumes: `<instance>-pgdata` and, with `walVolumeClaimSpec`, `<instance>-pgwal`. Tusk creates
//! the claims itself (no `volumeClaimTemplates`), so it can grow them and keep them when a StatefulSet goes.
//!
//! An instance's data (WAL) claim is the claim labelled as its `pgdata` (`pgwal`) volume, whatever its name: a
//! volume adopted through `spec.dataSource.volumes` keeps its own name, and its labels say whose it is (as PGO
//! finds it).
//!
//! A claim's spec is fixed once made, except its storage request, which may only grow: for a claim that exists,
//! the fixed fields are kept as they are and the request never shrinks.

use super::plan::Instance;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use crate::quantity;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimSpec};
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;
use tusk_api::common::VolumeClaimSpec;
use tusk_api::instance::PostgresInstanceSetSpec;

/// Existing claims, by name.
pub type Existing = BTreeMap<String, PersistentVolumeClaim>;

/// The claims of `instance`, a member of `set`: its data claim, and its WAL claim when the set asks for one or
/// the claim exists (kept as it is: it may hold the WAL until it is moved back, or be an adopted one).
pub fn claims(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    instance: &Instance,
    existing: &Existing,
) -> Vec<PersistentVolumeClaim> {
    let names = claim_names(instance, existing);
    let mut claims = vec![claim(
        cluster,
        set,
        instance,
        labels::ROLE_PGDATA,
        names.data,
        &set.data_volume_claim_spec,
        existing,
    )];
    let current = existing
        .get(&names.wal)
        .and_then(|claim| claim.spec.clone())
        .map(VolumeClaimSpec);
    if let Some(wal) = set.wal_volume_claim_spec.as_ref().or(current.as_ref()) {
        claims.push(claim(
            cluster,
            set,
            instance,
            labels::ROLE_PGWAL,
            names.wal,
            wal,
            existing,
        ));
    }
    claims
}

/// The names of an instance's claims, and whether its WAL claim exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNames {
    /// The data claim.
    pub data: String,
    /// The WAL claim (made only when the set has a `walVolumeClaimSpec`).
    pub wal: String,
    /// Whether the WAL claim exists.
    pub wal_exists: bool,
}

/// The names of `instance`'s claims: the existing claims labelled as its `pgdata` and `pgwal` volumes (an
/// adopted one keeps its name), else `<instance>-pgdata` and `<instance>-pgwal`.
pub fn claim_names(instance: &Instance, existing: &Existing) -> ClaimNames {
    let wal = labelled(instance, existing, labels::ROLE_PGWAL)
        .unwrap_or_else(|| names::instance_wal_volume(&instance.name));
    ClaimNames {
        data: data_claim(instance, existing),
        wal_exists: existing.contains_key(&wal),
        wal,
    }
}

fn labelled(instance: &Instance, existing: &Existing, role: &str) -> Option<String> {
    existing
        .iter()
        .find(|(_, claim)| {
            let labels = claim.metadata.labels.as_ref();
            let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
            label(labels::INSTANCE) == Some(instance.name.as_str())
                && label(labels::ROLE) == Some(role)
        })
        .map(|(name, _)| name.clone())
}

/// The name of `instance`'s data claim: the existing claim labelled as its `pgdata` volume (an adopted one
/// keeps its name), else `<instance>-pgdata`.
pub fn data_claim(instance: &Instance, existing: &Existing) -> String {
    labelled(instance, existing, labels::ROLE_PGDATA)
        .unwrap_or_else(|| names::instance_data_volume(&instance.name))
}

fn claim(
    cluster: &PostgresCluster,
    set: &PostgresInstanceSetSpec,
    instance: &Instance,
    role: &str,
    name: String,
    wanted: &VolumeClaimSpec,
    existing: &Existing,
) -> PersistentVolumeClaim {
    let cluster_name = cluster.metadata.name.as_deref().unwrap_or_default();
    let ours = labels::instance_volume(cluster_name, &set.name, &instance.name, role);
    let spec = match existing.get(&name).and_then(|claim| claim.spec.as_ref()) {
        Some(current) => grown(current, &wanted.0),
        None => wanted.0.clone(),
    };
    PersistentVolumeClaim {
        metadata: owned_by(cluster, name, set.metadata.as_ref(), ours),
        spec: Some(spec),
        ..PersistentVolumeClaim::default()
    }
}

/// The spec of an existing claim with the wanted storage request, if that is larger: the fields Kubernetes
/// fixes once a claim is made are kept as they are. Repository volumes follow the same rule.
pub fn grown(
    current: &PersistentVolumeClaimSpec,
    wanted: &PersistentVolumeClaimSpec,
) -> PersistentVolumeClaimSpec {
    let request = |spec: &PersistentVolumeClaimSpec| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .cloned()
    };
    let storage = match (request(current), request(wanted)) {
        (Some(current), Some(wanted)) if quantity::bytes(&wanted) > quantity::bytes(&current) => {
            Some(wanted)
        }
        (current, wanted) => current.or(wanted),
    };
    let mut resources = wanted.resources.clone().unwrap_or_default();
    let mut requests = resources.requests.unwrap_or_default();
    if let Some(storage) = storage {
        requests.insert("storage".into(), storage);
    }
    resources.requests = Some(requests);
    PersistentVolumeClaimSpec {
        access_modes: current.access_modes.clone(),
        storage_class_name: current.storage_class_name.clone(),
        volume_mode: current.volume_mode.clone(),
        selector: current.selector.clone(),
        data_source: current.data_source.clone(),
        data_source_ref: current.data_source_ref.clone(),
        resources: Some(resources),
        ..PersistentVolumeClaimSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn cluster() -> PostgresCluster {
        tusk_api::manifest::parse(
            "apiVersion: postgres-operator.crunchydata.com/v1beta1
kind: PostgresCluster
metadata: {name: hippo}
spec:
  postgresVersion: 15
  instances:
  - name: one
    dataVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}
    walVolumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  backups: {pgbackrest: {repos: [{name: repo1, volume: {volumeClaimSpec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}]}}
",
        )
        .expect("valid")
    }

    fn storage(claim: &PersistentVolumeClaim) -> String {
        claim
            .spec
            .as_ref()
            .expect("spec")
            .resources
            .as_ref()
            .expect("resources")
            .requests
            .as_ref()
            .expect("requests")["storage"]
            .0
            .clone()
    }

    fn instance() -> Instance {
        Instance {
            name: "hippo-one-bbbb".into(),
            set: "one".into(),
        }
    }

    #[test]
    fn data_and_wal_claims_have_pgo_names_and_labels() {
        let cluster = cluster();
        let claims = claims(
            &cluster,
            &cluster.spec.instances[0],
            &instance(),
            &Existing::new(),
        );
        let names: Vec<_> = claims
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["hippo-one-bbbb-pgdata", "hippo-one-bbbb-pgwal"]);
        let labels = claims[1].metadata.labels.as_ref().expect("labels");
        assert_eq!(labels[labels::ROLE], "pgwal");
        assert_eq!(labels[labels::DATA], "postgres");
        assert_eq!(labels[labels::INSTANCE], "hippo-one-bbbb");
    }

    #[test]
    fn an_adopted_claim_labelled_for_the_instance_is_its_data_claim() {
        let cluster = cluster();
        assert_eq!(
            data_claim(&instance(), &Existing::new()),
            "hippo-one-bbbb-pgdata"
        );
        let mut adopted = PersistentVolumeClaim::default();
        adopted.metadata.name = Some("oldhippo".into());
        adopted.metadata.labels = Some(labels::instance_volume(
            "hippo",
            "one",
            "hippo-one-bbbb",
            labels::ROLE_PGDATA,
        ));
        let mut other = adopted.clone();
        other.metadata.name = Some("hippo-one-cccc-pgdata".into());
        other
            .metadata
            .labels
            .get_or_insert_default()
            .insert(labels::INSTANCE.into(), "hippo-one-cccc".into());
        let existing: Existing = [adopted, other]
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
            .collect();
        assert_eq!(data_claim(&instance(), &existing), "oldhippo");
        let names = claim_names(&instance(), &existing);
        assert_eq!(
            (names.wal.as_str(), names.wal_exists),
            ("hippo-one-bbbb-pgwal", false)
        );
        let claims = claims(&cluster, &cluster.spec.instances[0], &instance(), &existing);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("oldhippo"));
    }

    #[test]
    fn an_adopted_wal_claim_is_kept_and_mounted_without_a_wal_spec() {
        let mut cluster = cluster();
        cluster.spec.instances[0].wal_volume_claim_spec = None;
        let mut adopted = PersistentVolumeClaim::default();
        adopted.metadata.name = Some("oldhippo-wal".into());
        adopted.metadata.labels = Some(labels::instance_volume(
            "hippo",
            "one",
            "hippo-one-bbbb",
            labels::ROLE_PGWAL,
        ));
        adopted.spec = Some(Default::default());
        let existing: Existing = [("oldhippo-wal".to_string(), adopted)].into();
        let names = claim_names(&instance(), &existing);
        assert_eq!(
            (names.wal.as_str(), names.wal_exists),
            ("oldhippo-wal", true)
        );
        let claims = claims(&cluster, &cluster.spec.instances[0], &instance(), &existing);
        let built: Vec<_> = claims
            .iter()
            .filter_map(|c| c.metadata.name.as_deref())
            .collect();
        assert_eq!(built, ["hippo-one-bbbb-pgdata", "oldhippo-wal"]);
    }

    #[test]
    fn existing_claims_keep_their_fixed_fields_and_only_grow() {
        let cluster = cluster();
        let mut current = claims(
            &cluster,
            &cluster.spec.instances[0],
            &instance(),
            &Existing::new(),
        );
        for claim in &mut current {
            let spec = claim.spec.as_mut().expect("spec");
            spec.storage_class_name = Some("local-path".into());
            spec.resources
                .as_mut()
                .expect("resources")
                .requests
                .as_mut()
                .expect("requests")
                .insert("storage".into(), Quantity("1536Mi".into()));
        }
        let existing: Existing = current
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap_or_default(), c))
            .collect();
        let claims = claims(&cluster, &cluster.spec.instances[0], &instance(), &existing);
        assert_eq!(storage(&claims[0]), "2Gi", "2Gi > 1536Mi: the claim grows");
        assert_eq!(
            storage(&claims[1]),
            "1536Mi",
            "1Gi < 1536Mi: the claim never shrinks"
        );
        assert_eq!(
            claims[0]
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref()),
            Some("local-path")
        );
    }
}
