//! The synchronisation shim: every lock and atomic in covet-pool comes from
//! here, so `--cfg loom` swaps them all for loom's model-checked versions.
//! Pool code never imports `std::sync` directly.

#[cfg(not(loom))]
mod std;
#[cfg(not(loom))]
pub(crate) use self::std::*;

#[cfg(loom)]
mod mocked;
#[cfg(loom)]
pub(crate) use self::mocked::*;
