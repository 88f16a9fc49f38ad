//! Removing instances the plan no longer has: their StatefulSet, configuration and certificates at once, their
//! volumes only when the plan says a kept instance leads (and so holds the data).

use crate::instances::plan::Plan;
use crate::naming::names;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::Api;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Deletes what belongs to the removed instances of `plan` in `namespace`.
pub async fn retire(client: &Client, namespace: &str, plan: &Plan) -> Result<(), kube::Error> {
    for instance in &plan.removed {
        tracing::info!(instance = %instance.name, "removing an instance the spec no longer asks for");
        delete::<StatefulSet>(client, namespace, &instance.name).await?;
        delete::<ConfigMap>(
            client,
            namespace,
            &names::instance_config_map(&instance.name),
        )
        .await?;
        delete::<Secret>(
            client,
            namespace,
            &names::instance_certificates(&instance.name),
        )
        .await?;
        if plan.delete_removed_volumes {
            for volume in [
                names::instance_data_volume(&instance.name),
                names::instance_wal_volume(&instance.name),
            ] {
                delete::<PersistentVolumeClaim>(client, namespace, &volume).await?;
            }
        }
    }
    Ok(())
}

/// Deletes one object of `namespace`; one already gone is fine.
async fn delete<K>(client: &Client, namespace: &str, name: &str) -> Result<(), kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + DeserializeOwned + Clone + Debug,
    K::DynamicType: Default,
{
    super::delete::object(&Api::<K>::namespaced(client.clone(), namespace), name).await
}
