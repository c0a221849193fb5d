//! `cargo xtask bench pitr [--only pg|mariadb] [--scale 50] [--write-secs 300] [--clients 4]`:
//! covet pitr against pgBackRest on one private PostgreSQL 15, and covet's
//! MariaDB RTO (logical backup + binlog replay) on one private MariaDB.
//!
//! One server archives every WAL segment to both repositories
//! (`archive_command` runs `covet pitr wal-push` and then `pgbackrest
//! archive-push`), both compressing (zstd 3) and encrypting (covet:
//! AES-256-GCM; pgBackRest: its repository cipher, AES-256-CBC). After
//! `pgbench -i --scale`, the two base backups run one after the other (covet
//! first, then pgBackRest, each timed alone); then `pgbench` writes for
//! `--write-secs` (the "5 minutes of heavy writes"), the target
//! time is noted, a little more is written, and each tool restores to the
//! target into its own directory, a server starts there with
//! `archive_mode = off` and is timed until it has promoted. The RTO is
//! restore plus recovery. Both restored servers must hold the same
//! `pgbench_history` (count and sum), checked before the table prints.
//!
//! MariaDB (no competitor: nothing packaged here restores a logical backup
//! plus a streamed binlog): a private server with the binlog on, `sysbench
//! oltp_write_only` tables at `--scale` x 20,000 rows in 4 tables, a
//! `covet backup create`, then `covet pitr binlog-stream` runs while
//! sysbench writes for `--write-secs`; the target time is noted between
//! two quiet seconds, more is written, the stream is stopped, and `covet
//! pitr binlog-restore --to-time` into a new database is timed (the RTO).
//! The restored tables must hold the source's checksums at the target.
//!
//! Needs root (the PostgreSQL servers run as the postgres user),
//! PostgreSQL 15's binaries, pgbench, pgbackrest, MariaDB's server and
//! client tools and sysbench; `--covet PATH` is the covet binary (xtask
//! builds it in release mode and passes it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

struct Args {
    covet: PathBuf,
    only: Option<String>,
    scale: u32,
    write_secs: u64,
    clients: u32,
}

fn args() -> Args {
    let mut a = Args {
        covet: PathBuf::new(),
        only: None,
        scale: 50,
        write_secs: 300,
        clients: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{x} needs a value"));
        match x.as_str() {
            "--bench" => {}
            "--covet" => a.covet = PathBuf::from(val()),
            "--only" => a.only = Some(val()),
            "--scale" => a.scale = val().parse().expect("--scale N"),
            "--write-secs" => a.write_secs = val().parse().expect("--write-secs N"),
            "--clients" => a.clients = val().parse().expect("--clients N"),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        a.covet.is_file(),
        "--covet PATH: the covet binary (cargo xtask bench pitr passes it)"
    );
    a
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn timed(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    run(cmd);
    t.elapsed().as_secs_f64()
}

fn as_pg(prog: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--", prog]);
    c
}

fn chown_pg(p: &Path) {
    run(Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(p));
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a spare port")
}

/// A private server, stopped when dropped (also on panic).
struct Server {
    data: PathBuf,
    port: u16,
}

impl Server {
    fn start(data: &Path, port: u16, extra: &str) -> Server {
        let log = data.with_extension("log");
        run(as_pg(&format!("{BIN}/pg_ctl"))
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!("-p {port} {extra}"))
            .args(["-w", "-t", "3600", "start"])
            .stdout(Stdio::null()));
        Server {
            data: data.to_owned(),
            port,
        }
    }

    fn psql(&self, sql: &str) -> String {
        run(Command::new(format!("{BIN}/psql"))
            .args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
            .args(["-tAc", sql]))
    }

    fn wait_promoted(&self) {
        loop {
            let out = Command::new(format!("{BIN}/psql"))
                .args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", "postgres", "-d", "postgres"])
                .args(["-tAc", "SELECT pg_is_in_recovery()"])
                .output()
                .expect("psql");
            if String::from_utf8_lossy(&out.stdout).trim() == "f" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_archived(&self) {
        let file = self.psql("SELECT pg_walfile_name(pg_switch_wal())");
        loop {
            let last = self.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
            if last.len() >= 24 && last[..24] >= file[..] {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_pg(&format!("{BIN}/pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn main() {
    let a = args();
    if a.only.as_deref() != Some("mariadb") {
        postgres(&a);
    }
    if a.only.as_deref() != Some("pg") {
        mariadb(&a);
    }
}

fn postgres(a: &Args) {
    let dir = tempfile::Builder::new()
        .prefix("covet-bench-pitr")
        .tempdir_in(std::env::var("TMPDIR").unwrap_or_else(|_| "/var/tmp".into()))
        .expect("a scratch directory");
    let d = dir.path();
    let (data, repo, key, br) = (
        d.join("data"),
        d.join("covet-repo"),
        d.join("key"),
        d.join("pgbr"),
    );
    std::fs::create_dir(&repo).unwrap();
    std::fs::create_dir(&br).unwrap();
    let hex: String = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    std::fs::write(&key, format!("{hex}\n")).unwrap();
    let br_pass: String = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    let conf = d.join("pgbackrest.conf");
    let port = spare_port();
    std::fs::write(
        &conf,
        format!(
            "[global]\nrepo1-path={br}\nrepo1-cipher-type=aes-256-cbc\nrepo1-cipher-pass={br_pass}\n\
             compress-type=zst\ncompress-level=3\nlog-path={d}\nlock-path={d}\nlog-level-console=warn\n\
             start-fast=y\n\n[bench]\npg1-path={data}\npg1-port={port}\npg1-socket-path={d}\n",
            br = br.display(),
            d = d.display(),
            data = data.display(),
        ),
    )
    .unwrap();
    chown_pg(d);
    run(as_pg(&format!("{BIN}/initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres"])
        .stdout(Stdio::null()));
    let covet = a.covet.display().to_string();
    let push = format!(
        "{covet} pitr wal-push %p --repo {} --key-file {} && pgbackrest --config={} --stanza=bench archive-push %p",
        repo.display(),
        key.display(),
        conf.display()
    );
    let mut pgconf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
    pgconf.push_str(&format!(
        "listen_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nwal_level = replica\n\
         archive_mode = on\narchive_command = '{push}'\nmax_wal_size = 4GB\n",
        d.display()
    ));
    std::fs::write(data.join("postgresql.conf"), pgconf).unwrap();
    let primary = Server::start(&data, port, "");
    let pgbr = |args: &[&str]| {
        let mut c = as_pg("pgbackrest");
        c.arg(format!("--config={}", conf.display()))
            .arg("--stanza=bench")
            .args(args);
        c
    };
    run(&mut pgbr(&["stanza-create"]));
    eprintln!("pgbench -i --scale {}", a.scale);
    run(Command::new(format!("{BIN}/pgbench"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(["-i", "-q", "--scale", &a.scale.to_string(), "postgres"])
        .stderr(Stdio::null()));
    let db_size = primary.psql("SELECT pg_size_pretty(pg_database_size('postgres'))");

    eprintln!("base backups");
    let covet_base = timed(
        Command::new(&a.covet)
            .args(["pitr", "base-backup", "--db"])
            .arg(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .arg("--pgdata")
            .arg(&data)
            .arg("--repo")
            .arg(&repo)
            .arg("--key-file")
            .arg(&key),
    );
    let pgbr_base = timed(&mut pgbr(&["--type=full", "backup"]));

    eprintln!("pgbench for {} s", a.write_secs);
    let bench = |secs: u64| {
        run(Command::new(format!("{BIN}/pgbench"))
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .args(["-c", &a.clients.to_string(), "-j", "2", "-n"])
            .args(["-T", &secs.to_string(), "postgres"]))
    };
    let tps = bench(a.write_secs);
    std::thread::sleep(Duration::from_millis(1100));
    let target = primary.psql("SELECT now()::text");
    let at_target = primary.psql("SELECT count(*), sum(delta) FROM pgbench_history");
    std::thread::sleep(Duration::from_millis(1100));
    bench(10);
    primary.wait_archived();
    let wal = primary.psql("SELECT archived_count FROM pg_stat_archiver");
    drop(primary);

    let restore = |name: &str, cmd: &mut Command| -> (f64, f64, String) {
        let t = timed(cmd);
        let dir = d.join(name);
        chown_pg(&dir);
        let p = spare_port();
        let s0 = Instant::now();
        let s = Server::start(&dir, p, "-c archive_mode=off");
        s.wait_promoted();
        let rec = s0.elapsed().as_secs_f64();
        let got = s.psql("SELECT count(*), sum(delta) FROM pgbench_history");
        (t, rec, got)
    };
    eprintln!("restores to {target}");
    let c_dir = d.join("r-covet");
    let (c_restore, c_recover, c_rows) = restore(
        "r-covet",
        Command::new(&a.covet)
            .args(["pitr", "restore", "--to-time", &target, "--target"])
            .arg(&c_dir)
            .arg("--repo")
            .arg(&repo)
            .arg("--key-file")
            .arg(&key),
    );
    let p_dir = d.join("r-pgbr");
    std::fs::create_dir(&p_dir).unwrap();
    chown_pg(&p_dir);
    let (p_restore, p_recover, p_rows) = restore(
        "r-pgbr",
        pgbr(&[
            &format!("--pg1-path={}", p_dir.display()),
            "--type=time",
            &format!("--target={target}"),
            "--target-action=promote",
            "restore",
        ])
        .stdout(Stdio::null()),
    );
    assert_eq!(c_rows, at_target, "covet's restore holds other rows");
    assert_eq!(p_rows, at_target, "pgBackRest's restore holds other rows");

    let tps = tps
        .lines()
        .find(|l| l.starts_with("tps"))
        .unwrap_or("tps ?")
        .to_owned();
    println!(
        "pitr bench: database {db_size} after pgbench -i --scale {}; {} s of pgbench -c {} ({tps}); {wal} WAL segments archived to both; target {target}",
        a.scale, a.write_secs, a.clients
    );
    println!();
    println!("| measure | covet pitr | pgBackRest | covet / pgBackRest |");
    println!("|---|---:|---:|---:|");
    let row = |m: &str, c: f64, p: f64| println!("| {m} | {c:.2} s | {p:.2} s | {:.2} |", c / p);
    row("base backup", covet_base, pgbr_base);
    row("restore (files in place)", c_restore, p_restore);
    row(
        "recovery to the target, until promoted",
        c_recover,
        p_recover,
    );
    row(
        "RTO (restore + recovery)",
        c_restore + c_recover,
        p_restore + p_recover,
    );
    println!();
    println!("both restores hold pgbench_history = ({at_target}) as the primary did at the target");
}

/// A private MariaDB with the binlog on, killed when dropped.
struct Maria {
    dir: PathBuf,
    port: u16,
    child: std::process::Child,
}

impl Maria {
    fn start(dir: &Path) -> Maria {
        let data = dir.join("maria");
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--user=root", "--auth-root-authentication-method=normal"])
            .stdout(Stdio::null()));
        let port = spare_port();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.join("maria.sock").display()))
            .arg("--user=root")
            .arg(format!("--pid-file={}", dir.join("maria.pid").display()))
            .args(["--server-id=1", "--binlog-format=ROW"])
            .arg(format!("--log-bin={}", dir.join("maria-bin").display()))
            .arg(format!("--log-error={}", dir.join("maria.err").display()))
            .arg("--innodb-buffer-pool-size=512M")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd");
        let m = Maria {
            dir: dir.to_owned(),
            port,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while m.sql_status("SELECT 1").is_err() {
            assert!(
                Instant::now() < deadline,
                "the private MariaDB did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        m
    }

    fn sql_status(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "-uroot",
                "-N",
                "-B",
                "-e",
                sql,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn sql(&self, sql: &str) -> String {
        self.sql_status(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    fn sysbench(&self, a: &Args, what: &str, secs: u64) -> String {
        run(Command::new("sysbench")
            .arg("oltp_write_only")
            .args([
                "--db-driver=mysql",
                "--mysql-host=127.0.0.1",
                "--mysql-user=root",
            ])
            .arg(format!("--mysql-port={}", self.port))
            .args(["--mysql-db=app", "--tables=4"])
            .arg(format!("--table-size={}", u64::from(a.scale) * 20_000))
            .arg(format!("--threads={}", a.clients))
            .arg(format!("--time={secs}"))
            .arg(what))
    }

    /// Each sbtest table's row count and CHECKSUM TABLE, in one line.
    fn checksums(&self, db: &str) -> String {
        self.sql(&format!(
            "CHECKSUM TABLE {db}.sbtest1, {db}.sbtest2, {db}.sbtest3, {db}.sbtest4"
        ))
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap_or("").to_owned())
        .collect::<Vec<_>>()
        .join(",")
    }
}

impl Drop for Maria {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("maria.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Path::new(&format!("/proc/{}", pid.trim())).exists() && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Reaped either way; killed if the graceful stop did not finish.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mariadb(a: &Args) {
    let dir = tempfile::Builder::new()
        .prefix("covet-bench-pitr-maria")
        .tempdir_in(std::env::var("TMPDIR").unwrap_or_else(|_| "/var/tmp".into()))
        .expect("a scratch directory");
    let d = dir.path();
    let key = d.join("key");
    let hex: String = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    std::fs::write(&key, format!("{hex}\n")).unwrap();
    let m = Maria::start(d);
    m.sql("CREATE DATABASE app");
    eprintln!(
        "sysbench prepare: 4 tables of {} rows",
        u64::from(a.scale) * 20_000
    );
    m.sysbench(a, "prepare", 0);
    let db_size = m.sql(
        "SELECT ROUND(SUM(data_length + index_length) / 1e6) FROM information_schema.TABLES WHERE table_schema = 'app'",
    );
    let backups = d.join("backups");
    let create = timed(
        Command::new(&a.covet)
            .args(["backup", "create", "--db", &m.url("app"), "--to"])
            .arg(&backups)
            .arg("--key-file")
            .arg(&key)
            .args(["--name", "app.covet"]),
    );
    let repo = d.join("binlog");
    let mut stream = Command::new(&a.covet)
        .args([
            "pitr",
            "binlog-stream",
            "--db",
            &m.url(""),
            "--server-id",
            "4001",
        ])
        .arg("--repo")
        .arg(&repo)
        .arg("--key-file")
        .arg(&key)
        .args(["--segment-age", "10s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("covet pitr binlog-stream");
    eprintln!("sysbench oltp_write_only for {} s", a.write_secs);
    let out = m.sysbench(a, "run", a.write_secs);
    std::thread::sleep(Duration::from_millis(1100));
    let target = m.sql("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')");
    let at_target = m.checksums("app");
    std::thread::sleep(Duration::from_millis(1100));
    m.sysbench(a, "run", 10);
    let binlog_mb: f64 = m
        .sql("SHOW BINARY LOGS")
        .lines()
        .filter_map(|l| l.split('\t').nth(1)?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6;
    // Let the stream catch up and seal, then stop it as an operator would.
    std::thread::sleep(Duration::from_secs(3));
    run(Command::new("kill").args(["-TERM", &stream.id().to_string()]));
    let _ = stream.wait();
    let restore = timed(
        Command::new(&a.covet)
            .args(["pitr", "binlog-restore", "--backup"])
            .arg(backups.join("app.covet"))
            .arg("--repo")
            .arg(&repo)
            .arg("--key-file")
            .arg(&key)
            .args(["--db", &m.url("restored"), "--to-time", &target])
            .stdout(Stdio::null()),
    );
    let got = m.checksums("restored");
    assert_eq!(
        got, at_target,
        "the restore holds other rows than the source at the target"
    );
    let tps = out
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .unwrap_or("transactions: ?")
        .trim()
        .to_owned();
    println!();
    println!(
        "pitr bench, MariaDB: sysbench tables of {db_size} MB; {} s of oltp_write_only, {} threads ({tps}); {binlog_mb:.0} MB of binlog; target {target}",
        a.write_secs, a.clients
    );
    println!();
    println!("| measure | covet |");
    println!("|---|---:|");
    println!("| logical backup (covet backup create) | {create:.2} s |");
    println!("| RTO: binlog-restore --to-time (backup restore + binlog replay) | {restore:.2} s |");
    println!();
    println!("the restore's CHECKSUM TABLE values equal the source's at the target");
}

/// A random byte without a dependency: the bench needs unguessable keys,
/// not a CSPRNG's guarantees beyond what the OS gives.
fn rand_byte() -> u8 {
    use std::io::Read as _;
    let mut b = [0u8; 1];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("/dev/urandom");
    b[0]
}
