use crate::util::Result;

/// Placeholder until covet-loadtest lands: says so instead of pretending.
pub fn run(_args: &[String]) -> Result {
    Err("the load tester (covet-loadtest) has not landed yet".into())
}
