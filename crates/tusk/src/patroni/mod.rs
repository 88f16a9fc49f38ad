//! Patroni, which runs PostgreSQL in every instance pod, elects the leader and fails over. Its distributed
//! configuration store (DCS) is the Kubernetes API itself: Endpoints named after its scope, `<cluster>-ha`.

pub mod config;
pub mod config_maps;
pub mod member;
pub mod rbac;
