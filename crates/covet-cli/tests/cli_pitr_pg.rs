//! `covet pitr` for PostgreSQL against a private PostgreSQL 15 whose
//! `archive_command` is the built covet binary: the restore story (to a
//! time, then again across a timeline switch), drill, prune, and the
//! faults (a killed push, a missing, damaged or wrongly keyed segment).
//!
//! Needs PostgreSQL 15's binaries and root (the servers run as the
//! postgres user); skipped without COVET_PG_URL like every server test.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{covet, run, server};

const BIN: &str = "/usr/lib/postgresql/15/bin";

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn as_pg(prog: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", prog]);
    c
}

fn chown_pg(p: &Path) {
    sh(Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(p));
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private server, stopped by PID when dropped (even on panic).
struct Server {
    data: PathBuf,
    port: u16,
}

impl Server {
    fn start(data: &Path, port: u16) -> Server {
        let s = Server {
            data: data.to_owned(),
            port,
        };
        let log = data.with_extension("log");
        sh(as_pg(&format!("{BIN}/pg_ctl"))
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null()));
        s
    }

    fn psql(&self, sql: &str) -> String {
        sh(Command::new(format!("{BIN}/psql"))
            .args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ]))
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Waits until recovery ended and the server promoted.
    fn wait_promoted(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new(format!("{BIN}/psql"))
                .args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args([
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-tAc",
                    "SELECT pg_is_in_recovery()",
                ])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).trim() == "f" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server on {} did not promote",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Switches WAL and waits until the finished segment is archived.
    fn switch_and_archive(&self) -> String {
        let file = self.psql("SELECT pg_walfile_name(pg_switch_wal())");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let last = self.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
            if last.len() >= 24 && last[..24] >= file[..] {
                return file;
            }
            let failed = self.psql("SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver");
            assert!(
                Instant::now() < deadline,
                "{file} was not archived (last {last:?}, failed {failed:?})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pidfile = self.data.join("postmaster.pid");
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .and_then(|s| s.lines().next().map(str::to_owned))
        {
            let _ = Command::new("kill").args(["-QUIT", &pid]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The scratch directory: a repository, a key file and the servers' data.
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("covet-pitr-pg")
            .tempdir_in("/tmp")
            .unwrap();
        let lab = Lab { dir };
        std::fs::create_dir(lab.repo()).unwrap();
        std::fs::write(lab.key(), format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::write(lab.path("other.key"), format!("{}\n", "cd".repeat(32))).unwrap();
        chown_pg(lab.dir.path());
        lab
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    fn key(&self) -> PathBuf {
        self.path("key")
    }

    fn repo_args(&self, repo: &Path) -> Vec<String> {
        vec![
            "--repo".into(),
            repo.display().to_string(),
            "--key-file".into(),
            self.key().display().to_string(),
        ]
    }

    fn pitr(&self, args: &[&str], repo: &Path) -> (i32, String, String) {
        run(covet().arg("pitr").args(args).args(self.repo_args(repo)))
    }

    /// A primary with archiving into the lab's repository.
    fn primary(&self) -> Server {
        let data = self.path("primary");
        sh(as_pg(&format!("{BIN}/initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--wal-segsize=1"])
            .stdout(Stdio::null()));
        let port = spare_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{dir}'\n\
             wal_level = replica\narchive_mode = on\n\
             archive_command = '{covet} pitr wal-push %p --repo {repo} --key-file {key}'\n\
             fsync = off\n",
            dir = self.dir.path().display(),
            covet = env!("CARGO_BIN_EXE_covet"),
            repo = self.repo().display(),
            key = self.key().display(),
        );
        let mut c = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        c.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), c).unwrap();
        Server::start(&data, port)
    }

    /// Restores into `name` to `target` and starts a server on it.
    fn restore_and_start(&self, name: &str, target: &[&str]) -> Server {
        let dir = self.path(name);
        let mut args = vec!["restore", "--target"];
        let d = dir.display().to_string();
        args.push(&d);
        args.extend_from_slice(target);
        let (code, out, err) = self.pitr(&args, &self.repo());
        assert_eq!(code, 0, "restore failed: {out}{err}");
        let port = spare_port();
        let mut auto = std::fs::read_to_string(dir.join("postgresql.auto.conf")).unwrap();
        assert!(
            auto.contains("recovery_target_action = 'promote'"),
            "{auto}"
        );
        auto.push_str(&format!("port = {port}\n"));
        std::fs::write(dir.join("postgresql.auto.conf"), auto).unwrap();
        assert!(dir.join("recovery.signal").exists());
        assert!(dir.join("backup_label").exists());
        chown_pg(&dir);
        let s = Server::start(&dir, port);
        s.wait_promoted();
        s
    }
}

fn available() -> bool {
    if server("COVET_PG_URL").is_none() {
        return false;
    }
    let ok = Path::new(BIN).join("initdb").exists()
        && Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "PostgreSQL 15 binaries or the postgres user are missing and COVET_REQUIRE_DB=1"
        );
        eprintln!("skipping: PostgreSQL 15 binaries or the postgres user are missing");
    }
    ok
}

/// Entries of a local repository directory: (visible objects, hidden
/// partial files).
fn repo_files(repo: &Path) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().partition(|n| !n.starts_with('.'))
}

/// The whole story on one private primary: a base backup, writes, a
/// restore to a noted time with exactly the rows before it; a write on
/// the promoted server (timeline 2) and a restore to a later time on it;
/// verify, drill and prune; then a missing, a damaged and a wrongly keyed
/// segment.
#[test]
fn restore_to_a_time_across_a_timeline_switch_and_faults() {
    if !available() {
        return;
    }
    let lab = Lab::new();
    let primary = lab.primary();
    primary.psql("CREATE TABLE t(id int)");
    let (code, out, err) = lab.pitr(
        &[
            "base-backup",
            "--db",
            &primary.url(),
            "--pgdata",
            &lab.path("primary").display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 0, "base-backup: {out}{err}");
    assert!(out.contains("base backup base-"), "{out}");

    // A segment per row, so the chain has segments to lose.
    let mut segs = Vec::new();
    for i in 1..=3 {
        primary.psql(&format!("INSERT INTO t VALUES ({i})"));
        segs.push(primary.switch_and_archive());
    }
    // A named restore point before t1, for the drill below.
    primary.psql("SELECT pg_create_restore_point('after_three')");
    primary.psql("SELECT pg_sleep(0.3)");
    let t1 = primary.psql("SELECT clock_timestamp()");
    primary.psql("SELECT pg_sleep(0.3)");
    primary.psql("INSERT INTO t VALUES (4), (5)");
    primary.psql("SELECT pg_sleep(0.3)");
    let t1b = primary.psql("SELECT clock_timestamp()");
    primary.psql("SELECT pg_sleep(0.3)");
    primary.psql("DROP TABLE t");
    primary.switch_and_archive();

    // Restore to t1: the table is there with exactly the rows before it.
    let r1 = lab.restore_and_start("r1", &["--to-time", &t1]);
    assert_eq!(
        r1.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM t"),
        "1,2,3"
    );
    let tli = r1.psql("SELECT timeline_id FROM pg_control_checkpoint()");
    assert_eq!(tli, "2", "the restored server promoted to a new timeline");

    // Timeline 2: write on the promoted server, archive, restore again to
    // a time between its writes.
    r1.psql("INSERT INTO t VALUES (100)");
    r1.psql("SELECT pg_sleep(0.3)");
    let t2 = r1.psql("SELECT clock_timestamp()");
    r1.psql("SELECT pg_sleep(0.3)");
    r1.psql("INSERT INTO t VALUES (101)");
    let tl2_seg = r1.switch_and_archive();
    assert!(tl2_seg.starts_with("00000002"), "{tl2_seg}");
    drop(r1);
    let (objects, _) = repo_files(&lab.repo());
    assert!(
        objects.contains(&"wal-00000002.history".to_owned()),
        "{objects:?}"
    );
    let r2 = lab.restore_and_start("r2", &["--to-time", &t2]);
    assert_eq!(
        r2.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM t"),
        "1,2,3,100"
    );
    drop(r2);

    // Back on timeline 1 (the original history, past the point where
    // timeline 2 branched off): the rows written after t1 are there.
    let r3 = lab.restore_and_start("r3", &["--to-time", &t1b, "--timeline", "1"]);
    assert_eq!(
        r3.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM t"),
        "1,2,3,4,5"
    );
    drop(r3);

    let (code, out, err) = lab.pitr(&["verify", "--deep"], &lab.repo());
    assert_eq!(code, 0, "verify: {out}{err}");

    // A drill to the restore point reports its RTO and leaves nothing
    // behind (a name PostgreSQL does not find would fail its recovery).
    let (code, out, err) = lab.pitr(&["drill", "--to-name", "after_three"], &lab.repo());
    assert_eq!(code, 0, "drill: {out}{err}");
    assert!(out.contains("RTO"), "{out}");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.starts_with("covet-pitr-drill-").then_some(n)
        })
        .collect();
    assert!(leftovers.is_empty(), "drill left {leftovers:?}");

    // A target before the base backup, or after the archived WAL, is not
    // covered.
    let (code, _, err) = lab.pitr(
        &[
            "restore",
            "--target",
            &lab.path("early").display().to_string(),
            "--to-time",
            "2000-01-01 00:00:00+00",
        ],
        &lab.repo(),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("is not covered") && err.contains("base-"),
        "{err}"
    );
    assert!(!lab.path("early").exists());
    // A directory that is not empty (the first restore's) is refused as is.
    let (code, _, err) = lab.pitr(
        &[
            "restore",
            "--target",
            &lab.path("r1").display().to_string(),
            "--latest",
        ],
        &lab.repo(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not empty"), "{err}");
    assert!(lab.path("r1").join("PG_VERSION").exists());

    // A missing segment: verify names it, a restore past it is refused.
    let gap = lab.path("repo-gap");
    sh(Command::new("cp").arg("-a").arg(lab.repo()).arg(&gap));
    let lost = &segs[1];
    std::fs::remove_file(gap.join(format!("wal-{lost}.index.json"))).unwrap();
    std::fs::remove_file(gap.join(format!("wal-{lost}"))).unwrap();
    let (code, out, err) = lab.pitr(&["verify"], &gap);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(lost.as_str()) && err.contains("missing"),
        "verify must name {lost}: {out}{err}"
    );
    let (code, _, err) = run(covet()
        .args(["pitr", "restore", "--target"])
        .arg(lab.path("past-gap"))
        .args(["--to-time", &t1])
        .args(lab.repo_args(&gap)));
    assert_ne!(code, 0);
    assert!(
        err.contains("is not covered") && err.contains(lost.as_str()),
        "{err}"
    );

    // A damaged segment fails to fetch and leaves nothing at %p.
    let seg = &segs[0];
    let stored = lab.repo().join(format!("wal-{seg}"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    let damaged = lab.path("repo-damaged");
    sh(Command::new("cp").arg("-a").arg(lab.repo()).arg(&damaged));
    std::fs::write(damaged.join(format!("wal-{seg}")), &bytes).unwrap();
    let dest = lab.path("fetched");
    let (code, _, err) = run(covet()
        .args(["pitr", "wal-fetch", seg])
        .arg(&dest)
        .args(lab.repo_args(&damaged)));
    assert_ne!(code, 0);
    assert!(
        err.contains("damaged") || err.contains("authentication"),
        "{err}"
    );
    assert!(!dest.exists());

    // The wrong key is named as such, and leaves nothing either.
    let (code, _, err) = run(covet()
        .args(["pitr", "wal-fetch", seg])
        .arg(&dest)
        .args(["--repo", &lab.repo().display().to_string(), "--key-file"])
        .arg(lab.path("other.key")));
    assert_eq!(code, 126);
    assert!(err.contains("wrong key"), "{err}");
    assert!(!dest.exists());

    // The right key fetches it.
    let (code, _, err) = lab.pitr(
        &["wal-fetch", seg, &dest.display().to_string()],
        &lab.repo(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 1 << 20);

    // A file that was never archived: exit 1, one line, nothing written.
    let (code, out, err) = lab.pitr(
        &[
            "wal-fetch",
            "00000009.history",
            &dest.with_extension("h").display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 1);
    assert!(out.is_empty() && err.lines().count() == 1, "{err}");
    assert!(!dest.with_extension("h").exists());

    // A second base backup, then prune keeping one: the first goes with
    // the WAL before the second's start, the rest still verifies, and a
    // target before the kept backup is no longer covered.
    std::thread::sleep(Duration::from_millis(1100)); // base backup names have 1 s resolution
    primary.psql("CREATE TABLE later(id int)");
    let (code, out, err) = lab.pitr(
        &[
            "base-backup",
            "--db",
            &primary.url(),
            "--pgdata",
            &lab.path("primary").display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 0, "second base-backup: {out}{err}");
    let (code, out, err) = lab.pitr(&["prune", "--keep", "1"], &lab.repo());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("pruned 1 base backup"), "{out}");
    let (objects, _) = repo_files(&lab.repo());
    assert!(
        !objects.iter().any(|o| o.contains(segs[0].as_str())),
        "{} predates the kept base backup: {objects:?}",
        segs[0]
    );
    assert!(objects.contains(&"wal-00000002.history".to_owned()));
    let (code, out, err) = lab.pitr(&["verify"], &lab.repo());
    assert_eq!(code, 0, "verify after prune: {out}{err}");
    let (code, _, err) = lab.pitr(
        &[
            "restore",
            "--target",
            &lab.path("pruned").display().to_string(),
            "--to-time",
            &t1,
        ],
        &lab.repo(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("is not covered"), "{err}");

    // Tablespaces beyond the defaults are refused, before anything is
    // stored.
    let ts = lab.path("ts");
    std::fs::create_dir(&ts).unwrap();
    chown_pg(&ts);
    primary.psql(&format!(
        "CREATE TABLESPACE extra LOCATION '{}'",
        ts.display()
    ));
    let (code, _, err) = lab.pitr(
        &[
            "base-backup",
            "--db",
            &primary.url(),
            "--pgdata",
            &lab.path("primary").display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tablespaces (extra)"), "{err}");
    let (_, partial) = repo_files(&lab.repo());
    assert!(partial.is_empty(), "{partial:?}");
    drop(primary);
}

/// Pushes need no server: fake segments exercise idempotency, conflicts
/// and a push killed in the middle of writing.
#[test]
fn wal_push_is_idempotent_refuses_conflicts_and_survives_a_kill() {
    if !available() {
        return;
    }
    let lab = Lab::new();
    let seg = lab.path("0000000900000000000000A1");
    std::fs::write(&seg, vec![7u8; 1 << 20]).unwrap();
    let p = seg.display().to_string();
    let metrics = lab.path("covet.prom");
    let m = metrics.display().to_string();
    for level in ["zstd:1", "zstd"] {
        // The same bytes again, however compressed, are already archived.
        let (code, _, err) = lab.pitr(
            &[
                "wal-push",
                &p,
                "--metrics-textfile",
                &m,
                "--compression",
                level,
            ],
            &lab.repo(),
        );
        assert_eq!(code, 0, "{err}");
    }
    assert!(
        std::fs::read_to_string(&metrics)
            .unwrap()
            .contains("covet_archive_last_success_timestamp_seconds ")
    );
    std::fs::write(&seg, vec![8u8; 1 << 20]).unwrap();
    let (code, _, err) = lab.pitr(&["wal-push", &p], &lab.repo());
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("different content"), "{err}");

    // Not a WAL file name: refused before anything is stored.
    let odd = lab.path("notes.txt");
    std::fs::write(&odd, b"x").unwrap();
    let (code, _, _) = lab.pitr(&["wal-push", &odd.display().to_string()], &lab.repo());
    assert_eq!(code, 2);

    // A large, incompressible segment, killed once its partial file shows.
    let big = lab.path("0000000900000000000000A2");
    let mut data = vec![0u8; 16 << 20];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&big, &data).unwrap();
    let mut child = covet()
        .args(["pitr", "wal-push"])
        .arg(&big)
        .args(lab.repo_args(&lab.repo()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Killed once it has written bytes: mid-write, not between
        // creating its partial file and locking it.
        let (_, partial) = repo_files(&lab.repo());
        let written = partial
            .iter()
            .any(|p| std::fs::metadata(lab.repo().join(p)).is_ok_and(|m| m.len() > 0));
        if written {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the push ended before it could be killed"
        );
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let (objects, _) = repo_files(&lab.repo());
    assert!(
        !objects
            .iter()
            .any(|o| o.contains("0000000900000000000000A2")),
        "a killed push left {objects:?}"
    );
    let dest = lab.path("back");
    let (code, _, _) = lab.pitr(
        &[
            "wal-fetch",
            "0000000900000000000000A2",
            &dest.display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 1, "a killed push must read as not archived");
    assert!(!dest.exists());
    // Pushed again at once, it is stored whole: the dead writer's partial
    // file holds bytes and no lock, so the sink knows its writer is gone.
    let (code, _, err) = lab.pitr(&["wal-push", &big.display().to_string()], &lab.repo());
    assert_eq!(code, 0, "{err}");
    assert!(
        repo_files(&lab.repo()).1.is_empty(),
        "the dead partial file stayed"
    );
    let (code, _, err) = lab.pitr(
        &[
            "wal-fetch",
            "0000000900000000000000A2",
            &dest.display().to_string(),
        ],
        &lab.repo(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&dest).unwrap() == data);
}
