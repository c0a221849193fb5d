//! MySQL/MariaDB point-in-time recovery against a private MariaDB with the
//! binary log on: a logical backup, the binlog streamed into sealed
//! segments (also across a crash, a clean restart and a killed
//! connection), and restores to a noted time, a position and the end.

mod mysql_support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use covet_backup::object::list_objects;
use covet_backup::{
    BackupSink, CancellationToken, CreateOptions, Encryption, KeySource, LocalDirSink,
    SnapshotPosition, WriteOptions, create_backup,
};
use covet_pitr::PitrError;
use covet_pitr::mysql::{
    BinlogPosition, BinlogRestoreOptions, BinlogTarget, SegmentName, StreamOptions, StreamReport,
    list_segments, plan_binlog_restore, restore_binlog, stream_binlog,
};
use mysql_support::{Connector, connect, exec, maria, master_position, one, rows, wait_for};

/// A repository directory with a key file.
struct Repo {
    dir: tempfile::TempDir,
    key: KeySource,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key");
        covet_backup::generate_key_file(&key_path).unwrap();
        Repo {
            key: KeySource::File(key_path),
            dir,
        }
    }

    fn sink(&self) -> Arc<dyn BackupSink> {
        Arc::new(LocalDirSink::new(self.dir.path().join("repo")))
    }

    fn backups(&self) -> Arc<dyn BackupSink> {
        Arc::new(LocalDirSink::new(self.dir.path().join("backups")))
    }
}

/// Takes a logical backup of `db`; returns its name and binlog position.
async fn backup(repo: &Repo, url: &covet_core::DatabaseUrl, db: &str) -> (String, BinlogPosition) {
    let a = connect(url).await;
    let entry = create_backup(
        a.clone(),
        db,
        repo.backups().as_ref(),
        CreateOptions::new(WriteOptions::new(Encryption::Key(repo.key.clone()))),
    )
    .await
    .unwrap();
    a.close().await;
    let m = covet_backup::verify(repo.backups().as_ref(), &entry.name, Some(&repo.key))
        .await
        .unwrap()
        .manifest;
    match m.snapshot {
        SnapshotPosition::MysqlBinlog {
            file,
            position,
            gtid,
        } => {
            assert!(gtid.is_some(), "MariaDB's gtid_binlog_pos is recorded");
            (entry.name, BinlogPosition::new(file, position))
        }
        other => panic!("no binlog position: {other:?}"),
    }
}

/// A stream running in a task.
struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<covet_pitr::Result<StreamReport>>,
}

fn start_stream(
    srv: &mysql_support::Maria,
    repo: &Repo,
    stream: &str,
    from: Option<BinlogPosition>,
    segment_bytes: usize,
) -> Running {
    let mut opts = StreamOptions::new(srv.url(""), repo.sink(), Encryption::Key(repo.key.clone()));
    opts.stream = stream.into();
    opts.from = from;
    opts.segment_bytes = segment_bytes;
    opts.segment_age = Duration::from_millis(200);
    opts.heartbeat = Duration::from_secs(1);
    opts.max_backoff = Duration::from_millis(500);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(stream_binlog(opts, cancel.clone()));
    Running { cancel, task }
}

impl Running {
    async fn stop(self) -> StreamReport {
        self.cancel.cancel();
        self.task.await.unwrap().unwrap()
    }
}

/// Waits until the stream's stored segments reach the server's current
/// position.
async fn wait_stored(repo: &Repo, stream: &str, admin: &dyn covet_core::Adapter) {
    let target = master_position(admin).await;
    let sink = repo.sink();
    wait_for(30, "the stream to store the newest writes", || {
        let sink = sink.clone();
        let target = target.clone();
        async move {
            covet_pitr::mysql::resume_position(sink.as_ref(), stream)
                .await
                .unwrap()
                .is_some_and(|p| p >= target)
        }
    })
    .await;
}

fn restore_opts(
    repo: &Repo,
    name: &str,
    stream: &str,
    target: BinlogTarget,
) -> BinlogRestoreOptions {
    BinlogRestoreOptions {
        backup_sink: repo.backups(),
        backup_name: name.into(),
        repo: repo.sink(),
        stream: stream.into(),
        key: Some(repo.key.clone()),
        target,
        restore: Default::default(),
        binlog_tool: None,
        client: None,
    }
}

async fn server_now(a: &dyn covet_core::Adapter) -> DateTime<Utc> {
    let micros: i64 = one(a, "SELECT CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)")
        .await
        .parse()
        .unwrap();
    Utc.timestamp_micros(micros).single().unwrap()
}

/// The story of the issue: rows, a backup, more rows, a noted time, more
/// rows, a DROP TABLE; restored to the noted time into a database of
/// another name, exactly the rows before it are there and the table too.
/// Restored to the end, the table is gone as on the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restore_to_a_noted_time_before_a_drop() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE DATABASE story",
            "CREATE TABLE story.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO story.t VALUES (1,'a'),(2,'b'),(3,'c')",
        ],
    )
    .await;
    let repo = Repo::new();
    let (name, pos) = backup(&repo, &srv.url("story"), "story").await;
    let s = start_stream(srv, &repo, "story", Some(pos), 16 << 20);
    let app = connect(&srv.url("story")).await;
    exec(
        app.as_ref(),
        &[
            "INSERT INTO t VALUES (4,'d')",
            "START TRANSACTION",
            "INSERT INTO t VALUES (5,'e')",
            "UPDATE t SET v = 'A' WHERE id = 1",
            "COMMIT",
            "CREATE TABLE side (x INT)",
            "INSERT INTO side VALUES (7)",
            "SELECT SLEEP(1.1)",
        ],
    )
    .await;
    let noted = server_now(app.as_ref()).await;
    exec(
        app.as_ref(),
        &[
            "SELECT SLEEP(1.1)",
            "INSERT INTO t VALUES (6,'f')",
            "DELETE FROM t WHERE id = 2",
            "DROP TABLE t",
        ],
    )
    .await;
    wait_stored(&repo, "story", admin.as_ref()).await;
    let report = s.stop().await;
    assert!(report.segments >= 1, "{report:?}");

    let want = [
        "1|A".to_string(),
        "2|b".into(),
        "3|c".into(),
        "4|d".into(),
        "5|e".into(),
    ];
    let r = restore_binlog(
        &restore_opts(&repo, &name, "story", BinlogTarget::Time(noted)),
        &srv.url("story_at"),
        &Connector,
    )
    .await
    .unwrap();
    assert!(r.plan.transactions >= 4, "{:?}", r.plan);
    let got = rows(admin.as_ref(), "SELECT id, v FROM story_at.t ORDER BY id").await;
    assert_eq!(got, want);
    assert_eq!(
        rows(admin.as_ref(), "SELECT x FROM story_at.side").await,
        ["7"]
    );

    // The end: the table dropped on the source is dropped here too.
    restore_binlog(
        &restore_opts(&repo, &name, "story", BinlogTarget::Latest),
        &srv.url("story_end"),
        &Connector,
    )
    .await
    .unwrap();
    let left = one(
        admin.as_ref(),
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'story_end' AND TABLE_NAME = 't'",
    )
    .await;
    assert_eq!(left, "0");

    // A position: the plan at the noted time stops at a transaction's end;
    // that position restores the same rows.
    let r = restore_binlog(
        &restore_opts(
            &repo,
            &name,
            "story",
            BinlogTarget::Position(r.plan.stop.clone()),
        ),
        &srv.url("story_pos"),
        &Connector,
    )
    .await
    .unwrap();
    assert_eq!(
        rows(admin.as_ref(), "SELECT id, v FROM story_pos.t ORDER BY id").await,
        want
    );
    assert!(r.plan.stop <= r.plan.covered_to);
}

/// Every event of the server's binlog files from `from` on, as the server
/// wrote them, except the annotate-rows events a replica that does not ask
/// for them is not sent (MariaDB skips them, leaving a hole in positions).
fn server_events(
    dir: &Path,
    from: &BinlogPosition,
    to: &BinlogPosition,
) -> Vec<(String, u64, Vec<u8>)> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            (n.starts_with("bin.") && n != "bin.index").then_some(n)
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let this = BinlogPosition::new(f.clone(), 4);
        if BinlogPosition::new(f.clone(), u64::MAX) < *from || this > *to {
            continue;
        }
        let bytes = std::fs::read(dir.join(&f)).unwrap();
        let mut at = 4usize;
        while at + 19 <= bytes.len() {
            let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
            let end = (at + size) as u64;
            let ty = bytes[at + 4];
            let p = BinlogPosition::new(f.clone(), at as u64);
            if p >= *from && BinlogPosition::new(f.clone(), end) <= *to && ty != 160 && ty != 15 {
                out.push((f.clone(), at as u64, bytes[at..at + size].to_vec()));
            }
            at += size;
        }
    }
    out
}

/// The stored events of a stream, read back through the object API, in
/// order: (file, start, bytes). Checks that the segments tile the binlog.
async fn stored_events(repo: &Repo, stream: &str) -> Vec<(String, u64, Vec<u8>)> {
    let sink = repo.sink();
    let segs = list_segments(sink.as_ref(), stream).await.unwrap();
    let mut out = Vec::new();
    let mut prev: Option<SegmentName> = None;
    for (s, _) in segs {
        if let Some(p) = &prev {
            let continues = p.file == s.file && p.end == s.start;
            let next_file = p.file != s.file && s.start == 4;
            if !(continues || next_file) {
                let mut names: Vec<String> = std::fs::read_dir(repo.dir.path().join("repo"))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                panic!("gap or overlap between {p:?} and {s:?}: {names:#?}");
            }
        }
        let dest = repo.dir.path().join("seg.tmp");
        covet_backup::object::get_object_to_file(
            sink.as_ref(),
            &s.object_name(),
            Some(&repo.key),
            &dest,
        )
        .await
        .unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(&bytes[..4], b"\xfebin");
        let mut at = 4usize;
        let mut first = true;
        while at < bytes.len() {
            let size = u32::from_le_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
            let log_pos = u64::from(u32::from_le_bytes(
                bytes[at + 13..at + 17].try_into().unwrap(),
            ));
            let ty = bytes[at + 4];
            // The head's format description is the stream's, not an event
            // of the range (unless the range starts the file).
            if !(first && ty == 15) {
                out.push((
                    s.file.clone(),
                    log_pos - size as u64,
                    bytes[at..at + size].to_vec(),
                ));
            }
            first = false;
            at += size;
        }
        prev = Some(s);
    }
    out
}

/// A stream killed mid-run (its task aborted, as a crash would), resumed,
/// its connection killed on the server, stopped cleanly and resumed again,
/// while a writer commits throughout: the stored events are exactly the
/// server's binlog from the start position on (every event once, in order,
/// byte for byte), and a restore to the end has exactly the source's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_stream_leaves_no_gap_or_duplicate() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE DATABASE resume",
            "CREATE TABLE resume.t (id INT PRIMARY KEY, n INT)",
            "INSERT INTO resume.t VALUES (0, 0)",
        ],
    )
    .await;
    let repo = Repo::new();
    let (name, from) = backup(&repo, &srv.url("resume"), "resume").await;
    let writer_url = srv.url("resume");
    let stop_writing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = stop_writing.clone();
    let writer = tokio::spawn(async move {
        let a = connect(&writer_url).await;
        let mut i = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            i += 1;
            exec(
                a.as_ref(),
                &[
                    &format!("INSERT INTO t VALUES ({i}, {i})"),
                    &format!("UPDATE t SET n = n + 1 WHERE id = {}", i / 2),
                ],
            )
            .await;
            if i == 20 {
                exec(a.as_ref(), &["FLUSH BINARY LOGS"]).await;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        i
    });
    // Small segments: a few transactions each.
    let seg = 2000;
    let sink = repo.sink();
    let count = |sink: Arc<dyn BackupSink>| async move {
        list_segments(sink.as_ref(), "resume").await.unwrap().len()
    };

    // 1. A crash: the task is aborted without a chance to seal.
    let s = start_stream(srv, &repo, "resume", Some(from.clone()), seg);
    wait_for(30, "first segments", || {
        let sink = sink.clone();
        async move { count(sink).await >= 5 }
    })
    .await;
    s.task.abort();
    let _ = s.task.await;

    // 2. Resumed from the stored end; its connection killed on the server.
    let s = start_stream(srv, &repo, "resume", None, seg);
    let n = count(sink.clone()).await;
    wait_for(30, "more segments", || {
        let sink = sink.clone();
        async move { count(sink).await >= n + 5 }
    })
    .await;
    // Every binlog dump connection (other tests' streams too: they must
    // survive it as well).
    let ids = rows(
        admin.as_ref(),
        "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'",
    )
    .await;
    assert!(!ids.is_empty());
    for id in ids {
        let _ = admin
            .execute(&covet_core::Statement::new(format!("KILL CONNECTION {id}")))
            .await;
    }
    // A lagging stream still has events the server sent before the kill
    // to read; events written after it can only come over a new
    // connection.
    let killed_at = master_position(admin.as_ref()).await;
    wait_for(60, "events written after the kill", || {
        let sink = sink.clone();
        let killed_at = killed_at.clone();
        async move {
            covet_pitr::mysql::resume_position(sink.as_ref(), "resume")
                .await
                .unwrap()
                .is_some_and(|p| p > killed_at)
        }
    })
    .await;
    let report = s.stop().await;
    assert!(report.reconnects >= 1, "{report:?}");

    // 3. A clean restart runs to the end of the writes.
    let s = start_stream(srv, &repo, "resume", None, seg);
    let n = count(sink.clone()).await;
    wait_for(30, "segments after the restart", || {
        let sink = sink.clone();
        async move { count(sink).await >= n + 5 }
    })
    .await;
    stop_writing.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    wait_stored(&repo, "resume", admin.as_ref()).await;
    s.stop().await;

    let to = master_position(admin.as_ref()).await;
    let stored = stored_events(&repo, "resume").await;
    let want = server_events(&srv.binlog_dir(), &from, &to);
    assert!(want.len() > 300, "{}", want.len());
    let stored: Vec<_> = stored
        .into_iter()
        .filter(|(f, p, _)| BinlogPosition::new(f.clone(), *p) >= from)
        .collect();
    assert_eq!(stored.len(), want.len(), "event counts differ");
    for (i, (s, w)) in stored.iter().zip(&want).enumerate() {
        assert!(
            s == w,
            "event {i} differs: stored {}:{} vs server {}:{}",
            s.0,
            s.1,
            w.0,
            w.1
        );
    }

    restore_binlog(
        &restore_opts(&repo, &name, "resume", BinlogTarget::Latest),
        &srv.url("resume_copy"),
        &Connector,
    )
    .await
    .unwrap();
    let src = rows(admin.as_ref(), "SELECT id, n FROM resume.t ORDER BY id").await;
    let dst = rows(
        admin.as_ref(),
        "SELECT id, n FROM resume_copy.t ORDER BY id",
    )
    .await;
    assert_eq!(src.len(), written + 1);
    assert!(
        written > 20,
        "the writes crossed a binlog rotation: {written}"
    );
    assert_eq!(src, dst);
}

/// What a restore refuses, before touching the target: a wrong key, a
/// damaged segment, a missing segment (the gap is named), a time before
/// the backup or after the last streamed event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restores_refuse_what_is_not_covered_or_not_intact() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE DATABASE faults",
            "CREATE TABLE faults.t (id INT PRIMARY KEY)",
        ],
    )
    .await;
    let repo = Repo::new();
    let (name, from) = backup(&repo, &srv.url("faults"), "faults").await;
    let s = start_stream(srv, &repo, "faults", Some(from), 300);
    let app = connect(&srv.url("faults")).await;
    for i in 0..20 {
        exec(app.as_ref(), &[&format!("INSERT INTO t VALUES ({i})")]).await;
    }
    wait_stored(&repo, "faults", admin.as_ref()).await;
    s.stop().await;
    let sink = repo.sink();
    let segs = list_segments(sink.as_ref(), "faults").await.unwrap();
    assert!(segs.len() >= 4, "{}", segs.len());
    let plan = plan_binlog_restore(&restore_opts(&repo, &name, "faults", BinlogTarget::Latest))
        .await
        .unwrap();

    // A wrong key.
    let other = Repo::new();
    let mut o = restore_opts(&repo, &name, "faults", BinlogTarget::Latest);
    o.key = Some(other.key.clone());
    let e = plan_binlog_restore(&o).await.unwrap_err();
    assert!(
        matches!(
            e,
            PitrError::Backup(covet_backup::BackupError::WrongKey { .. })
        ),
        "{e}"
    );

    // Two stored segments that overlap (two streams of one name cutting
    // at different places): each event is replayed once.
    let (s1, s2) = (&segs[1].0, &segs[2].0);
    let read = |name: String| {
        let sink = sink.clone();
        let key = repo.key.clone();
        let dest = repo.dir.path().join(format!("{name}.plain"));
        async move {
            covet_backup::object::get_object_to_file(sink.as_ref(), &name, Some(&key), &dest)
                .await
                .unwrap();
            std::fs::read(&dest).unwrap()
        }
    };
    let mut merged = read(s1.object_name()).await;
    let second = read(s2.object_name()).await;
    let head = u32::from_le_bytes(second[4 + 9..4 + 13].try_into().unwrap()) as usize;
    merged.extend_from_slice(&second[4 + head..]);
    let wide = SegmentName {
        end: s2.end,
        ..s1.clone()
    };
    let object = covet_backup::object::ObjectOptions {
        encryption: Encryption::Key(repo.key.clone()),
        kind: "mysql-binlog".into(),
        ..Default::default()
    };
    covet_backup::object::put_object(sink.as_ref(), &wide.object_name(), &merged[..], &object)
        .await
        .unwrap();
    restore_binlog(
        &restore_opts(&repo, &name, "faults", BinlogTarget::Latest),
        &srv.url("faults_overlap"),
        &Connector,
    )
    .await
    .unwrap();
    assert_eq!(
        one(admin.as_ref(), "SELECT COUNT(*) FROM faults_overlap.t").await,
        "20"
    );
    sink.delete(&wide.object_name()).await.unwrap();

    // Times outside what is covered.
    let before = plan.backup_time - chrono::Duration::seconds(60);
    let after = plan.last_event_time.unwrap() + chrono::Duration::seconds(60);
    for t in [before, after] {
        let e = plan_binlog_restore(&restore_opts(&repo, &name, "faults", BinlogTarget::Time(t)))
            .await
            .unwrap_err();
        match e {
            PitrError::NotCovered { covered, .. } => {
                assert!(covered.contains(&plan.covered_to.to_string()), "{covered}");
            }
            e => panic!("{e}"),
        }
    }

    // A damaged segment (one byte flipped in the middle of its file).
    let victim = segs[segs.len() / 2].0.object_name();
    let path = repo.dir.path().join("repo").join(&victim);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let e = plan_binlog_restore(&restore_opts(&repo, &name, "faults", BinlogTarget::Latest))
        .await
        .unwrap_err();
    assert!(matches!(e, PitrError::Backup(_)), "{e}");
    let e = restore_binlog(
        &restore_opts(&repo, &name, "faults", BinlogTarget::Latest),
        &srv.url("faults_bad"),
        &Connector,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PitrError::Backup(_)), "{e}");
    let made = one(
        admin.as_ref(),
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'faults_bad'",
    )
    .await;
    assert_eq!(made, "0", "the target was not touched");
    std::fs::write(&path, &good).unwrap();

    // A missing segment: the end is refused and the gap named; a target
    // before the gap still restores.
    let missing = &segs[segs.len() / 2].0;
    sink.delete(&missing.object_name()).await.unwrap();
    let e = plan_binlog_restore(&restore_opts(&repo, &name, "faults", BinlogTarget::Latest))
        .await
        .unwrap_err();
    match e {
        PitrError::NotCovered { covered, .. } => {
            assert!(covered.contains("gap"), "{covered}");
            assert!(
                covered.contains(&missing.start_position().to_string()),
                "{covered}"
            );
        }
        e => panic!("{e}"),
    }
    let before_gap = BinlogTarget::Position(missing.start_position());
    let r = restore_binlog(
        &restore_opts(&repo, &name, "faults", before_gap),
        &srv.url("faults_part"),
        &Connector,
    )
    .await
    .unwrap();
    let n: usize = one(admin.as_ref(), "SELECT COUNT(*) FROM faults_part.t")
        .await
        .parse()
        .unwrap();
    assert!(n > 0 && n < 20, "{n}");
    // Other tests' transactions (other databases) are in the same binlog.
    assert!(r.plan.transactions as usize >= n);
    assert!(
        list_objects(sink.as_ref(), Some("mysql-binlog"))
            .await
            .unwrap()
            .len()
            == segs.len() - 1
    );
}

/// The GTID position a backup records is the one of its binlog position
/// (MariaDB's `BINLOG_GTID_POS(file, pos)`), even while other sessions
/// commit and no global read lock holds them back (one connection): read
/// separately after the snapshot, it ran ahead of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_records_the_gtid_of_its_own_binlog_position() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE DATABASE gtidsnap",
            "CREATE TABLE gtidsnap.t (id INT PRIMARY KEY)",
            "INSERT INTO gtidsnap.t VALUES (1)",
            "CREATE DATABASE gtidbusy",
            "CREATE TABLE gtidbusy.t (id INT AUTO_INCREMENT PRIMARY KEY)",
        ],
    )
    .await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        let url = srv.url("gtidbusy");
        writers.push(tokio::spawn(async move {
            let a = connect(&url).await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                exec(a.as_ref(), &["INSERT INTO t VALUES ()"]).await;
                // Enough commits to race every snapshot, few enough that
                // the other tests' streams keep up with the binlog.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let repo = Repo::new();
    let mut wrong = Vec::new();
    for _ in 0..8 {
        let a = connect(&srv.url("gtidsnap")).await;
        let entry = create_backup(
            a.clone(),
            "gtidsnap",
            repo.backups().as_ref(),
            CreateOptions {
                parallelism: 1,
                ..CreateOptions::new(WriteOptions::new(Encryption::Key(repo.key.clone())))
            },
        )
        .await
        .unwrap();
        a.close().await;
        let m = covet_backup::verify(repo.backups().as_ref(), &entry.name, Some(&repo.key))
            .await
            .unwrap()
            .manifest;
        let SnapshotPosition::MysqlBinlog {
            file,
            position,
            gtid,
        } = m.snapshot
        else {
            panic!("no binlog position")
        };
        let want = one(
            admin.as_ref(),
            &format!("SELECT BINLOG_GTID_POS('{file}', {position})"),
        )
        .await;
        if gtid.as_deref() != Some(want.as_str()) {
            wrong.push(format!("{file}:{position} recorded {gtid:?}, is {want}"));
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Under another name, a replayed statement that names the source database
/// itself would still act on the source: such a restore is refused before
/// the target is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_is_refused_when_a_statement_names_the_source_database() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE DATABASE qual",
            "CREATE TABLE qual.t (id INT PRIMARY KEY)",
        ],
    )
    .await;
    let repo = Repo::new();
    let (name, from) = backup(&repo, &srv.url("qual"), "qual").await;
    let s = start_stream(srv, &repo, "qual", Some(from), 16 << 20);
    let app = connect(&srv.url("qual")).await;
    exec(
        app.as_ref(),
        &["INSERT INTO t VALUES (1)", "CREATE TABLE qual.t2 (x INT)"],
    )
    .await;
    wait_stored(&repo, "qual", admin.as_ref()).await;
    s.stop().await;
    let e = restore_binlog(
        &restore_opts(&repo, &name, "qual", BinlogTarget::Latest),
        &srv.url("qual_other"),
        &Connector,
    )
    .await
    .unwrap_err();
    match &e {
        PitrError::Config(m) => assert!(m.contains("names the source database `qual`"), "{m}"),
        e => panic!("{e}"),
    }
    let made = one(
        admin.as_ref(),
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'qual_other'",
    )
    .await;
    assert_eq!(made, "0");
}

/// A user without REPLICATION SLAVE is refused by the server on every
/// connection: the stream ends with that error instead of retrying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_the_replication_privilege_fails_at_once() {
    let Some(srv) = maria() else { return };
    let admin = connect(&srv.url("mysql")).await;
    exec(
        admin.as_ref(),
        &[
            "CREATE USER 'norepl'@'localhost' IDENTIFIED BY 'norepl-pw'",
            "GRANT SELECT ON *.* TO 'norepl'@'localhost'",
        ],
    )
    .await;
    let repo = Repo::new();
    let url = format!("mysql://norepl:norepl-pw@127.0.0.1:{}/", srv.port)
        .parse()
        .unwrap();
    let mut opts = StreamOptions::new(url, repo.sink(), Encryption::Key(repo.key.clone()));
    opts.stream = "norepl".into();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        stream_binlog(opts, CancellationToken::new()),
    )
    .await
    .expect("the stream gave up instead of retrying");
    let e = r.unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, PitrError::Binlog(_)), "{m}");
    assert!(
        m.contains("1227") || m.to_ascii_lowercase().contains("denied"),
        "{m}"
    );
    assert!(!m.contains("norepl-pw"), "{m}");
}
