//! Object names, as PGO v5 gives them. Functions take the cluster's (or instance's) name and return the
//! object's name in the same namespace.

/// The letters of an instance name's random suffix: no vowels (no words) and no look-alike characters, as
/// Kubernetes' generated names.
pub const INSTANCE_SUFFIX_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";
/// How many letters an instance name's suffix has.
pub const INSTANCE_SUFFIX_LEN: usize = 4;
/// The longest StatefulSet name Kubernetes accepts: its pods' `controller-revision-hash` label
/// (`<name>-<10 characters>`) must fit in a 63-character label value.
pub const STATEFULSET_NAME_MAX: usize = 52;

/// The namespace's root CA Secret, shared by every cluster in it.
pub const ROOT_CA_SECRET: &str = "pgo-root-cacert";
/// The common name of the namespace's root CA certificate.
pub const ROOT_CA_COMMON_NAME: &str = "postgres-operator-ca";
/// The common name of the replication user's client certificate: the user PostgreSQL's `cert` HBA rule
/// authenticates.
pub const REPLICATION_USER: &str = "_crunchyrepl";
/// The Kubernetes cluster domain when none is configured (PGO looks it up and falls back to this).
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// Patroni's scope, and the Service whose Endpoints Patroni keeps pointing at the leader: `<cluster>-ha`.
pub fn patroni_scope(cluster: &str) -> String {
    format!("{cluster}-ha")
}

/// The headless Service that keeps Patroni's configuration Endpoints: `<cluster>-ha-config`.
pub fn patroni_config_service(cluster: &str) -> String {
    format!("{}-config", patroni_scope(cluster))
}

/// Patroni's Endpoints for controlled changes of the leader: `<cluster>-ha-failover`.
pub fn patroni_failover_endpoints(cluster: &str) -> String {
    format!("{}-failover", patroni_scope(cluster))
}

/// The Service clients use to reach the primary: `<cluster>-primary`.
pub fn primary_service(cluster: &str) -> String {
    format!("{cluster}-primary")
}

/// The Service that balances over the replicas: `<cluster>-replicas`.
pub fn replicas_service(cluster: &str) -> String {
    format!("{cluster}-replicas")
}

/// The headless Service that gives every pod a DNS name (`<pod>.<cluster>-pods`): `<cluster>-pods`.
pub fn pods_service(cluster: &str) -> String {
    format!("{cluster}-pods")
}

/// The cluster's shared ConfigMap (Patroni's cluster-wide configuration): `<cluster>-config`.
pub fn cluster_config_map(cluster: &str) -> String {
    format!("{cluster}-config")
}

/// The ServiceAccount, Role and RoleBinding of the instance pods: `<cluster>-instance`.
pub fn instance_rbac(cluster: &str) -> String {
    format!("{cluster}-instance")
}

/// An instance's StatefulSet (and so its pod `<name>-0`): `<cluster>-<set>-<suffix>`.
pub fn instance(cluster: &str, instance_set: &str, suffix: &str) -> String {
    format!("{cluster}-{instance_set}-{suffix}")
}

/// An instance's only pod: `<instance>-0` (its StatefulSet has one replica).
pub fn instance_pod(instance: &str) -> String {
    format!("{instance}-0")
}

/// An instance's ConfigMap (Patroni's per-instance configuration): `<instance>-config`.
pub fn instance_config_map(instance: &str) -> String {
    format!("{instance}-config")
}

/// An instance's certificate Secret: `<instance>-certs`.
pub fn instance_certificates(instance: &str) -> String {
    format!("{instance}-certs")
}

/// An instance's data volume: `<instance>-pgdata`.
pub fn instance_data_volume(instance: &str) -> String {
    format!("{instance}-pgdata")
}

/// An instance's WAL volume: `<instance>-pgwal`.
pub fn instance_wal_volume(instance: &str) -> String {
    format!("{instance}-pgwal")
}

/// The Job that moves the directory of an adopted data volume (`spec.dataSource.volumes.pgDataVolume`)
/// into place: `<cluster>-move-pgdata-dir`.
pub fn move_pgdata_job(cluster: &str) -> String {
    format!("{cluster}-move-pgdata-dir")
}

/// The Job that moves the directory of an adopted repository volume
/// (`spec.dataSource.volumes.pgBackRestVolume`) into place: `<cluster>-move-pgbackrest-repo-dir`.
pub fn move_pgbackrest_repo_job(cluster: &str) -> String {
    format!("{cluster}-move-pgbackrest-repo-dir")
}

/// The PodDisruptionBudget of an instance set: `<cluster>-set-<set>`.
pub fn instance_set_disruption_budget(cluster: &str, instance_set: &str) -> String {
    format!("{cluster}-set-{instance_set}")
}

/// The Secret of a PostgreSQL user: `<cluster>-pguser-<user>`.
pub fn user_secret(cluster: &str, user: &str) -> String {
    format!("{cluster}-pguser-{user}")
}

/// The Secret of the cluster's TLS certificate: `<cluster>-cluster-cert`.
pub fn cluster_certificate_secret(cluster: &str) -> String {
    format!("{cluster}-cluster-cert")
}

/// The Secret of the replication user's client certificate: `<cluster>-replication-cert`.
pub fn replication_certificate_secret(cluster: &str) -> String {
    format!("{cluster}-replication-cert")
}

/// The Secret of the monitoring user's credentials: `<cluster>-monitoring`.
pub fn monitoring_secret(cluster: &str) -> String {
    format!("{cluster}-monitoring")
}

/// The ConfigMap of the exporter's queries: `<cluster>-exporter-queries-config`.
pub fn exporter_queries_config_map(cluster: &str) -> String {
    format!("{cluster}-exporter-queries-config")
}

/// PgBouncer's Deployment, Service, ConfigMap, Secret and PodDisruptionBudget: `<cluster>-pgbouncer`.
pub fn pgbouncer(cluster: &str) -> String {
    format!("{cluster}-pgbouncer")
}

/// The pgBackRest configuration ConfigMap: `<cluster>-pgbackrest-config`.
pub fn pgbackrest_config_map(cluster: &str) -> String {
    format!("{cluster}-pgbackrest-config")
}

/// The pgBackRest Secret (certificates), and the ServiceAccount, Role and RoleBinding of its Jobs:
/// `<cluster>-pgbackrest`.
pub fn pgbackrest(cluster: &str) -> String {
    format!("{cluster}-pgbackrest")
}

/// The dedicated repository host's StatefulSet: `<cluster>-repo-host`.
pub fn repo_host(cluster: &str) -> String {
    format!("{cluster}-repo-host")
}

/// The ServiceAccount of the repository host (no Role; its token is not mounted): `<cluster>-repohost`.
pub fn repo_host_service_account(cluster: &str) -> String {
    format!("{cluster}-repohost")
}

/// The fully qualified DNS name a pod of `cluster` has through the `<cluster>-pods` Service:
/// `<pod>.<cluster>-pods.<namespace>.svc.cluster.local`: the first of the names its certificate carries,
/// which pgBackRest compares literally (so without the final dot a resolver would accept).
pub fn pod_dns_name(pod: &str, cluster: &str, namespace: &str) -> String {
    let [fully_qualified, ..] =
        dns_names(&pod_host(cluster, pod), namespace, DEFAULT_CLUSTER_DOMAIN);
    fully_qualified
}

/// A backup Job the operator starts (manual or replica-create): `<cluster>-backup-<suffix>`, as PGO's
/// `hippo-backup-x2bc`; `suffix` is a short hash of what the backup is for.
pub fn backup_job(cluster: &str, suffix: &str) -> String {
    format!("{cluster}-backup-{suffix}")
}

/// The Job that creates the stanza for the repository configuration of hash `config_hash`:
/// `<cluster>-stanza-<first 8 characters of the hash>`, so that a new configuration gets a new Job.
pub fn stanza_job(cluster: &str, config_hash: &str) -> String {
    let short: String = config_hash.chars().take(8).collect();
    format!("{cluster}-stanza-{short}")
}

/// A volume repository's claim: `<cluster>-<repo>`.
pub fn repo_volume(cluster: &str, repo: &str) -> String {
    format!("{cluster}-{repo}")
}

/// A backup schedule's CronJob: `<cluster>-pgbackrest-<repo>-<full|diff|incr>`, as the docs' shutdown example
/// lists it (`hippo-pgbackrest-repo1-full`).
pub fn backup_cronjob(cluster: &str, repo: &str, backup_type: &str) -> String {
    format!("{cluster}-pgbackrest-{repo}-{backup_type}")
}

/// An in-place restore's Job: `<cluster>-pgbackrest-restore`.
pub fn restore_job(cluster: &str) -> String {
    format!("{cluster}-pgbackrest-restore")
}

/// The dedicated repository host's only pod: `<cluster>-repo-host-0`.
pub fn repo_host_pod(cluster: &str) -> String {
    format!("{}-0", repo_host(cluster))
}

/// The common name of the pgBackRest client certificate of backup Jobs and the repository host:
/// `pgbackrest@<cluster>`. pgBackRest TLS servers accept clients by this name (`tls-server-auth`). PGO puts the
/// cluster's UID after the `@`; Tusk uses the name, which is known offline (`tusk render`) and is just as unique
/// among the clusters of a namespace, the only ones whose certificates the namespace's root signs.
pub fn pgbackrest_client_common_name(cluster: &str) -> String {
    format!("pgbackrest@{cluster}")
}

/// The DNS name of pod `pod` of a StatefulSet served by `<cluster>-pods`, relative to the namespace:
/// `<pod>.<cluster>-pods`.
pub fn pod_host(cluster: &str, pod: &str) -> String {
    format!("{pod}.{}", pods_service(cluster))
}

/// The four DNS names of `host` (a Service, or a pod's [`pod_host`]) in `namespace`, longest first:
/// `<host>.<ns>.svc.<domain>`, `<host>.<ns>.svc`, `<host>.<ns>`, `<host>`. A trailing dot of `domain` (an
/// absolute name, as a resolver may report it) is dropped.
pub fn dns_names(host: &str, namespace: &str, domain: &str) -> [String; 4] {
    let domain = domain.trim_end_matches('.');
    [
        format!("{host}.{namespace}.svc.{domain}"),
        format!("{host}.{namespace}.svc"),
        format!("{host}.{namespace}"),
        host.to_string(),
    ]
}

/// Whether `suffix` could have been generated for an instance name.
pub fn is_instance_suffix(suffix: &str) -> bool {
    suffix.len() == INSTANCE_SUFFIX_LEN
        && suffix.chars().all(|c| INSTANCE_SUFFIX_ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names PGO's documentation shows for the `hippo` cluster.
    #[test]
    fn hippo_objects_have_the_names_of_pgo_docs() {
        assert_eq!(patroni_scope("hippo"), "hippo-ha");
        assert_eq!(patroni_config_service("hippo"), "hippo-ha-config");
        assert_eq!(primary_service("hippo"), "hippo-primary");
        assert_eq!(replicas_service("hippo"), "hippo-replicas");
        assert_eq!(pods_service("hippo"), "hippo-pods");
        assert_eq!(user_secret("hippo", "hippo"), "hippo-pguser-hippo");
        assert_eq!(pgbouncer("hippo"), "hippo-pgbouncer");
        assert_eq!(repo_host("hippo"), "hippo-repo-host");
        assert_eq!(repo_volume("hippo", "repo1"), "hippo-repo1");
        assert_eq!(
            backup_cronjob("hippo", "repo1", "full"),
            "hippo-pgbackrest-repo1-full"
        );
        assert_eq!(repo_host_service_account("hippo"), "hippo-repohost");
        assert_eq!(repo_host_pod("hippo"), "hippo-repo-host-0");
        assert_eq!(backup_job("hippo", "x2bc"), "hippo-backup-x2bc");
        assert_eq!(
            pod_dns_name(&repo_host_pod("hippo"), "hippo", "zoo"),
            "hippo-repo-host-0.hippo-pods.zoo.svc.cluster.local"
        );
        let instance = instance("hippo", "instance1", "x2bc");
        assert_eq!(instance, "hippo-instance1-x2bc");
        assert_eq!(
            instance_data_volume(&instance),
            "hippo-instance1-x2bc-pgdata"
        );
        assert_eq!(instance_wal_volume(&instance), "hippo-instance1-x2bc-pgwal");
        assert_eq!(
            instance_certificates(&instance),
            "hippo-instance1-x2bc-certs"
        );
        assert_eq!(
            instance_set_disruption_budget("hippo", "instance1"),
            "hippo-set-instance1"
        );
    }

    #[test]
    fn dns_names_go_from_fully_qualified_to_bare() {
        assert_eq!(
            dns_names(
                &pod_host("hippo", "hippo-repo-host-0"),
                "zoo",
                "cluster.local."
            ),
            [
                "hippo-repo-host-0.hippo-pods.zoo.svc.cluster.local",
                "hippo-repo-host-0.hippo-pods.zoo.svc",
                "hippo-repo-host-0.hippo-pods.zoo",
                "hippo-repo-host-0.hippo-pods",
            ]
        );
        assert_eq!(repo_host_pod("hippo"), "hippo-repo-host-0");
    }

    #[test]
    fn instance_suffixes_use_the_safe_alphabet() {
        assert!(is_instance_suffix("x2bc"));
        assert!(!is_instance_suffix("abcd"), "vowels are never generated");
        assert!(!is_instance_suffix("x2b"));
    }
}
