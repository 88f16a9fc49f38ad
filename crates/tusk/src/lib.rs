//! Tusk's operator library: everything the `tusk` binary does, as pure builders and the I/O that applies them.

pub mod adopt;
pub mod build;
pub mod changes;
pub mod controller;
pub mod digest;
pub mod images;
pub mod instances;
pub mod metadata;
pub mod monitoring;
pub mod naming;
pub mod patroni;
pub mod pgbackrest;
pub mod pgbouncer;
pub mod pki;
pub mod pods;
pub mod postgres;
pub mod quantity;
pub mod runtime;
pub mod services;
pub mod summary;
pub mod users;
pub mod validate;
