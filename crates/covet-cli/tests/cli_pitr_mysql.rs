//! `covet pitr binlog-stream` and `binlog-restore` as a user runs them,
//! against a private MariaDB with the binary log on: a backup, the stream
//! stopped by SIGTERM (exit 130, what it held stored), a restore to a noted
//! time with the password only in the environment, and a refusal.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use covet_pitr::mysql::{BinlogPosition, resume_position};

/// The private server; killed by a watchdog when this process exits.
struct Maria {
    port: u16,
}

fn present(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn start_maria() -> Option<Maria> {
    for bin in [
        "mariadbd",
        "mariadb-install-db",
        "mariadb",
        "mariadb-binlog",
    ] {
        if !present(bin) {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "{bin} is needed and COVET_REQUIRE_DB=1"
            );
            eprintln!("skipping: {bin} is not installed");
            return None;
        }
    }
    let dir = std::env::temp_dir().join(format!("covet-cli-pitr-mysql-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).display().to_string();
    let out = Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
        ])
        .arg(format!("--datadir={}", p("data")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("mariadbd")
        .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
        .arg(format!("--datadir={}", p("data")))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", p("s.sock")))
        .arg(format!("--pid-file={}", p("s.pid")))
        .arg(format!("--log-error={}", p("s.err")))
        .arg(format!("--log-bin={}", p("bin")))
        .args(["--server-id=1", "--binlog-format=ROW"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Forgotten on purpose: the watchdog below stops it once this process
    // has exited (init reaps it then).
    std::mem::forget(child);
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 0.3; done; kill {pid} 2>/dev/null; \
         for i in $(seq 50); do kill -0 {pid} 2>/dev/null || break; sleep 0.2; done; \
         kill -9 {pid} 2>/dev/null; rm -rf '{}'",
        std::process::id(),
        dir.display()
    );
    // Detached through a shell that exits at once: nothing to reap here.
    let started = Command::new("sh")
        .args([
            "-c",
            "setsid sh -c \"$1\" </dev/null >/dev/null 2>&1 &",
            "sh",
            &script,
        ])
        .status()
        .expect("the watchdog");
    assert!(started.success());
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the private MariaDB did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Maria { port })
}

impl Maria {
    /// Runs SQL as root through the mariadb client; returns its output.
    fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "--protocol=TCP",
                "-h127.0.0.1",
                "-uroot",
                "-N",
                "-B",
            ])
            .arg(format!("-P{}", self.port))
            .arg("-e")
            .arg(sql)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn position(&self) -> BinlogPosition {
        let s = self.sql("SHOW MASTER STATUS");
        let mut it = s.split('\t');
        BinlogPosition::new(it.next().unwrap(), it.next().unwrap().parse().unwrap())
    }
}

fn covet() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_covet"));
    c.env_remove("COVET_DATABASE_URL").env_remove("MYSQL_PWD");
    c
}

const PASSWORD: &str = "Pitr-pw-7x!q";

#[test]
fn stream_stop_on_sigterm_and_restore_to_a_noted_time() {
    let Some(srv) = start_maria() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    covet_backup::generate_key_file(&key).unwrap();
    let repo = dir.path().join("repo");
    let backups = dir.path().join("backups");
    srv.sql(&format!(
        "CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1),(2); \
         CREATE USER 'pitr'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
         GRANT ALL ON *.* TO 'pitr'@'localhost'"
    ));
    let url = |db: &str| format!("mysql://pitr@127.0.0.1:{}/{db}", srv.port);

    let out = covet()
        .args(["backup", "create", "--json", "--db", &url("app"), "--to"])
        .arg(&backups)
        .arg("--key-file")
        .arg(&key)
        .env("MYSQL_PWD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".covet"))
        .expect("a backup file");
    let backup = backups.join(&name);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = rt
        .block_on(covet_backup::verify(
            &covet_backup::LocalDirSink::new(&backups),
            &name,
            Some(&covet_backup::KeySource::File(key.clone())),
        ))
        .unwrap()
        .manifest;
    let from = match m.snapshot {
        covet_backup::SnapshotPosition::MysqlBinlog { file, position, .. } => {
            format!("{file}:{position}")
        }
        other => panic!("{other:?}"),
    };

    let mut stream = covet()
        .args(["pitr", "binlog-stream", "--db", &url(""), "--repo"])
        .arg(&repo)
        .arg("--key-file")
        .arg(&key)
        .args(["--from", &from, "--segment-age", "200ms"])
        .env("MYSQL_PWD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    srv.sql("INSERT INTO app.t VALUES (3); DO SLEEP(1.1)");
    let noted = srv.sql("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f')");
    srv.sql("DO SLEEP(1.1); INSERT INTO app.t VALUES (4); DROP TABLE app.t");
    let end = srv.position();
    let sink = covet_backup::LocalDirSink::new(&repo);
    let t0 = Instant::now();
    while rt
        .block_on(resume_position(&sink, "main"))
        .unwrap()
        .is_none_or(|p| p < end)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the stream did not store the writes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let term = Command::new("kill")
        .args(["-TERM", &stream.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = stream.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "binlog-stream did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = stream.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("replica server id"), "{stderr}");
    assert!(stderr.contains("the next run resumes there"), "{stderr}");
    assert!(!stderr.contains(PASSWORD));

    // A dry run says what is covered and touches nothing.
    let out = covet()
        .args(["pitr", "binlog-restore", "--dry-run", "--backup"])
        .arg(&backup)
        .args(["--db", &url("app_dry"), "--repo"])
        .arg(&repo)
        .arg("--key-file")
        .arg(&key)
        .args(["--to-time", &noted])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("at {from}")), "{stdout}");
    assert!(stdout.contains("replays 1 transaction(s)"), "{stdout}");

    // An unreachable source exits 3, as every command does.
    let out = covet()
        .args([
            "pitr",
            "binlog-stream",
            "--db",
            "mysql://root@127.0.0.1:1/",
            "--repo",
        ])
        .arg(&repo)
        .arg("--no-encryption")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Restore to the noted time, password from the environment only.
    let out = covet()
        .args(["pitr", "binlog-restore", "--backup"])
        .arg(&backup)
        .args(["--db", &url("app_at"), "--repo"])
        .arg(&repo)
        .arg("--key-file")
        .arg(&key)
        .args(["--to-time", &noted])
        .env("MYSQL_PWD", PASSWORD)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(PASSWORD));
    assert_eq!(
        srv.sql("SELECT GROUP_CONCAT(id ORDER BY id) FROM app_at.t"),
        "1,2,3"
    );

    // A time past the last streamed event is refused, naming what is covered.
    let out = covet()
        .args(["pitr", "binlog-restore", "--backup"])
        .arg(&backup)
        .args(["--db", &url("app_later"), "--repo"])
        .arg(&repo)
        .arg("--key-file")
        .arg(&key)
        .args(["--to-time", "2099-01-01T00:00:00Z"])
        .env("MYSQL_PWD", PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not covered") && stderr.contains("binlog up to"),
        "{stderr}"
    );
    assert_eq!(
        srv.sql(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('app_later', 'app_dry')"
        ),
        "0"
    );
}
