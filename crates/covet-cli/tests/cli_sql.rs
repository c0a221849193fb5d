//! `covet sql`: rows or rows affected as the server says, streamed output,
//! and a closed stdout (`| head`) ending commands quietly.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{TempDb, covet, run, server};

/// Runs `covet sql --db url sql`, asserting success; returns stdout.
fn sql(url: &str, sql: &str) -> String {
    let (code, out, err) = run(covet().args(["sql", "--db", url, sql]));
    assert_eq!(code, 0, "{sql}: {out}{err}");
    out
}

/// Asserts `out` is a table with `header` and exactly `rows` rows.
fn assert_rows(sql: &str, out: &str, header: &str, rows: usize) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.first().is_some_and(|l| l.contains(header)),
        "{sql}: no header {header:?} in\n{out}"
    );
    let tail = format!("({rows} row{})", if rows == 1 { "" } else { "s" });
    assert_eq!(lines.last().copied(), Some(tail.as_str()), "{sql}:\n{out}");
    assert!(!out.contains("affected"), "{sql}:\n{out}");
}

fn assert_affected(sql: &str, out: &str, n: u64) {
    let want = format!("{n} row{} affected", if n == 1 { "" } else { "s" });
    assert!(out.starts_with(&want), "{sql}: wanted {want:?}, got\n{out}");
}

/// The statement shapes every engine shares.
fn common(url: &str) {
    sql(
        url,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))",
    );
    let q = "INSERT INTO t (id, name) VALUES (1, 'a'), (2, 'b')";
    assert_affected(q, &sql(url, q), 2);
    let q = "UPDATE t SET name = 'c' WHERE id = 2";
    assert_affected(q, &sql(url, q), 1);
    let q = "-- a comment first\nSELECT id FROM t ORDER BY id";
    assert_rows(q, &sql(url, q), "id", 2);
    let q = "/* a comment first */ SELECT name FROM t WHERE id = 2";
    assert_rows(q, &sql(url, q), "name", 1);
    let q = "WITH x AS (SELECT id FROM t) SELECT count(*) AS n FROM x";
    assert_rows(q, &sql(url, q), "n", 1);
    // An empty result still shows its columns.
    let q = "SELECT id, name FROM t WHERE id < 0";
    let out = sql(url, q);
    assert_rows(q, &out, "id", 0);
    assert!(out.lines().next().unwrap().contains("name"), "{out}");
}

#[test]
fn sqlite_rows_come_from_the_statement_not_its_first_word() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    common(&url);
    let q = "INSERT INTO t (id, name) VALUES (3, 'r') RETURNING id, name";
    assert_rows(q, &sql(&url, q), "id", 1);
    let q = "PRAGMA table_info(t)";
    assert_rows(q, &sql(&url, q), "name", 2);
    let q = "VALUES (1), (2), (3)";
    assert_rows(q, &sql(&url, q), "column1", 3);
}

#[test]
fn postgres_rows_come_from_the_statement_not_its_first_word() {
    let Some(admin) = server("COVET_PG_URL") else {
        return;
    };
    let db = TempDb::create(&admin, "covet_cli_sql");
    common(&db.url);
    for (q, header, n) in [
        ("(SELECT id FROM t ORDER BY id)", "id", 2),
        ("TABLE t", "name", 2),
        (
            "INSERT INTO t (id, name) VALUES (3, 'r') RETURNING id",
            "id",
            1,
        ),
        ("  -- c\n  (TABLE t)", "id", 3),
        ("SHOW server_version", "server_version", 1),
    ] {
        assert_rows(q, &sql(&db.url, q), header, n);
    }
}

#[test]
fn mariadb_rows_come_from_the_statement_not_its_first_word() {
    let Some(admin) = server("COVET_MYSQL_URL") else {
        return;
    };
    let db = TempDb::create(&admin, "covet_cli_sql");
    common(&db.url);
    for (q, header, n) in [
        ("(SELECT id FROM t ORDER BY id)", "id", 2),
        ("DESCRIBE t", "Field", 2),
        ("SHOW COLUMNS FROM t", "Field", 2),
        ("# c\nSELECT 1 AS one", "one", 1),
    ] {
        assert_rows(q, &sql(&db.url, q), header, n);
    }
}

/// 200,000 rows on SQLite whose last row fails (abs of the smallest
/// integer overflows): a tool that holds the whole result before printing
/// prints none of it.
const FAILS_AT_THE_END: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) \
     SELECT x, abs(-9223372036854775807 - (x / 200000)) AS y FROM c";

#[test]
fn rows_are_printed_as_they_arrive() {
    let (code, out, err) = run(covet().args(["sql", "--db", "sqlite::memory:", FAILS_AT_THE_END]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("overflow"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.contains('x') && l.contains('y')),
        "{}",
        &out[..out.len().min(300)]
    );
    // The rows before the failing one were printed, in order (the adapter
    // may drop the last partial batch when the statement fails).
    assert!(lines.len() > 199_000, "{} lines", lines.len());
    for (i, line) in lines[2..].iter().enumerate() {
        assert!(
            line.trim_start().starts_with(&format!("{} |", i + 1)),
            "{line}"
        );
    }
}

/// Reads one line from the child's stdout within a generous deadline.
fn first_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        // Hand the pipe back so the caller decides when it closes.
        let _ = tx.send((line, r));
    });
    let (line, reader) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a first line within 60 s");
    drop(reader);
    line
}

fn wait_quiet_exit(mut child: Child, what: &str) {
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err, "", "{what}: nothing on stderr");
    assert_eq!(status.code(), Some(0), "{what}: {status:?}");
}

#[test]
fn sql_into_a_closed_pipe_ends_quietly() {
    // Far more output than a pipe holds: after its first line the child is
    // still writing when the reader goes away.
    let q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) \
             SELECT x, 'row ' || x AS s FROM c";
    let mut child = covet()
        .args(["sql", "--db", "sqlite::memory:", q])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    assert!(line.contains('x') && line.contains('s'), "{line}");
    wait_quiet_exit(child, "covet sql | head -1");
}

#[test]
fn backup_list_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = covet()
        .args(["backup", "list", "--to"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the child writes its line.
    drop(child.stdout.take());
    wait_quiet_exit(child, "covet backup list | head -1");
}

/// The peak resident memory of `pid` in kB (Linux), if it is still there.
#[cfg(target_os = "linux")]
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A million rows: holding them all took about 370 MB before anything was
/// printed. Streamed, the peak stays far below that. The peak is sampled
/// while the output is read; the child cannot finish before the last
/// chunk is read, so the last sample covers nearly all of its run.
#[cfg(target_os = "linux")]
#[test]
fn a_million_rows_stream_in_bounded_memory() {
    let q = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
             SELECT x, 'row number ' || x AS s FROM c";
    let mut child = covet()
        .args(["sql", "--db", "sqlite::memory:", q])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0_u8; 1 << 16];
    let (mut lines, mut peak_kb) = (0_usize, 0_u64);
    loop {
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count();
        if let Some(kb) = peak_rss_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
    }
    wait_quiet_exit(child, "a million rows");
    assert_eq!(lines, 1_000_000 + 3, "header, separator, rows, count");
    assert!(peak_kb > 0, "no memory sample");
    assert!(peak_kb < 100 * 1024, "peak resident memory {peak_kb} kB");
}

#[test]
fn slow_queries_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("slow.jsonl");
    let line = |i: u32| {
        format!(
            r#"{{"type":"query","ts_ms":1,"engine":"sqlite","fingerprint":"{i:016x}","operation":"select","elapsed_ms":{i}.5,"text":"select ? from t{i}"}}"#
        )
    };
    let text: Vec<String> = (1..=20).map(line).collect();
    std::fs::write(&log, text.join("\n") + "\n").unwrap();
    let (code, out, err) = run(covet().args(["slow-queries", "--log"]).arg(&log));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("select ? from t20"), "{out}");
    let mut child = covet()
        .args(["slow-queries", "--log"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the child writes its table.
    drop(child.stdout.take());
    wait_quiet_exit(child, "covet slow-queries | head -1");
}

/// `ping` still prints with `println!`: the panic hook in main.rs turns its
/// closed-pipe panic into the same quiet exit.
#[test]
fn any_command_into_a_closed_pipe_ends_quietly() {
    let mut child = covet()
        .args(["ping", "--db", "sqlite::memory:"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    wait_quiet_exit(child, "covet ping | head -1");
}
