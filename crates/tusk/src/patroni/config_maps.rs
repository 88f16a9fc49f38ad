//! The ConfigMaps that carry Patroni's configuration: `<c>-config` (the cluster's part) and
//! `<instance>-config` (each instance's part).

use super::config;
use crate::instances::plan::Instance;
use crate::metadata::owned_by;
use crate::naming::{labels, names};
use k8s_openapi::api::core::v1::ConfigMap;
use std::collections::BTreeMap;
use tusk_api::PostgresCluster;

/// `<c>-config`.
pub fn cluster_config_map(cluster: &PostgresCluster) -> ConfigMap {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::cluster_config_map(name),
            None,
            labels::cluster(name),
        ),
        data: Some(BTreeMap::from([(
            config::CONFIG_MAP_KEY.to_string(),
            config::cluster_file(cluster),
        )])),
        ..ConfigMap::default()
    }
}

/// `<instance>-config`.
pub fn instance_config_map(cluster: &PostgresCluster, instance: &Instance) -> ConfigMap {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    let set = cluster
        .spec
        .instances
        .iter()
        .find(|s| s.name == instance.set);
    let has_wal_volume = set.is_some_and(|s| s.wal_volume_claim_spec.is_some());
    ConfigMap {
        metadata: owned_by(
            cluster,
            names::instance_config_map(&instance.name),
            set.and_then(|s| s.metadata.as_ref()),
            labels::instance(name, &instance.set, &instance.name),
        ),
        data: Some(BTreeMap::from([(
            config::CONFIG_MAP_KEY.to_string(),
            config::instance_file(cluster, &instance.name, has_wal_volume),
        )])),
        ..ConfigMap::default()
    }
}
