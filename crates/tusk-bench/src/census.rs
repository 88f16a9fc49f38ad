//! Which objects each cluster should have, and when each cluster first had them all: watches every kind the
//! builders make (metadata only) and records the moment a cluster's last expected object appeared.

use anyhow::{Context, Result};
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tusk::naming::labels;

/// How many objects of each kind (`apiVersion`, `kind`) one cluster has once reconciled.
pub type Expected = BTreeMap<(String, String), usize>;

/// The objects the builders make for `cluster`, counted by kind: what the operator must have applied.
pub fn expected(cluster: &tusk_api::PostgresCluster) -> Expected {
    let images = tusk::images::Images::from_environment(std::iter::empty());
    let mut counts = Expected::new();
    for object in tusk::build::render(cluster, &images)
        .expect("the cluster builds")
        .to_json()
        .into_iter()
        // Objects a cluster shares with its namespace (the root CA) carry no cluster label and no owner.
        .filter(|object| object["metadata"]["labels"][labels::CLUSTER].is_string())
    {
        let kind = (
            object["apiVersion"].as_str().unwrap_or_default().to_owned(),
            object["kind"].as_str().unwrap_or_default().to_owned(),
        );
        *counts.entry(kind).or_default() += 1;
    }
    counts
}

/// The objects seen so far, by cluster and kind, and when each cluster became complete.
#[derive(Default)]
struct Seen {
    objects: HashMap<String, BTreeMap<(String, String), BTreeSet<String>>>,
    complete: HashMap<String, Instant>,
}

/// A live count of every cluster's objects in one namespace.
pub struct Census {
    expected: Expected,
    seen: Arc<Mutex<Seen>>,
}

impl Census {
    /// Starts one metadata watch per expected kind in `namespace`.
    pub async fn start(client: &Client, namespace: &str, expected: Expected) -> Result<Census> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        for kind in expected.keys() {
            let (group, version) = match kind.0.split_once('/') {
                Some((group, version)) => (group, version),
                None => ("", kind.0.as_str()),
            };
            let gvk = GroupVersionKind::gvk(group, version, &kind.1);
            let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
                .await
                .with_context(|| format!("discovering {}/{}", kind.0, kind.1))?;
            // Metadata only: the watch carries names and labels, not whole objects.
            let api: Api<PartialObjectMeta<DynamicObject>> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let config = watcher::Config::default().labels(labels::CLUSTER);
            let seen = seen.clone();
            let expected = expected.clone();
            let kind = kind.clone();
            tokio::spawn(async move {
                let mut objects = watcher(api, config).applied_objects().boxed();
                while let Some(Ok(object)) = objects.next().await {
                    let Some(cluster) = object.labels().get(labels::CLUSTER).cloned() else {
                        continue;
                    };
                    let mut seen = seen.lock().expect("not poisoned");
                    let names = seen.objects.entry(cluster.clone()).or_default();
                    names
                        .entry(kind.clone())
                        .or_default()
                        .insert(object.name_any());
                    let done = expected
                        .iter()
                        .all(|(kind, count)| names.get(kind).map_or(0, BTreeSet::len) >= *count);
                    if done {
                        seen.complete.entry(cluster).or_insert_with(Instant::now);
                    }
                }
            });
        }
        Ok(Census { expected, seen })
    }

    /// When `cluster` first had all its objects, if it has.
    pub fn completed(&self, cluster: &str) -> Option<Instant> {
        self.seen
            .lock()
            .expect("not poisoned")
            .complete
            .get(cluster)
            .copied()
    }

    /// The number of objects one cluster has.
    pub fn per_cluster(&self) -> usize {
        self.expected.values().sum()
    }
}
