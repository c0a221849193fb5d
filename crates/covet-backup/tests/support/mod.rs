//! Helpers shared by covet-backup's integration tests.
#![allow(dead_code)]

pub(crate) mod db;
pub(crate) mod pg_tools;
pub(crate) mod sqlite_shell;
pub(crate) mod suite;

use covet_backup::*;
use covet_core::{ColumnInfo, Table, Value};

/// A schema of two small tables.
pub(crate) fn two_tables() -> BackupSchema {
    let col = |name: &str, ty: &str| ColumnInfo {
        name: name.into(),
        data_type: ty.into(),
        nullable: true,
        ..Default::default()
    };
    BackupSchema {
        engine: "test".into(),
        tables: vec![
            TableSchema {
                table: Table {
                    name: "a".into(),
                    columns: vec![col("id", "bigint"), col("name", "text")],
                    primary_key: vec!["id".into()],
                    ..Default::default()
                },
                next_auto_value: Some(41),
            },
            TableSchema {
                table: Table {
                    name: "b".into(),
                    columns: vec![col("blob", "bytea")],
                    ..Default::default()
                },
                next_auto_value: None,
            },
        ],
        postgres: None,
        sqlite: None,
        mysql: None,
    }
}

/// Writes a backup of a few hundred rows in small chunks, so it has many.
pub(crate) async fn small_backup(
    sink: &MemorySink,
    name: &str,
    enc: Encryption,
    compression: Compression,
) -> BackupEntry {
    let opts = WriteOptions {
        compression,
        encryption: enc,
        chunk_size: 512,
    };
    let mut w = BackupWriter::create(
        sink,
        name,
        two_tables(),
        SourceInfo::now("test", "db"),
        opts,
    )
    .await
    .unwrap();
    for i in 0..200i64 {
        let name = if i % 7 == 0 {
            Value::Null
        } else {
            Value::Text(format!("user {i} ✓"))
        };
        w.write_rows(0, &[vec![Value::I64(i), name]]).await.unwrap();
        if i % 3 == 0 {
            w.write_rows(1, &[vec![Value::Bytes(vec![i as u8; (i as usize) * 3])]])
                .await
                .unwrap();
        }
    }
    w.finish().await.unwrap()
}

/// [`small_backup`] into any sink, unencrypted.
pub(crate) async fn small_backup_to(sink: &dyn BackupSink, name: &str) -> BackupEntry {
    let opts = WriteOptions {
        compression: Compression::Zstd3,
        encryption: Encryption::None,
        chunk_size: 512,
    };
    let mut w = BackupWriter::create(
        sink,
        name,
        two_tables(),
        SourceInfo::now("test", "db"),
        opts,
    )
    .await
    .unwrap();
    for i in 0..50i64 {
        w.write_rows(0, &[vec![Value::I64(i), Value::Text(format!("n{i}"))]])
            .await
            .unwrap();
    }
    w.finish().await.unwrap()
}

/// The byte ranges of each chunk frame (length word included) after the
/// header.
pub(crate) fn frames(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = HEADER_LEN;
    while pos + 4 <= bytes.len() {
        let word = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap());
        let len = (word & 0x7fff_ffff) as usize;
        out.push(pos..pos + 4 + len);
        pos += 4 + len;
    }
    assert_eq!(pos, bytes.len(), "frames tile the file");
    out
}

/// Rebuilds a file from its header and a list of frames.
pub(crate) fn assemble(bytes: &[u8], frames: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut out = bytes[..HEADER_LEN].to_vec();
    for f in frames {
        out.extend_from_slice(&bytes[f.clone()]);
    }
    out
}

/// Runs a future to completion on a fresh current-thread runtime.
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
