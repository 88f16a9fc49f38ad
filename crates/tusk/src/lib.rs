//! Tusk's operator library: everything the `tusk` binary does, as pure builders and the I/O that applies them.

pub mod naming;
