//! Test support shared by the sources crate's integration test files.
#![allow(dead_code)] // each test file uses part of it
#![allow(clippy::unwrap_used)] // test support: a panic is the failure report

pub mod redis;
