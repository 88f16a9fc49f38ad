//! The objects of each instance set: one StatefulSet per instance (to come), and the set's disruption budget.

pub mod disruption_budget;
