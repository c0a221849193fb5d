//! `covet backup` data safety through the binary, on SQLite: `--replace`
//! refuses a target holding more than the backup unless `--drop-others`
//! (and says what it drops), private file modes for unencrypted backups and
//! exports, and SIGTERM during a create removing its partial file.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use covet::Statement;
use support::{covet, run};

fn sqlite(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn exec(path: &Path, sqls: &[&str]) {
    let url = sqlite(path);
    let sqls: Vec<String> = sqls.iter().map(|s| s.to_string()).collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let a = covet::connect(url.as_str()).await.unwrap();
            for s in sqls {
                a.execute(&Statement::new(s)).await.unwrap();
            }
            a.close().await;
        });
}

fn count(path: &Path, table: &str) -> Option<i64> {
    let url = sqlite(path);
    let sql = format!("SELECT count(*) FROM {table}");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let a = covet::connect(url.as_str()).await.unwrap();
            let r = a.query(&Statement::new(sql)).await;
            a.close().await;
            r.ok().map(|r| r.rows[0].get::<i64>(0).unwrap())
        })
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn replace_refuses_extra_tables_unless_drop_others_and_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    exec(
        &src,
        &[
            "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)",
            "INSERT INTO a VALUES (1, 'x'), (2, 'y')",
        ],
    );
    let backups = dir.path().join("backups");
    let (code, _, err) = run(covet().args([
        "backup",
        "create",
        "--db",
        &sqlite(&src),
        "--to",
        backups.to_str().unwrap(),
        "--no-encryption",
        "--name",
        "s.covet",
    ]));
    assert_eq!(code, 0, "{err}");
    #[cfg(unix)]
    for f in ["s.covet", "s.covet.index.json"] {
        assert_eq!(mode(&backups.join(f)), 0o600, "{f}");
    }
    // The same name again: refused, the first backup intact.
    let (code, _, err) = run(covet().args([
        "backup",
        "create",
        "--db",
        &sqlite(&src),
        "--to",
        backups.to_str().unwrap(),
        "--no-encryption",
        "--name",
        "s.covet",
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("already exists"), "{err}");

    let dst = dir.path().join("dst.db");
    exec(
        &dst,
        &[
            "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)",
            "CREATE TABLE extra (id INTEGER PRIMARY KEY)",
            "INSERT INTO extra VALUES (1), (2), (3)",
        ],
    );
    let file = backups.join("s.covet");
    let restore = |extra: &[&str]| {
        let mut c = covet();
        c.args([
            "backup",
            "restore",
            "--file",
            file.to_str().unwrap(),
            "--db",
            &sqlite(&dst),
            "--replace",
        ]);
        c.args(extra);
        run(&mut c)
    };
    let (code, _, err) = restore(&[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("table extra") && err.contains("--drop-others"),
        "{err}"
    );
    assert_eq!(count(&dst, "extra"), Some(3));

    let (code, _, err) = restore(&["--drop-others"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("dropping from the target") && err.contains("table extra"),
        "{err}"
    );
    assert_eq!(count(&dst, "extra"), None);
    assert_eq!(count(&dst, "a"), Some(2));

    // Export: private, complete, nothing else left beside it.
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("export.sql");
    let (code, _, err) = run(covet().args([
        "backup",
        "export",
        "--file",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(files(&out_dir), vec!["export.sql".to_string()]);
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);
}

/// SIGTERM while a create writes: exit code 130 and no partial file left
/// (before, the process died with its `.partial` file in place).
#[cfg(unix)]
#[test]
fn sigterm_during_create_removes_the_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.db");
    exec(
        &src,
        &[
            "CREATE TABLE big (id INTEGER PRIMARY KEY, v BLOB)",
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) \
             INSERT INTO big SELECT x, randomblob(400) FROM c",
        ],
    );
    let backups = dir.path().join("backups");
    let mut child = covet()
        .args([
            "backup",
            "create",
            "--db",
            &sqlite(&src),
            "--to",
            backups.to_str().unwrap(),
            "--no-encryption",
            "--compression",
            "none",
            "--name",
            "big.covet",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial = backups.exists()
            && files(&backups)
                .iter()
                .any(|f| f.starts_with(".big.covet.") && f.ends_with(".partial"));
        if partial {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the create ended before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "no partial file appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&backups), Vec::<String>::new(), "left behind");
}
