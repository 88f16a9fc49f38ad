//! Storing the namespace's root CA, which no cluster owns and several clusters may make at once.

use super::FIELD_MANAGER;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

/// Stores a root CA the build has just made. Where none existed it is created, not applied: when two clusters
/// of a namespace each make one at once, the second creation fails with a conflict, and its reconcile runs
/// again and adopts the first root instead of replacing it. A root that replaces an unreadable one carries the
/// `resourceVersion` that was read, so it too is written only over what was seen.
pub async fn store_new_root(client: &Client, root: &Secret) -> Result<(), kube::Error> {
    let namespace = root.namespace().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    if root.metadata.resource_version.is_none() {
        secrets.create(&PostParams::default(), root).await?;
    } else {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        secrets
            .patch(&root.name_any(), &params, &Patch::Apply(root))
            .await?;
    }
    Ok(())
}
