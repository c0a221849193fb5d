//! Passwords stay off the command line: every database command takes its
//! URL from `COVET_DATABASE_URL` and a password the URL leaves out from
//! `--password-file`, `PGPASSWORD`, a pgpass file, `MYSQL_PWD` or
//! `~/.my.cnf`; and a URL that fails to parse never shows its password.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TempDb, assert_one_clean_line, covet, run, server, unique, with_database};

/// A generated password of the kind that broke URL parsing: `/`, `?`, `#`,
/// `@`, `:` and a non-ASCII letter, none of them percent-encoded.
const PASSWORD: &str = "b64/+Zm?9v#F@y:zé";

/// `covet` with no password source from the test's own environment: an
/// empty home directory and no PGPASSWORD, PGPASSFILE or MYSQL_PWD.
fn isolated(home: &Path) -> Command {
    let mut c = covet();
    for var in ["PGPASSWORD", "PGPASSFILE", "MYSQL_PWD"] {
        c.env_remove(var);
    }
    c.env("HOME", home);
    c
}

fn write_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = mode;
    p
}

#[test]
fn a_password_with_raw_slash_or_question_mark_is_not_echoed() {
    let home = tempfile::tempdir().unwrap();
    for (url, secret) in [
        // Used to print "query parameter `9v#F@y:zé@h:99999/db` has no value".
        (format!("postgres://app:{PASSWORD}@h:99999/db"), PASSWORD),
        // Used to print "port `abc` is not a number".
        (
            "postgres://app:abc/def-ghi@h:x/db".to_owned(),
            "abc/def-ghi",
        ),
        ("mysql://app:abc?def=ghi@[::1/db".to_owned(), "abc?def=ghi"),
    ] {
        for cmd in [
            vec!["ping", "--db", &url],
            vec!["sql", "--db", &url, "SELECT 1"],
        ] {
            let (code, out, err) = run(isolated(home.path()).args(&cmd));
            assert_eq!(code, 2, "{out}{err}");
            assert_one_clean_line(&err, None);
            assert!(err.contains("invalid database URL"), "{err}");
            let chars: Vec<char> = secret.chars().collect();
            for w in chars.windows(3) {
                let w: String = w.iter().collect();
                assert!(!err.contains(&w), "`{w}` of the password leaked: {err}");
            }
        }
    }
}

#[test]
fn help_says_where_the_password_comes_from() {
    for cmd in [
        vec!["ping", "--help"],
        vec!["sql", "--help"],
        vec!["loadtest", "--help"],
        vec!["backup", "create", "--help"],
        vec!["backup", "restore", "--help"],
        vec!["backup", "drill", "--help"],
        vec!["backup", "schedule", "--help"],
    ] {
        let (code, out, err) = run(covet()
            .env("COVET_DATABASE_URL", "postgres://u:hidden-pw-1@h/db")
            .args(&cmd));
        assert_eq!(code, 0, "{cmd:?}: {err}");
        for needle in [
            "--password-file",
            "PGPASSWORD",
            ".pgpass",
            "MYSQL_PWD",
            "COVET_DATABASE_URL",
        ] {
            assert!(
                out.contains(needle),
                "{cmd:?} --help lacks {needle}:\n{out}"
            );
        }
        assert!(!out.contains("hidden-pw-1"), "{out}");
    }
    let (_, out, _) = run(covet().arg("--help"));
    assert!(
        out.contains("~/.my.cnf") && out.contains("--password-file"),
        "{out}"
    );
}

#[test]
fn password_file_problems_are_one_line_without_the_password() {
    let home = tempfile::tempdir().unwrap();
    let pw = write_file(home.path(), "pw", "file-secret-9\n", 0o600);
    let empty = write_file(home.path(), "empty", "\n", 0o600);
    let pw_s = pw.display().to_string();
    for (args, code, needle) in [
        (
            vec![
                "ping",
                "--db",
                "postgres://u:url-secret-8@127.0.0.1:1/db",
                "--password-file",
                &pw_s,
            ],
            2,
            "give one or the other",
        ),
        (
            vec!["ping", "--db", "sqlite::memory:", "--password-file", &pw_s],
            2,
            "SQLite takes no password",
        ),
        (
            vec![
                "ping",
                "--db",
                "postgres://u@127.0.0.1:1/db",
                "--password-file",
                &empty.display().to_string(),
            ],
            2,
            "is empty",
        ),
        (
            vec![
                "ping",
                "--db",
                "postgres://u@127.0.0.1:1/db",
                "--password-file",
                "/nonexistent/pw",
            ],
            1,
            "cannot read password file /nonexistent/pw",
        ),
    ] {
        let (got, out, err) = run(isolated(home.path()).args(&args));
        assert_eq!(got, code, "{args:?}: {out}{err}");
        assert_one_clean_line(&err, Some("file-secret-9"));
        assert!(!err.contains("url-secret-8"), "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// The shared MariaDB lets root in without a password, so a password that
/// reaches the server is refused: exit 3 shows that MYSQL_PWD, `~/.my.cnf`
/// and `--password-file` are each read, and in that order.
#[test]
fn mysql_password_sources_reach_the_server() {
    let Some(admin) = server("COVET_MYSQL_URL") else {
        return;
    };
    let url = admin.as_str();
    let home = tempfile::tempdir().unwrap();
    let ping = |c: &mut Command| run(c.env("COVET_DATABASE_URL", url).args(["ping", "-n", "1"]));

    let (code, out, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 0, "no password anywhere: {out}{err}");

    let (code, _, err) = ping(isolated(home.path()).env("MYSQL_PWD", "wrong-env-pw"));
    assert_eq!(code, 3, "MYSQL_PWD was not sent: {err}");
    assert_one_clean_line(&err, Some("wrong-env-pw"));

    write_file(
        home.path(),
        ".my.cnf",
        "[client]\npassword = \"wrong#cnf-pw\"\n",
        0o600,
    );
    let (code, _, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 3, "~/.my.cnf was not read: {err}");
    assert_one_clean_line(&err, Some("wrong#cnf-pw"));

    // And the password file.
    std::fs::remove_file(home.path().join(".my.cnf")).unwrap();
    let pw = write_file(home.path(), "pw", "wrong-file-pw\n", 0o600);
    let (code, _, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", url)
        .args(["ping", "-n", "1", "--password-file"])
        .arg(&pw));
    assert_eq!(code, 3, "--password-file was not read: {err}");
    assert_one_clean_line(&err, Some("wrong-file-pw"));
}

/// `backup restore` and `backup drill` no longer need the URL on argv.
#[test]
fn backup_commands_take_the_url_from_the_environment() {
    let Some(admin) = server("COVET_PG_URL") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let source = TempDb::create(&admin, "covet_cli_secrets_src");
    for sql in [
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
        "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
    ] {
        let (code, out, err) = run(covet().args(["sql", "--db", &source.url, sql]));
        assert_eq!(code, 0, "{out}{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().display().to_string();
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &source.url)
        .args([
            "backup",
            "create",
            "--to",
            &to,
            "--no-encryption",
            "--name",
            "env.covet",
        ]));
    assert_eq!(code, 0, "create: {out}{err}");
    let file = dir.path().join("env.covet").display().to_string();

    let target_name = unique("covet_cli_secrets_dst");
    let target = with_database(&admin, &target_name);
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &target)
        .args(["backup", "restore", "--file", &file]));
    let _ = run(covet().args([
        "sql",
        "--db",
        &admin,
        &format!("DROP DATABASE IF EXISTS {target_name}"),
    ]));
    assert_eq!(code, 0, "restore: {out}{err}");
    assert!(out.contains("2 rows"), "{out}");

    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &source.url)
        .args(["backup", "drill", "--file", &file]));
    assert_eq!(code, 0, "drill: {out}{err}");
    assert!(out.contains("drill passed"), "{out}");
}

/// A private PostgreSQL whose roles log in with scram-sha-256 passwords,
/// stopped by PID and removed when dropped (a panic included).
struct ScramPg {
    /// Removed (data directory included) once the server is stopped.
    _dir: tempfile::TempDir,
    port: u16,
    pid: u32,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(program: &str) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"])
        .arg(Path::new(PG_BIN).join(program));
    c
}

fn must(c: &mut Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ScramPg {
    /// `None` (with a printed reason) where a private server cannot be
    /// started, unless COVET_REQUIRE_DB=1.
    fn start() -> Option<ScramPg> {
        let usable = Path::new(PG_BIN).join("initdb").is_file()
            && Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !usable {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "a private PostgreSQL needs {PG_BIN} and root (for runuser)"
            );
            eprintln!("skipping: no {PG_BIN}/initdb or not root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        must(
            Command::new("chown").arg("postgres").arg(dir.path()),
            "chown",
        );
        let data = dir.path().join("data");
        must(
            as_postgres("initdb").arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]),
            "initdb",
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nssl = off\nfsync = off\n",
            dir.path().display()
        );
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        must(
            as_postgres("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.path().join("log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
        let pid = std::fs::read_to_string(data.join("postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse().ok()))
            .expect("postmaster.pid holds the PID");
        Some(ScramPg {
            _dir: dir,
            port,
            pid,
        })
    }

    fn admin(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

impl Drop for ScramPg {
    fn drop(&mut self) {
        let pid = self.pid.to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).output();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::time::Instant::now() < deadline
            && Command::new("kill")
                .args(["-0", &pid])
                .output()
                .is_ok_and(|o| o.status.success())
        {
            std::thread::yield_now();
        }
        let _ = Command::new("kill").args(["-KILL", &pid]).output();
    }
}

/// End to end against a server that checks passwords: a URL without one
/// connects with the password from each source, the URL itself never on
/// argv; no source means a refused login; a pgpass file others can read is
/// skipped with a warning, as libpq does.
#[test]
fn postgres_password_sources_log_in_with_scram() {
    let Some(pg) = ScramPg::start() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = run(covet().args([
        "sql",
        "--db",
        &pg.admin(),
        &format!("CREATE ROLE app LOGIN CREATEDB PASSWORD '{PASSWORD}'"),
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(covet().args([
        "sql",
        "--db",
        &pg.admin(),
        "GRANT CREATE ON SCHEMA public TO app",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let url = format!(
        "postgres://app@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let ping = |c: &mut Command| run(c.env("COVET_DATABASE_URL", &url).args(["ping", "-n", "1"]));

    let (code, _, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 3, "no password must be refused by scram: {err}");
    assert_one_clean_line(&err, None);

    let file = write_file(home.path(), "pw", &format!("{PASSWORD}\n"), 0o600);
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &url)
        .args(["ping", "-n", "1", "--password-file"])
        .arg(&file));
    assert_eq!(code, 0, "--password-file: {out}{err}");
    assert!(
        !out.contains(PASSWORD) && !err.contains(PASSWORD),
        "{out}{err}"
    );

    let (code, out, err) = ping(isolated(home.path()).env("PGPASSWORD", PASSWORD));
    assert_eq!(code, 0, "PGPASSWORD: {out}{err}");

    let escaped = PASSWORD.replace('\\', "\\\\").replace(':', "\\:");
    let line = format!(
        "# comment\nother:*:*:*:nope\n127.0.0.1:{}:*:app:{escaped}\n",
        pg.port
    );
    write_file(home.path(), ".pgpass", &line, 0o600);
    let (code, out, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 0, "~/.pgpass: {out}{err}");

    write_file(home.path(), ".pgpass", &line, 0o644);
    let (code, _, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 3, "a group-readable ~/.pgpass must be skipped: {err}");
    assert!(
        err.contains("warning") && err.contains("chmod 0600"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");

    let elsewhere = write_file(home.path(), "pgpass.conf", &line, 0o600);
    let (code, out, err) = ping(isolated(home.path()).env("PGPASSFILE", &elsewhere));
    assert_eq!(code, 0, "PGPASSFILE: {out}{err}");

    // The order: the password file, then PGPASSWORD, then the pgpass file.
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &url)
        .env("PGPASSWORD", "wrong-env-pw")
        .args(["ping", "-n", "1", "--password-file"])
        .arg(&file));
    assert_eq!(code, 0, "the file must win over PGPASSWORD: {out}{err}");
    write_file(home.path(), ".pgpass", "*:*:*:*:wrong-pgpass-pw\n", 0o600);
    let (code, out, err) = ping(isolated(home.path()).env("PGPASSWORD", PASSWORD));
    assert_eq!(code, 0, "PGPASSWORD must win over ~/.pgpass: {out}{err}");
    let (code, _, err) = ping(&mut isolated(home.path()));
    assert_eq!(code, 3, "the wrong ~/.pgpass line must be sent: {err}");
    assert_one_clean_line(&err, Some("wrong-pgpass-pw"));

    // The same password written raw in the URL now parses and logs in.
    let raw = format!(
        "postgres://app:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port
    );
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &raw)
        .args(["ping", "-n", "1"]));
    assert_eq!(code, 0, "raw password in the URL: {out}{err}");
    assert!(out.contains("app:***@127.0.0.1"), "{out}");

    // Backups: create, restore and drill with the URL and the password
    // off argv.
    let encoded = format!(
        "postgres://app:{}@127.0.0.1:{}/postgres?sslmode=disable",
        percent(PASSWORD),
        pg.port
    );
    for sql in [
        "CREATE TABLE t (id int PRIMARY KEY)",
        "INSERT INTO t VALUES (1), (2), (3)",
    ] {
        let (code, out, err) = run(covet().args(["sql", "--db", &encoded, sql]));
        assert_eq!(code, 0, "{out}{err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().display().to_string();
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &url)
        .env("PGPASSWORD", PASSWORD)
        .args([
            "backup",
            "create",
            "--to",
            &to,
            "--no-encryption",
            "--name",
            "scram.covet",
        ]));
    assert_eq!(code, 0, "create: {out}{err}");
    let backup = dir.path().join("scram.covet").display().to_string();
    let target = format!(
        "postgres://app@127.0.0.1:{}/restored?sslmode=disable",
        pg.port
    );
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &target)
        .arg("backup")
        .arg("restore")
        .arg("--file")
        .arg(&backup)
        .arg("--password-file")
        .arg(&file));
    assert_eq!(code, 0, "restore: {out}{err}");
    assert!(out.contains("3 rows"), "{out}");
    let (code, out, err) = run(isolated(home.path())
        .env("COVET_DATABASE_URL", &url)
        .arg("backup")
        .arg("drill")
        .arg("--file")
        .arg(&backup)
        .arg("--password-file")
        .arg(&file));
    assert_eq!(code, 0, "drill: {out}{err}");
    assert!(out.contains("drill passed"), "{out}");
}

/// Percent-encodes everything but unreserved characters.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
