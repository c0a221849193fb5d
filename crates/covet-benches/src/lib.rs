//! Comparison benchmarks for Covet. The code lives in `benches/`; run one
//! with `cargo xtask bench <name>`. This library is intentionally empty.
#![forbid(unsafe_code)]
