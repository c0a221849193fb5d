//! The archiving metric, as a gauge and as a Prometheus textfile.

use std::path::Path;

use crate::error::{PitrError, Result};

/// Unix time of the last WAL file archived successfully. Set by every
/// [`wal_push`](super::wal_push) that stores a file or finds it already
/// stored.
pub const LAST_SUCCESS_METRIC: &str = "covet_archive_last_success_timestamp_seconds";

pub(crate) fn record_success(unix_seconds: f64) {
    metrics::gauge!(LAST_SUCCESS_METRIC).set(unix_seconds);
}

/// Writes the gauge in Prometheus' text format to `path` for node
/// exporter's textfile collector: to a temporary file beside it, then a
/// rename, so a scrape never reads half a file. A one-shot process such as
/// an `archive_command` has no endpoint of its own to be scraped.
pub fn write_metrics_textfile(path: &Path, unix_seconds: f64) -> Result<()> {
    let text = format!(
        "# HELP {LAST_SUCCESS_METRIC} Unix time of the last WAL file archived by covet pitr wal-push.\n\
         # TYPE {LAST_SUCCESS_METRIC} gauge\n\
         {LAST_SUCCESS_METRIC} {unix_seconds:.3}\n"
    );
    let name = path
        .file_name()
        .ok_or_else(|| PitrError::Config(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, text.as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        PitrError::io(format!("writing metrics textfile {}", path.display()), e)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn textfile_is_prometheus_text() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("covet.prom");
        super::write_metrics_textfile(&p, 1_700_000_000.5).unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains("# TYPE covet_archive_last_success_timestamp_seconds gauge\n"));
        assert!(t.ends_with("covet_archive_last_success_timestamp_seconds 1700000000.500\n"));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
