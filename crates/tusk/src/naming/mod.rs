//! Every name, label, annotation key and selector Tusk gives an object, and nothing else.
//!
//! PGO's names and labels are the contract: a platform team's dashboards, alerts, network policies and scripts
//! select `postgres-operator.crunchydata.com/cluster=hippo` and connect to `hippo-primary`, so Tusk names its
//! objects exactly as PGO v5 does. No other module spells a name or a label key.

pub mod annotations;
pub mod labels;
pub mod names;
