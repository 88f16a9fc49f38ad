//! The apply stage: server-side apply of built objects with one field manager, forcing ownership of the fields
//! Tusk sets so that hand edits to them are undone.

use super::FIELD_MANAGER;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Applies `objects` in their namespaces.
pub async fn apply_all<K>(client: &Client, objects: &[K]) -> Result<(), kube::Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
    K::DynamicType: Default,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for object in objects {
        let namespace = object.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(client.clone(), &namespace);
        api.patch(&object.name_any(), &params, &Patch::Apply(object))
            .await?;
    }
    Ok(())
}
