//! The PostgresCluster API of PGO v5 (`postgres-operator.crunchydata.com/v1beta1`), as Tusk serves it.
//!
//! Pure data: the Rust types of the spec and status, their defaults, the checks the schema cannot express,
//! and the CustomResourceDefinition generated from the types. No I/O and no Kubernetes client.

pub mod cluster;
pub mod common;
pub mod crd;
pub mod datasource;
pub mod instance;
pub mod manifest;
pub mod monitoring;
pub mod patroni;
pub mod pgbackrest;
pub mod proxy;
pub mod schema_check;
pub mod status;
pub mod users;
pub mod validation;
pub mod yaml;

pub use cluster::{PostgresCluster, PostgresClusterSpec};
pub use status::PostgresClusterStatus;
