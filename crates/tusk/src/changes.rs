//! What applying a spec would change, before it is applied (`tusk plan`): for every object Tusk would create,
//! change or delete, the fields that differ, and what that means for the running cluster — a rolling restart,
//! a switchover, a new volume or a role written on the primary.
//!
//! Pure: the caller hands in each object as it is now (`None`: absent) and as the API server would store it
//! (a server-side apply dry run, so defaults and other managers' fields are compared alike).

use crate::naming::labels;
use serde_json::Value;
use std::fmt::Write;

/// What happens to one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// It does not exist yet.
    Create,
    /// These fields (paths such as `spec.template.spec.containers[database].resources`) change.
    Update(Vec<String>),
    /// The spec no longer asks for it.
    Delete,
}

/// One object that would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Its kind, e.g. `StatefulSet`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its labels (what it is to the cluster: an instance, a user's Secret, a repository volume).
    pub labels: Vec<(String, String)>,
    /// What happens to it.
    pub action: Action,
}

impl Change {
    /// The change from `live` to `wanted` (both as the API server serves them), or `None` when nothing
    /// but bookkeeping differs.
    pub fn between(live: Option<&Value>, wanted: &Value) -> Option<Change> {
        let action = match live {
            None => Action::Create,
            Some(live) => {
                let mut paths = Vec::new();
                differences(
                    &without_bookkeeping(live),
                    &without_bookkeeping(wanted),
                    "",
                    &mut paths,
                );
                if paths.is_empty() {
                    return None;
                }
                Action::Update(paths)
            }
        };
        Some(Change::of(wanted, action))
    }

    /// The deletion of `live`.
    pub fn deletion(live: &Value) -> Change {
        Change::of(live, Action::Delete)
    }

    fn of(object: &Value, action: Action) -> Change {
        let labels = object["metadata"]["labels"]
            .as_object()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().into()))
                    .collect()
            })
            .unwrap_or_default();
        Change {
            kind: object["kind"].as_str().unwrap_or_default().into(),
            name: object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .into(),
            labels,
            action,
        }
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// What this change does to the running cluster, when more than the object itself; `leader` is the
    /// instance Patroni made the leader.
    pub fn consequence(&self, leader: Option<&str>) -> Option<String> {
        let instance = self.label(labels::INSTANCE);
        let role = self.label(labels::ROLE);
        match (self.kind.as_str(), &self.action) {
            ("StatefulSet", Action::Update(paths)) if instance.is_some() => {
                let instance = instance.unwrap_or_default();
                if !paths.iter().any(|p| p.starts_with("spec.template")) {
                    return None;
                }
                Some(if Some(instance) == leader {
                    format!(
                        "rolling restart: {instance} is the primary, so it goes last, after a switchover to a replica"
                    )
                } else {
                    format!(
                        "rolling restart: {instance}'s pod is replaced (a replica: no switchover)"
                    )
                })
            }
            ("StatefulSet", Action::Create) if instance.is_some() => Some(format!(
                "a new instance {}: a replica that copies the primary's data",
                instance.unwrap_or_default()
            )),
            ("StatefulSet", Action::Delete) if instance.is_some() => Some(format!(
                "instance {} stops and goes (its data volume is kept while no other instance leads)",
                instance.unwrap_or_default()
            )),
            ("PersistentVolumeClaim", Action::Create) => {
                Some(match self.label(labels::PGBACKREST_REPO) {
                    Some(repo) => format!(
                        "a new volume for {repo}: its stanza is created, then backups can run"
                    ),
                    None => "a new volume".into(),
                })
            }
            ("PersistentVolumeClaim", Action::Update(paths))
                if paths.iter().any(|p| p.starts_with("spec.resources")) =>
            {
                Some("the volume grows (online where the storage class allows expansion)".into())
            }
            ("Secret", Action::Create) if role == Some(labels::ROLE_PGUSER) => {
                Some("a new user: its role and databases are created on the primary".into())
            }
            ("Secret", Action::Delete) if role == Some(labels::ROLE_PGUSER) => {
                Some("the user's Secret goes; its role and data stay in PostgreSQL".into())
            }
            _ => None,
        }
    }
}

/// The plan as a person reads it: one line per object (`+` create, `~` change with its fields, `-` delete),
/// its consequence under it, and a summary.
pub fn report(cluster: &str, changes: &[Change], leader: Option<&str>) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        let _ = writeln!(out, "PostgresCluster {cluster}: no change");
        return out;
    }
    let _ = match changes.len() {
        1 => writeln!(out, "PostgresCluster {cluster}: 1 object changes"),
        n => writeln!(out, "PostgresCluster {cluster}: {n} objects change"),
    };
    for change in changes {
        let sign = match change.action {
            Action::Create => '+',
            Action::Update(_) => '~',
            Action::Delete => '-',
        };
        let _ = writeln!(out, "  {sign} {} {}", change.kind, change.name);
        if let Action::Update(paths) = &change.action {
            for path in paths {
                let _ = writeln!(out, "      {path}");
            }
        }
        if let Some(consequence) = change.consequence(leader) {
            let _ = writeln!(out, "    → {consequence}");
        }
    }
    let _ = match restarts(changes, leader) {
        (0, _) => writeln!(out, "No pod of PostgreSQL restarts."),
        (n, true) => writeln!(
            out,
            "{n} instance{} restart{}, with one switchover.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" }
        ),
        (n, false) => writeln!(
            out,
            "{n} instance{} restart{}, without a switchover.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "s" } else { "" }
        ),
    };
    out
}

/// The plan for programs (`tusk plan -o json`): `cluster`, whether it `exists`, each change with its `action`
/// (`create`, `update` with its `fields`, `delete`) and `consequence`, and how many instances `restart`
/// and whether a `switchover` happens.
pub fn json(cluster: &str, exists: bool, changes: &[Change], leader: Option<&str>) -> Value {
    let (restarts, switchover) = restarts(changes, leader);
    let listed: Vec<Value> = changes
        .iter()
        .map(|change| {
            let (action, fields) = match &change.action {
                Action::Create => ("create", Vec::new()),
                Action::Update(paths) => ("update", paths.clone()),
                Action::Delete => ("delete", Vec::new()),
            };
            serde_json::json!({
                "kind": change.kind,
                "name": change.name,
                "action": action,
                "fields": fields,
                "consequence": change.consequence(leader),
            })
        })
        .collect();
    serde_json::json!({
        "cluster": cluster,
        "exists": exists,
        "changes": listed,
        "restarts": restarts,
        "switchover": switchover,
    })
}

/// How many instances `changes` restart, and whether one of them is the primary (a switchover first).
fn restarts(changes: &[Change], leader: Option<&str>) -> (usize, bool) {
    changes
        .iter()
        .filter_map(|change| change.consequence(leader))
        .filter(|consequence| consequence.starts_with("rolling restart"))
        .fold((0, false), |(count, switchover), consequence| {
            (count + 1, switchover || consequence.contains("switchover"))
        })
}

/// `object` without what the API server keeps for itself (status, resource versions, managed fields, times).
fn without_bookkeeping(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    if let Some(metadata) = object["metadata"].as_object_mut() {
        for key in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            metadata.remove(key);
        }
    }
    object
}

/// Appends to `paths` the paths below `at` where `live` and `wanted` differ. A list whose items all have a
/// `name` is compared item by item under `[name]`; any other list as a whole.
fn differences(live: &Value, wanted: &Value, at: &str, paths: &mut Vec<String>) {
    if live == wanted {
        return;
    }
    match (live, wanted) {
        (Value::Object(live), Value::Object(wanted)) => {
            let mut keys: Vec<&String> = live.keys().chain(wanted.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let here = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                differences(
                    live.get(key).unwrap_or(&Value::Null),
                    wanted.get(key).unwrap_or(&Value::Null),
                    &here,
                    paths,
                );
            }
        }
        (Value::Array(live), Value::Array(wanted)) if named(live) && named(wanted) => {
            let name = |item: &Value| item["name"].as_str().unwrap_or_default().to_string();
            let mut names: Vec<String> = live.iter().chain(wanted.iter()).map(name).collect();
            names.sort();
            names.dedup();
            for item in names {
                let find = |list: &[Value]| {
                    list.iter()
                        .find(|v| v["name"].as_str() == Some(item.as_str()))
                        .cloned()
                        .unwrap_or(Value::Null)
                };
                differences(&find(live), &find(wanted), &format!("{at}[{item}]"), paths);
            }
        }
        _ => paths.push(at.to_string()),
    }
}

fn named(list: &[Value]) -> bool {
    !list.is_empty() && list.iter().all(|item| item["name"].is_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance(name: &str, cpu: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": name,
                "resourceVersion": cpu,
                "labels": {"postgres-operator.crunchydata.com/instance": name},
            },
            "spec": {"template": {"spec": {"containers": [
                {"name": "database", "resources": {"limits": {"cpu": cpu}}},
                {"name": "replication-cert-copy"},
            ]}}},
            "status": {"replicas": 1},
        })
    }

    #[test]
    fn bookkeeping_alone_is_no_change() {
        let mut later = instance("hippo-instance1-abcd", "1");
        later["metadata"]["resourceVersion"] = json!("99");
        later["status"]["replicas"] = json!(0);
        assert_eq!(
            Change::between(Some(&instance("hippo-instance1-abcd", "1")), &later),
            None
        );
    }

    #[test]
    fn fields_are_named_by_path_and_list_items_by_name() {
        let change = Change::between(
            Some(&instance("hippo-instance1-abcd", "1")),
            &instance("hippo-instance1-abcd", "2"),
        )
        .expect("a change");
        assert_eq!(
            change.action,
            Action::Update(vec![
                "spec.template.spec.containers[database].resources.limits.cpu".into()
            ])
        );
    }

    #[test]
    fn the_primary_restarts_last_after_a_switchover() {
        let live = instance("hippo-instance1-abcd", "1");
        let change = Change::between(Some(&live), &instance("hippo-instance1-abcd", "2")).unwrap();
        let as_primary = change.consequence(Some("hippo-instance1-abcd")).unwrap();
        assert!(as_primary.contains("switchover"), "{as_primary}");
        let as_replica = change.consequence(Some("hippo-instance1-wxyz")).unwrap();
        assert!(as_replica.contains("no switchover"), "{as_replica}");
    }

    #[test]
    fn a_report_counts_restarts_and_names_new_users_and_volumes() {
        let user = json!({"kind": "Secret", "metadata": {"name": "hippo-pguser-rhino",
            "labels": {"postgres-operator.crunchydata.com/role": "pguser"}}});
        let repo = json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "hippo-repo2",
            "labels": {"postgres-operator.crunchydata.com/pgbackrest-repo": "repo2"}}});
        let changes = vec![
            Change::between(
                Some(&instance("hippo-instance1-abcd", "1")),
                &instance("hippo-instance1-abcd", "2"),
            )
            .unwrap(),
            Change::between(
                Some(&instance("hippo-instance1-wxyz", "1")),
                &instance("hippo-instance1-wxyz", "2"),
            )
            .unwrap(),
            Change::between(None, &user).unwrap(),
            Change::between(None, &repo).unwrap(),
        ];
        let text = report("hippo", &changes, Some("hippo-instance1-abcd"));
        assert!(
            text.starts_with("PostgresCluster hippo: 4 objects change\n"),
            "{text}"
        );
        assert!(
            text.contains("  + Secret hippo-pguser-rhino\n    → a new user"),
            "{text}"
        );
        assert!(text.contains("a new volume for repo2"), "{text}");
        assert!(
            text.ends_with("2 instances restart, with one switchover.\n"),
            "{text}"
        );
        assert_eq!(
            report("hippo", &[], None),
            "PostgresCluster hippo: no change\n"
        );
        let plan = super::json("ns/hippo", true, &changes, Some("hippo-instance1-abcd"));
        assert_eq!(plan["restarts"], 2);
        assert_eq!(plan["switchover"], true);
        assert_eq!(plan["changes"][0]["action"], "update");
        assert!(plan["changes"][0]["fields"][0].is_string(), "{plan:#}");
        assert_eq!(plan["changes"][2]["action"], "create");
        assert_eq!(plan["changes"][2]["name"], "hippo-pguser-rhino");
        assert!(
            plan["changes"][2]["consequence"]
                .as_str()
                .is_some_and(|c| c.starts_with("a new user")),
            "{plan:#}"
        );
    }
}
