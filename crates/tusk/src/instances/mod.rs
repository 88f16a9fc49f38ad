//! The objects of each instance set: which instances exist (`plan`), one StatefulSet per instance
//! (`statefulset`), its volumes (`volumes`), and the set's disruption budget (`disruption_budget`).

pub mod disruption_budget;
pub mod plan;
pub mod statefulset;
pub mod volumes;
