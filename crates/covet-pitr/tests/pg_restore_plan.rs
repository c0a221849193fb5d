//! Restore planning and unpacking without a server: a repository in
//! memory holding a hand-made base backup and WAL segments.

use std::sync::Arc;

use covet_backup::object::PutOutcome;
use covet_backup::object::{ObjectOptions, ObjectWriter, list_objects, put_object};
use covet_backup::{BackupError, Encryption, KdfParams, KeySource, MemorySink};
use covet_pitr::PitrError;
use covet_pitr::pg::archive::{self, Entry};
use covet_pitr::pg::wal::Lsn;
use covet_pitr::pg::{
    BaseManifest, FetchOutcome, RecoveryTarget, Repo, RestoreOptions, VerifyOptions, prune,
    restore, verify, wal_fetch, wal_push,
};

const MB: u64 = 1 << 20;

fn opts(kind: &str) -> ObjectOptions {
    ObjectOptions {
        encryption: Encryption::Key(KeySource::Raw([7; 32])),
        kind: kind.into(),
        ..ObjectOptions::default()
    }
}

/// A repository with one base backup (WAL 0/2000028 to 0/2000100) and
/// segments 2, 3 and 5 of timeline 1: 4 is missing.
async fn repo() -> Repo {
    let sink = Arc::new(MemorySink::new());
    let mut w = ObjectWriter::create(&*sink, "base-1.pgdata", &opts("pg-base"))
        .await
        .unwrap();
    let mut stream = archive::MAGIC.to_vec();
    let files: [(&str, &[u8]); 2] = [("PG_VERSION", b"15\n"), ("global/pg_control", &[1; 64])];
    stream.extend(archive::encode(&Entry::Dir {
        path: "global".into(),
        mode: 0o700,
    }));
    for (path, data) in files {
        stream.extend(archive::encode(&Entry::File {
            path: path.into(),
            mode: 0o600,
            size: data.len() as u64,
        }));
        stream.extend_from_slice(data);
    }
    stream.extend(archive::encode_end(3));
    w.write(&stream).await.unwrap();
    w.finish().await.unwrap();
    let manifest = BaseManifest {
        format: 1,
        name: "base-1".into(),
        archive: "base-1.pgdata".into(),
        label: "t".into(),
        pg_version_num: 150_000,
        pg_version: "15.0".into(),
        system_identifier: "1".into(),
        timeline: 1,
        wal_segment_size: MB,
        start_lsn: "0/200028".into(),
        stop_lsn: "0/200100".into(),
        start_wal: "000000010000000000000002".into(),
        stop_wal: "000000010000000000000002".into(),
        start_time: "2026-12-05T08:00:00Z".parse().unwrap(),
        stop_time: "2026-12-05T08:00:01Z".parse().unwrap(),
        files: vec![],
        total_bytes: 0,
        backup_label: String::new(),
        tablespace_map: String::new(),
    };
    let json = serde_json::to_vec(&manifest).unwrap();
    put_object(
        &*sink,
        "base-1.manifest.json",
        &json[..],
        &opts("pg-base-manifest"),
    )
    .await
    .unwrap();
    for seg in [2u8, 3, 5] {
        let data = vec![seg; MB as usize];
        put_object(
            &*sink,
            &format!("wal-0000000100000000000000{seg:02X}"),
            &data[..],
            &opts("pg-wal"),
        )
        .await
        .unwrap();
    }
    Repo::new(sink, Some(KeySource::Raw([7; 32])))
}

fn restore_opts(dir: &std::path::Path, target: RecoveryTarget) -> RestoreOptions {
    RestoreOptions {
        target_dir: dir.join("data"),
        target,
        restore_command: "covet pitr wal-fetch %f %p --repo 'x'".into(),
        extra_settings: vec![],
        timeline: None,
    }
}

#[tokio::test]
async fn a_target_within_the_chain_restores_with_its_settings() {
    let repo = repo().await;
    let dir = tempfile::tempdir().unwrap();
    let o = restore_opts(
        dir.path(),
        RecoveryTarget::Lsn(Lsn::parse("0/3FFFFF").unwrap()),
    );
    let rep = restore(&repo, &o).await.unwrap();
    assert_eq!(rep.base.name, "base-1");
    assert_eq!(rep.files, 2);
    let data = dir.path().join("data");
    assert_eq!(std::fs::read(data.join("PG_VERSION")).unwrap(), b"15\n");
    assert!(data.join("recovery.signal").exists());
    assert!(data.join("pg_wal/archive_status").is_dir());
    let conf = std::fs::read_to_string(data.join("postgresql.auto.conf")).unwrap();
    assert!(conf.contains("restore_command = 'covet pitr wal-fetch %f %p --repo ''x'''\n"));
    assert!(conf.contains("recovery_target_lsn = '0/3FFFFF'\n"));
    assert!(conf.contains("recovery_target_action = 'promote'\n"));
    assert!(conf.contains("recovery_target_timeline = 'latest'\n"));
}

#[tokio::test]
async fn targets_past_the_gap_or_before_the_backup_are_not_covered() {
    let repo = repo().await;
    let dir = tempfile::tempdir().unwrap();
    for target in [
        RecoveryTarget::Lsn(Lsn::parse("0/500000").unwrap()),
        RecoveryTarget::Lsn(Lsn::parse("0/100000").unwrap()),
        RecoveryTarget::parse_time("2026-12-05 07:00:00+00").unwrap(),
    ] {
        match restore(&repo, &restore_opts(dir.path(), target.clone())).await {
            Err(PitrError::NotCovered { covered, .. }) => {
                assert!(
                    covered.contains("base-1: 0/200100")
                        && covered.contains("to 0/400000")
                        && covered.contains("missing 000000010000000000000004"),
                    "{covered}"
                );
            }
            other => panic!("{target}: {other:?}"),
        }
        assert!(!dir.path().join("data").exists());
    }
    let rep = verify(&repo, VerifyOptions { deep: true }).await.unwrap();
    assert_eq!(rep.objects_checked, 5);
    assert_eq!(
        rep.problems,
        vec!["base backup base-1, timeline 1: WAL segment 000000010000000000000004 is missing"]
    );
}

#[tokio::test]
async fn a_wrong_key_is_an_error_not_a_missing_file() {
    let repo = repo().await;
    let wrong = Repo::new(repo.sink_arc(), Some(KeySource::Raw([8; 32])));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("RECOVERYXLOG");
    match wal_fetch(&wrong, "000000010000000000000002", &dest).await {
        Err(PitrError::Backup(BackupError::WrongKey { .. })) => {}
        other => panic!("{other:?}"),
    }
    assert!(!dest.exists());
    assert_eq!(
        wal_fetch(&repo, "000000010000000000000004", &dest)
            .await
            .unwrap(),
        FetchOutcome::NotArchived
    );
    assert!(!dest.exists());
    assert!(matches!(
        wal_fetch(&repo, "000000010000000000000002", &dest)
            .await
            .unwrap(),
        FetchOutcome::Restored(_)
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), vec![2u8; MB as usize]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_passphrase_repository_pushes_idempotently_and_fetches() {
    let sink = Arc::new(MemorySink::new());
    let secret = covet_core::Secret::new("correct horse battery staple".to_owned());
    // Small Argon2id parameters keep the test fast; readers take them
    // from each object's header.
    let cheap = KdfParams {
        m_cost: 64,
        t_cost: 1,
        p_cost: 1,
    };
    let push = Repo::new(
        sink.clone(),
        Some(KeySource::PassphraseWith(secret.clone(), cheap)),
    );
    let dir = tempfile::tempdir().unwrap();
    let seg = dir.path().join("000000010000000000000007");
    std::fs::write(&seg, vec![9u8; 4096]).unwrap();
    assert!(matches!(
        wal_push(&push, &seg).await.unwrap(),
        PutOutcome::Stored(_)
    ));
    assert!(matches!(
        wal_push(&push, &seg).await.unwrap(),
        PutOutcome::AlreadyPresent(_)
    ));
    std::fs::write(&seg, vec![1u8; 4096]).unwrap();
    assert!(matches!(
        wal_push(&push, &seg).await,
        Err(PitrError::Backup(BackupError::ObjectConflict { .. }))
    ));
    let fetch = Repo::new(sink, Some(KeySource::Passphrase(secret)));
    let dest = dir.path().join("RECOVERYXLOG");
    assert!(matches!(
        wal_fetch(&fetch, "000000010000000000000007", &dest)
            .await
            .unwrap(),
        FetchOutcome::Restored(_)
    ));
    assert_eq!(std::fs::read(&dest).unwrap(), vec![9u8; 4096]);
}

#[tokio::test]
async fn prune_keeps_the_newest_and_the_wal_it_needs() {
    let repo = repo().await;
    let sink = repo.sink();
    // An archive whose base backup never wrote its manifest.
    let mut w = ObjectWriter::create(sink, "base-0.pgdata", &opts("pg-base"))
        .await
        .unwrap();
    w.write(archive::MAGIC).await.unwrap();
    w.finish().await.unwrap();
    // A newer base backup starting in segment 5.
    let mut w = ObjectWriter::create(sink, "base-2.pgdata", &opts("pg-base"))
        .await
        .unwrap();
    let mut stream = archive::MAGIC.to_vec();
    stream.extend(archive::encode_end(0));
    w.write(&stream).await.unwrap();
    w.finish().await.unwrap();
    let m = serde_json::json!({
        "format": 1, "name": "base-2", "archive": "base-2.pgdata", "label": "t",
        "pg_version_num": 150000, "pg_version": "15.0", "system_identifier": "1",
        "timeline": 1, "wal_segment_size": MB, "start_lsn": "0/500028",
        "stop_lsn": "0/500100", "start_wal": "000000010000000000000005",
        "stop_wal": "000000010000000000000005",
        "start_time": "2099-01-01T00:00:00Z", "stop_time": "2099-01-01T00:00:01Z",
        "files": [], "total_bytes": 0, "backup_label": "", "tablespace_map": ""
    });
    let json = serde_json::to_vec(&m).unwrap();
    put_object(
        sink,
        "base-2.manifest.json",
        &json[..],
        &opts("pg-base-manifest"),
    )
    .await
    .unwrap();

    let rep = prune(&repo, 1).await.unwrap();
    assert_eq!(rep.bases, vec!["base-1"]);
    assert_eq!(rep.orphans, vec!["base-0.pgdata"]);
    assert_eq!(rep.wal, 2);
    let left: Vec<String> = list_objects(sink, None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(
        left,
        vec![
            "base-2.manifest.json",
            "base-2.pgdata",
            "wal-000000010000000000000005"
        ]
    );
    assert!(verify(&repo, VerifyOptions::default()).await.unwrap().ok());
}
