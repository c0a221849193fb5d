//! `cargo xtask bench pitr [--scale 50] [--write-secs 300] [--clients 4]`:
//! covet pitr against pgBackRest on one private PostgreSQL 15.
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
//! Needs root (the servers run as the postgres user), PostgreSQL 15's
//! binaries, pgbench and pgbackrest; `--covet PATH` is the covet binary
//! (xtask builds it in release mode and passes it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = "/usr/lib/postgresql/15/bin";

struct Args {
    covet: PathBuf,
    scale: u32,
    write_secs: u64,
    clients: u32,
}

fn args() -> Args {
    let mut a = Args {
        covet: PathBuf::new(),
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
