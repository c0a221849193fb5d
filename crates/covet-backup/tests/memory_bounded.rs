//! Peak memory of create and restore does not grow with the database: the
//! same work on 4x the data runs in a child process each, and their peak RSS
//! (VmHWM, reset after the data is generated) is compared. On SQLite, and on
//! MariaDB (COVET_MYSQL_URL), where a restore once kept every multi-megabyte
//! INSERT in the driver's statement cache.

mod support;

use std::process::Command;

use covet_backup::*;
use covet_core::{Statement, Value};
use support::db::{Adapters, Rng, create_db, drop_db, server_url, unique};

const CHILD: &str = "COVET_BACKUP_MEMORY_CHILD";
/// Set when the child runs on the MariaDB server of COVET_MYSQL_URL (the
/// child reads the URL itself: its Display form hides the password).
const CHILD_MYSQL: &str = "COVET_BACKUP_MEMORY_MYSQL";

fn vm_hwm_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn sqlite_child(rows: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let src_url = format!("sqlite://{}", dir.path().join("src.db").display()).parse().unwrap();
        let src = Adapters.connect(&src_url).await.unwrap();
        src.execute(&Statement::new("CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, b BLOB)"))
            .await
            .unwrap();
        let mut rng = Rng::new(rows);
        let mut id = 0i64;
        while id < rows as i64 {
            let batch: Vec<Vec<Value>> = (0..500)
                .map(|_| {
                    id += 1;
                    let text: String = (0..1000).map(|_| (b'a' + (rng.next() % 26) as u8) as char).collect();
                    vec![Value::I64(id), Value::Text(text), Value::Bytes(id.to_le_bytes().repeat(8))]
                })
                .collect();
            src.bulk_insert("big", &["id".into(), "payload".into(), "b".into()], batch.into())
                .await
                .unwrap();
        }
        // Forget the generation's peak: only create and restore count.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let sink = LocalDirSink::new(dir.path().join("backups"));
        let key = KeySource::Raw([1; 32]);
        let entry = create_backup(
            src.clone(),
            "src",
            &sink,
            CreateOptions::new(WriteOptions::new(Encryption::Key(key.clone()))),
        )
        .await
        .unwrap();
        src.close().await;
        let after_create = vm_hwm_kb();
        let dst_url = format!("sqlite://{}", dir.path().join("dst.db").display()).parse().unwrap();
        let r = restore(
            &sink,
            &entry.name,
            &dst_url,
            &Adapters,
            &RestoreOptions {
                key: Some(key),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(r.rows, rows);
        println!(
            "MEMORY rows={rows} raw_bytes={} create_hwm_kb={after_create} total_hwm_kb={} reset={reset}",
            r.manifest.totals.raw_bytes,
            vm_hwm_kb()
        );
    });
}

/// The same on a MariaDB server: about 1 KB a row generated server-side,
/// backed up and restored into a second database, both dropped after.
fn mysql_child(rows: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = server_url("COVET_MYSQL_URL").expect("the parent checked it");
        let (src_name, dst_name) = (unique("covet_mem_src"), unique("covet_mem_dst"));
        let src_url = create_db(&server, &src_name).await;
        let src = Adapters.connect(&src_url).await.unwrap();
        src.execute(&Statement::new(
            "CREATE TABLE big (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, b BLOB, KEY p (payload(20)))",
        ))
        .await
        .unwrap();
        // MariaDB's Sequence engine: rows made on the server, none held here.
        src.execute(&Statement::new(format!(
            "INSERT INTO big SELECT seq, REPEAT(MD5(seq), 31), UNHEX(SHA2(seq, 512)) FROM seq_1_to_{rows}"
        )))
        .await
        .unwrap();
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalDirSink::new(dir.path());
        let key = KeySource::Raw([1; 32]);
        let result = async {
            let entry = create_backup(
                src.clone(),
                &src_name,
                &sink,
                CreateOptions::new(WriteOptions::new(Encryption::Key(key.clone()))),
            )
            .await?;
            let after_create = vm_hwm_kb();
            let r = restore(
                &sink,
                &entry.name,
                &server.with_database(&dst_name),
                &Adapters,
                &RestoreOptions {
                    key: Some(key),
                    ..Default::default()
                },
            )
            .await?;
            Ok::<_, BackupError>((after_create, r))
        }
        .await;
        src.close().await;
        drop_db(&server, &src_name).await;
        drop_db(&server, &dst_name).await;
        let (after_create, r) = result.unwrap();
        assert_eq!(r.rows, rows);
        println!(
            "MEMORY rows={rows} raw_bytes={} create_hwm_kb={after_create} total_hwm_kb={} reset={reset}",
            r.manifest.totals.raw_bytes,
            vm_hwm_kb()
        );
    });
}

fn measure(rows: u64, mysql: bool) -> (u64, u64, u64) {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.env(CHILD, rows.to_string());
    if mysql {
        c.env(CHILD_MYSQL, "1");
    }
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("MEMORY "))
        .expect("a MEMORY line");
    println!("{line}");
    let field = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(k))
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        field("raw_bytes="),
        field("create_hwm_kb="),
        field("total_hwm_kb="),
    )
}

fn main() {
    if let Ok(rows) = std::env::var(CHILD) {
        match std::env::var(CHILD_MYSQL) {
            Ok(_) => mysql_child(rows.parse().unwrap()),
            Err(_) => sqlite_child(rows.parse().unwrap()),
        }
        return;
    }
    check("sqlite", false);
    if server_url("COVET_MYSQL_URL").is_some() {
        check("mariadb", true);
    }
    println!("memory_bounded: ok");
}

/// Runs the small and the large case and compares their peaks.
fn check(engine: &str, mysql: bool) {
    let (raw_small, create_small, total_small) = measure(10_000, mysql);
    let (raw_big, create_big, total_big) = measure(40_000, mysql);
    let data_growth_mb = (raw_big - raw_small) as f64 / 1e6;
    let create_growth_mb = (create_big as f64 - create_small as f64) / 1024.0;
    let total_growth_mb = (total_big as f64 - total_small as f64) / 1024.0;
    println!(
        "{engine}: data grew {data_growth_mb:.1} MB; peak RSS grew {create_growth_mb:.1} MB (create), {total_growth_mb:.1} MB (create + restore)"
    );
    // Constant memory: a 4x larger database may cost a little more (page
    // caches, allocator noise) but nothing like the data's growth.
    assert!(data_growth_mb > 25.0, "the sizes are too close to tell");
    assert!(
        create_growth_mb < 12.0,
        "{engine}: create's peak RSS grew {create_growth_mb:.1} MB"
    );
    assert!(
        total_growth_mb < 12.0,
        "{engine}: restore's peak RSS grew {total_growth_mb:.1} MB"
    );
}
