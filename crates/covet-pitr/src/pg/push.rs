//! `archive_command` and `restore_command`: one WAL file in, one out.

use std::path::Path;

use covet_backup::BackupError;
use covet_backup::object::{ObjectInfo, PutOutcome, get_object_to_file, put_file};

use super::Repo;
use super::wal::{WalFile, object_name};
use crate::error::{PitrError, Result};

/// Archives the WAL file at `path` (PostgreSQL's `%p`) under its file
/// name. Pushing the same file again succeeds without writing
/// ([`PutOutcome::AlreadyPresent`]); a different file under the same name
/// is refused ([`BackupError::ObjectConflict`]), as PostgreSQL asks of an
/// `archive_command`. The object appears only once whole, so a push that
/// is killed leaves nothing that lists. Sets the
/// [`LAST_SUCCESS_METRIC`](super::LAST_SUCCESS_METRIC) gauge on success.
pub async fn wal_push(repo: &Repo, path: &Path) -> Result<PutOutcome> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| PitrError::Config(format!("{} has no file name", path.display())))?;
    let file = WalFile::parse(name)?;
    let out = put_file(
        repo.sink(),
        &object_name(name),
        path,
        &repo.options(file.kind()),
    )
    .await?;
    let now = chrono::Utc::now();
    super::metrics::record_success(now.timestamp_millis() as f64 / 1000.0);
    Ok(out)
}

/// What [`wal_fetch`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The file was written to the destination, checked.
    Restored(ObjectInfo),
    /// The repository does not hold it; nothing was written. PostgreSQL
    /// asks for files that may not exist (the next timeline's history
    /// file, the segment after the last one), so this is not an error.
    NotArchived,
}

/// Fetches WAL file `file` (PostgreSQL's `%f`) to `dest` (`%p`),
/// atomically: a damaged object, a wrong key or a missing file leaves
/// nothing at `dest`.
pub async fn wal_fetch(repo: &Repo, file: &str, dest: &Path) -> Result<FetchOutcome> {
    WalFile::parse(file)?;
    match get_object_to_file(repo.sink(), &object_name(file), repo.key(), dest).await {
        Ok(info) => Ok(FetchOutcome::Restored(info)),
        Err(BackupError::NotFound(_)) => Ok(FetchOutcome::NotArchived),
        Err(e) => Err(e.into()),
    }
}
