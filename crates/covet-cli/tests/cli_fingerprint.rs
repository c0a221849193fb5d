//! `covet fingerprint`: one fingerprint per statement, from stdin or a
//! file, per dialect; literals never printed.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::covet;

/// Runs `covet fingerprint args` with `input` on stdin; (code, stdout, stderr).
fn fingerprint(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = covet()
        .arg("fingerprint")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("covet runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("covet exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn statements_split_at_top_level_semicolons() {
    let sql = b"SELECT * FROM t WHERE a = 'x;y'; -- c;\nselect *\n from T where a = 'z'\n;;\nINSERT INTO t VALUES (1),(2)";
    let (code, out, err) = fingerprint(&["--dialect", "mysql"], sql);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "select * from t where a = ?\nselect * from t where a = ?\ninsert into t values (...)\n"
    );
    assert!(!out.contains("x;y"));
}

#[test]
fn per_line_mode_and_ids() {
    let (code, out, err) = fingerprint(
        &["--per-line", "--id", "--dialect", "postgres"],
        b"SELECT 1; SELECT 2\n\nselect \"Name\" from t where id IN (1, 2)\n",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (id, text) = lines[1].split_once('\t').expect("id and text");
    assert_eq!(id.len(), 16);
    assert_eq!(text, "select \"Name\" from t where id in (...)");
    assert_eq!(
        lines[0].split_once('\t').map(|p| p.1),
        Some("select ? select ?")
    );
}

#[test]
fn postgres_query_id_grouping_keeps_list_lengths() {
    let sql = b"SELECT * FROM t WHERE id IN (1, 2); SELECT * FROM t WHERE id IN (3, 4, 5)";
    let (_, shape, _) = fingerprint(&["--dialect", "postgres"], sql);
    let shape: Vec<&str> = shape.lines().collect();
    assert_eq!(shape[0], shape[1]);
    let (code, qid, err) =
        fingerprint(&["--dialect", "postgres", "--pg-grouping", "query-id"], sql);
    assert_eq!(code, 0, "{err}");
    let qid: Vec<&str> = qid.lines().collect();
    assert_ne!(qid[0], qid[1]);
}

#[test]
fn reads_a_file_and_bytes_that_are_not_utf8() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("q.sql");
    std::fs::File::create(&path)
        .and_then(|mut f| {
            f.write_all(b"SELECT * FROM t WHERE name = 'caf\xe9' /*!40001 SQL_NO_CACHE */")
        })
        .expect("write file");
    let (code, out, err) = fingerprint(&["--dialect", "mysql", path.to_str().expect("path")], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "select * from t where name = ? /*! ? sql_no_cache */\n"
    );
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let (code, out, err) = fingerprint(&["/nonexistent/q.sql"], b"");
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn double_quoted_mysql_strings_are_not_printed() {
    let (code, out, err) = fingerprint(
        &["--dialect", "mysql"],
        br#"CREATE USER app IDENTIFIED BY "hunter2""#,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "create user app identified by ?\n");
}
