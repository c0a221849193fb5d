//! The local directory sink: exclusive, unique partial files, one winner
//! when two runs write the same name, private file modes, and the cleaning
//! of partial files that crashed runs left.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use covet_backup::retention::{self, RetentionPolicy};
use covet_backup::*;
use covet_core::Value;

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

async fn write_some(sink: &dyn BackupSink, name: &str, rows: i64) -> Result<BackupEntry> {
    let mut w = BackupWriter::create(
        sink,
        name,
        support::two_tables(),
        SourceInfo::now("test", "db"),
        WriteOptions {
            compression: Compression::None,
            encryption: Encryption::None,
            chunk_size: 1024,
        },
    )
    .await?;
    for i in 0..rows {
        w.write_rows(
            0,
            &[vec![Value::I64(i), Value::Text(format!("row {i:06}"))]],
        )
        .await?;
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    w.finish().await
}

/// Two creates of one name at once: before the fix both wrote
/// `.X.partial` (opened with truncate) and the later rename won, so a
/// backup listed whose file failed verify. Now exactly one succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_creates_of_one_name_one_wins_and_it_verifies() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalDirSink::new(dir.path());
        let (s1, s2) = (sink.clone(), sink.clone());
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let (b1, b2) = (barrier.clone(), barrier.clone());
        let t1 = tokio::spawn(async move {
            b1.wait().await;
            write_some(&s1, "x.covet", 3000).await
        });
        let t2 = tokio::spawn(async move {
            b2.wait().await;
            write_some(&s2, "x.covet", 2000).await
        });
        let (r1, r2) = (t1.await.unwrap(), t2.await.unwrap());
        let oks = [&r1, &r2].iter().filter(|r| r.is_ok()).count();
        assert_eq!(oks, 1, "round {round}: {r1:?} / {r2:?}");
        let err = [r1, r2].into_iter().find_map(|r| r.err()).unwrap();
        assert!(
            matches!(
                err,
                BackupError::AlreadyExists { .. } | BackupError::InProgress { .. }
            ),
            "round {round}: {err}"
        );
        let listed = sink.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        verify(&sink, "x.covet", None).await.unwrap();
        assert_eq!(
            files_in(dir.path()),
            vec!["x.covet".to_string(), "x.covet.index.json".to_string()],
            "round {round}: leftovers"
        );
    }
}

#[tokio::test]
async fn an_existing_name_is_refused_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    write_some(&sink, "a.covet", 10).await.unwrap();
    let e = write_some(&sink, "a.covet", 10).await.unwrap_err();
    assert!(matches!(e, BackupError::AlreadyExists { .. }), "{e}");
    let mem = MemorySink::new();
    write_some(&mem, "a.covet", 10).await.unwrap();
    let e = write_some(&mem, "a.covet", 10).await.unwrap_err();
    assert!(matches!(e, BackupError::AlreadyExists { .. }), "{e}");
}

/// A name another live writer is writing is refused at once.
#[tokio::test]
async fn a_name_being_written_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let w = sink.create("b.covet").await.unwrap();
    let e = sink.create("b.covet").await.err().unwrap();
    assert!(matches!(e, BackupError::InProgress { .. }), "{e}");
    w.abort().await;
    assert!(files_in(dir.path()).is_empty());
    sink.create("b.covet").await.unwrap().abort().await;
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Unencrypted backups, their partial files and index entries are
/// readable by their owner only (they were 0644 under the usual umask).
#[cfg(unix)]
#[tokio::test]
async fn backup_and_partial_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let mut w = sink.create("m.covet").await.unwrap();
    w.write(bytes::Bytes::from_static(b"x")).await.unwrap();
    let partial = files_in(dir.path());
    assert_eq!(partial.len(), 1);
    assert!(
        partial[0].starts_with(".m.covet.") && partial[0].ends_with(".partial"),
        "{partial:?}"
    );
    assert_eq!(mode(&dir.path().join(&partial[0])), 0o600);
    w.abort().await;
    write_some(&sink, "m.covet", 10).await.unwrap();
    for f in ["m.covet", "m.covet.index.json"] {
        assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
    }
}

fn age(path: &Path, by: Duration) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

/// Partial files of crashed writers are removed by prune (and reported)
/// and by the next create; a live writer's file and a file too young to
/// judge are kept.
#[tokio::test]
async fn prune_and_create_remove_partials_that_crashed_runs_left() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    write_some(&sink, "keep.covet", 10).await.unwrap();
    // A crashed writer: its file, unlocked, an hour old (and the old
    // single-name form).
    let crashed = dir.path().join(".old.covet.4242-0123456789abcdef.partial");
    std::fs::write(&crashed, b"half a backup").unwrap();
    age(&crashed, Duration::from_secs(3600));
    let legacy = dir.path().join(".legacy.covet.partial");
    std::fs::write(&legacy, b"half").unwrap();
    age(&legacy, Duration::from_secs(3600));
    // Unlocked, empty and new: could be a writer between creating and
    // locking its file.
    let young = dir.path().join(".young.covet.1-00.partial");
    std::fs::write(&young, b"").unwrap();
    // Unlocked, new, and holding bytes: its writer had locked it before
    // writing, so it died (a killed archive_command must not block its
    // own retry for a minute).
    let killed = dir.path().join(".killed.covet.4244-bb.partial");
    std::fs::write(&killed, b"half a segment").unwrap();
    // A live writer whose file is old (a stalled export): kept by its lock.
    let mut live = sink.create("live.covet").await.unwrap();
    live.write(bytes::Bytes::from_static(b"y")).await.unwrap();
    let live_file = files_in(dir.path())
        .into_iter()
        .find(|f| f.starts_with(".live.covet."))
        .unwrap();
    age(&dir.path().join(&live_file), Duration::from_secs(7200));

    let r = retention::prune(
        &sink,
        RetentionPolicy::MaxAgeDays(30),
        None,
        chrono::Utc::now(),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        r.stale_partials,
        vec![
            ".killed.covet.4244-bb.partial".to_string(),
            ".legacy.covet.partial".to_string(),
            ".old.covet.4242-0123456789abcdef.partial".to_string()
        ]
    );
    let left = files_in(dir.path());
    assert!(left.contains(&live_file), "{left:?}");
    assert!(left.contains(&".young.covet.1-00.partial".to_string()));
    assert!(!crashed.exists() && !legacy.exists());
    live.abort().await;

    // A crashed run of a name does not block the next create of it.
    let again = dir.path().join(".again.covet.4243-aa.partial");
    std::fs::write(&again, b"x").unwrap();
    age(&again, Duration::from_secs(3600));
    write_some(&sink, "again.covet", 5).await.unwrap();
    assert!(!again.exists());
}
