//! The objects of each instance set: which instances exist (`plan`), one StatefulSet per instance
//! (`statefulset`), its volumes (`volumes`), the set's disruption budget (`disruption_budget`), and the
//! order in which a change rolls through them (`rollout`), a change of primary on request (`switchover`), and
//! which failed replica Patroni must reinitialize (`healing`).

pub mod disruption_budget;
pub mod healing;
pub mod plan;
pub mod rollout;
pub mod statefulset;
pub mod switchover;
pub mod volumes;
