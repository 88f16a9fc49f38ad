//! Helpers shared by the integration tests of `tusk` (each test file that needs them says `mod common;`).

// Every test file that includes `common` compiles its own copy; not all of them use every item.
#![allow(dead_code)]

pub mod api_server;
pub mod invalid_cases;
pub mod operator;
