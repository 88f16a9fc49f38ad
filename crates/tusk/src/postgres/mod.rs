//! PostgreSQL itself: where its files live in an instance pod, its parameters, its `pg_hba.conf` rules, the
//! users' SQL, the Job that runs `spec.databaseInitSQL`, and moving the WAL between volumes (`wal`).

pub mod hba;
pub mod init_sql;
pub mod parameters;
pub mod users;
pub mod wal;

/// Where the data volume is mounted.
pub const DATA_MOUNT: &str = "/pgdata";
/// Where the WAL volume is mounted, when the instance set has one.
pub const WAL_MOUNT: &str = "/pgwal";
/// Where the server and replication certificates are mounted.
pub const TLS_MOUNT: &str = "/pgconf/tls";
/// Under custom TLS, the file (in [`TLS_MOUNT`]) of the CAs PostgreSQL trusts for client certificates: the
/// user's and the namespace's root, so that the operator's own client certificate is still accepted.
pub const CLIENT_CA_PATH: &str = "~postgres-operator/client-ca.crt";
/// The directory of PostgreSQL's Unix socket (a scratch volume of its own).
pub const SOCKET_DIRECTORY: &str = "/tmp/postgres";
/// The user that replicates and rewinds, authenticated by its client certificate.
pub const REPLICATION_USER: &str = "_crunchyrepl";
/// The superuser that Patroni connects as over the Unix socket.
pub const SUPERUSER: &str = "postgres";
/// The superuser the operator connects as, over TLS, authenticated by a client certificate with this common
/// name that the operator issues itself from the namespace's root CA (it holds the root key). Patroni creates
/// the role when it bootstraps the cluster ([`crate::patroni::config`]); `pg_hba.conf` admits it by
/// certificate only ([`hba`]). PGO's user names cannot begin with `_`, so no user of the spec collides.
pub const OPERATOR_USER: &str = "_tusk";

/// The data directory of a major version: `/pgdata/pg<version>`.
pub fn data_directory(version: i32) -> String {
    format!("{DATA_MOUNT}/pg{version}")
}

/// The WAL directory of a major version on the WAL volume: `/pgwal/pg<version>_wal`.
pub fn wal_directory(version: i32) -> String {
    format!("{WAL_MOUNT}/pg{version}_wal")
}

#[cfg(test)]
mod tests {
    #[test]
    fn directories_carry_the_major_version() {
        assert_eq!(super::data_directory(15), "/pgdata/pg15");
        assert_eq!(super::wal_directory(15), "/pgwal/pg15_wal");
    }
}
