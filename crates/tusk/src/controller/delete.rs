//! Deleting one object the operator made: its dependents go in the background, and one already gone is fine.

use kube::Api;
use kube::api::DeleteParams;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Deletes the object `name` of `api` (with its dependents, in the background); one that is gone is fine.
pub async fn object<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error),
    }
}
