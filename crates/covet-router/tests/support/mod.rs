//! Shared helpers for covet-router's integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod mock;
pub mod servers;
