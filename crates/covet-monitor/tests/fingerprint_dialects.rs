//! Per-dialect fingerprint rules: pt-query-digest's on MySQL, the parser's
//! own folding (and optionally pg_stat_statements' grouping) on PostgreSQL,
//! statements that are not UTF-8, and statement splitting.

use covet_core::Engine;
use covet_monitor::Fingerprint;
use covet_monitor::fingerprint::{Fingerprinter, PgGrouping};
use proptest::prelude::*;

fn my(sql: &str) -> String {
    Fingerprint::for_engine(Engine::MySql, sql).text
}

fn pg(sql: &str) -> String {
    Fingerprint::for_engine(Engine::Postgres, sql).text
}

fn pg_qid(sql: &str) -> String {
    Fingerprinter::new(Some(Engine::Postgres))
        .pg_grouping(PgGrouping::QueryId)
        .fingerprint(sql)
        .text
}

#[test]
fn mysql_order_by_asc_is_the_default_order() {
    assert_eq!(
        my("SELECT a FROM t ORDER BY a ASC, b DESC"),
        my("select a from t order by a, b desc")
    );
    assert_eq!(
        pg("SELECT a FROM t ORDER BY a ASC NULLS LAST"),
        pg("SELECT a FROM t ORDER BY a")
    );
    assert_eq!(
        pg("SELECT a FROM t ORDER BY a DESC NULLS FIRST"),
        pg("SELECT a FROM t ORDER BY a DESC")
    );
    assert_ne!(
        pg("SELECT a FROM t ORDER BY a DESC NULLS LAST"),
        pg("SELECT a FROM t ORDER BY a DESC")
    );
}

#[test]
fn mysql_limit_forms_fold() {
    let want = my("SELECT * FROM t LIMIT 10");
    assert_eq!(my("SELECT * FROM t LIMIT 5, 10"), want);
    assert_eq!(my("SELECT * FROM t LIMIT 10 OFFSET 5"), want);
    assert_eq!(want, "select * from t limit ?");
    // Elsewhere the comma form is the OFFSET form.
    assert_eq!(
        Fingerprint::for_engine(Engine::Sqlite, "SELECT * FROM t LIMIT 5, 10").text,
        "select * from t limit ? offset ?"
    );
}

#[test]
fn mysql_use_db_is_one_group() {
    assert_eq!(my("USE production"), "use ?");
    assert_eq!(my("use `db_2`"), "use ?");
}

#[test]
fn mysql_multi_row_values_and_on_duplicate_key_update_collapse() {
    let one = my("INSERT INTO t (a, b) VALUES (1, 'x')");
    assert_eq!(
        one,
        my("insert into t (a,b) values (1,'x'),(2,'y'),(3,\"z\")")
    );
    assert_eq!(one, "insert into t(a, b) values (...)");
    // pt-query-digest cuts a multi-row insert after its first row, the
    // ON DUPLICATE KEY UPDATE clause with it.
    assert_eq!(
        my("INSERT INTO t (a) VALUES (1), (2) ON DUPLICATE KEY UPDATE a = VALUES(a)"),
        my("INSERT INTO t (a) VALUES (7), (8), (9)")
    );
    assert_eq!(
        my("INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)"),
        "insert into t(a) values (...) on duplicate key update a = values(a)"
    );
    assert_eq!(
        my("INSERT INTO t VALUE (1, 2)"),
        my("INSERT INTO t VALUE (3, 4), (5, 6)")
    );
}

#[test]
fn numbers_are_tokenised_whole() {
    for n in [
        "0b1010", "+6e-30", ".5", "-0.5", "1e10", "0x1F", "1.5E+3", "X'1f'", "b'101'",
    ] {
        assert_eq!(
            my(&format!("SELECT * FROM t WHERE a = {n}")),
            "select * from t where a = ?",
            "{n}"
        );
    }
    assert_eq!(
        my("SELECT a FROM t WHERE a IN (.5, +1, -2)"),
        "select a from t where a in (...)"
    );
    assert_eq!(pg("SELECT .5, -1.5e3"), "select ?, ?");
    // A subtraction stays one.
    assert_eq!(pg("SELECT a - 1 FROM t"), "select a - ? from t");
    assert_eq!(pg("SELECT t.a FROM t"), "select t.a from t");
}

#[test]
fn mysql_version_comments_are_code() {
    assert_eq!(
        my("SELECT /*!40001 SQL_NO_CACHE */ * FROM t"),
        "select /*! ? sql_no_cache */ * from t"
    );
    assert_ne!(my("SET /*!50002 GLOBAL */ x = 1"), my("SET x = 1"));
    assert_eq!(
        my("SET /*!50002 GLOBAL */ x = 1"),
        my("set /*!50002 global */ x = 2")
    );
    // A literal inside one is still a literal; plain comments still go.
    assert_eq!(
        my("SELECT /*!50000 'secret' */ 1 /* x */"),
        "select /*! ? ? */ ?"
    );
    // Elsewhere `/*!` is a comment.
    assert_eq!(pg("SELECT /*!40001 x */ 1"), "select ?");
}

#[test]
fn mysql_double_quotes_are_strings() {
    assert_eq!(
        my(r#"SELECT * FROM t WHERE a = "it\"s" AND b = 'x'"#),
        "select * from t where a = ? and b = ?"
    );
    // On PostgreSQL a quoted lower-case name is the bare name; others stay.
    assert_eq!(pg(r#"SELECT "a" FROM "users""#), "select a from users");
    assert_eq!(
        pg(r#"SELECT "Name", "user" FROM t"#),
        r#"select "Name", "user" from t"#
    );
}

#[test]
fn mysql_numbers_in_names_fold_as_pt_query_digest() {
    assert_eq!(
        my("SELECT * FROM users_2009 WHERE id = 1"),
        my("SELECT * FROM users_2010 WHERE id = 2")
    );
    assert_eq!(
        my("SELECT c FROM sbtest7 WHERE id=5"),
        "select c from sbtest? where id = ?"
    );
    // PostgreSQL keeps names whole.
    assert_ne!(pg("SELECT * FROM t1"), pg("SELECT * FROM t2"));
}

#[test]
fn mysql_repeated_unions_and_call() {
    let two = my("SELECT a FROM t WHERE b = 1 UNION ALL SELECT a FROM t WHERE b = 2");
    let three = my(
        "SELECT a FROM t WHERE b = 1 UNION ALL SELECT a FROM t WHERE b = 2 UNION ALL SELECT a FROM t WHERE b = 3",
    );
    assert_eq!(two, three);
    assert_eq!(two, "select a from t where b = ? /*repeat union all*/");
    assert_ne!(
        two,
        my("SELECT a FROM t WHERE b = 1 UNION ALL SELECT c FROM t WHERE b = 2")
    );
    assert_eq!(my("CALL app.refresh(1, 'x')"), "call app.refresh");
}

#[test]
fn postgres_folds_what_its_parser_folds() {
    assert_eq!(
        pg("SELECT * FROM a INNER JOIN b ON a.x = b.x"),
        pg("SELECT * FROM a JOIN b ON a.x = b.x")
    );
    assert_eq!(
        pg("SELECT * FROM a LEFT OUTER JOIN b ON true"),
        pg("SELECT * FROM a LEFT JOIN b ON true")
    );
    assert_eq!(
        pg("SELECT * FROM a WHERE x != 1"),
        pg("SELECT * FROM a WHERE x <> 1")
    );
    // Nested comments end where PostgreSQL ends them.
    assert_eq!(pg("SELECT /* a /* b */ 'c' */ 1"), "select ?");
}

#[test]
fn postgres_query_id_grouping_keeps_list_lengths_and_types() {
    let (a, b) = (
        "SELECT * FROM t WHERE id IN (1, 2)",
        "SELECT * FROM t WHERE id IN (3, 4, 5)",
    );
    assert_eq!(pg(a), pg(b));
    assert_ne!(pg_qid(a), pg_qid(b));
    assert_eq!(pg_qid(a), pg_qid("select * from t where id in (7, 8)"));
    assert_ne!(
        pg_qid("SELECT * FROM t WHERE x = 5"),
        pg_qid("SELECT * FROM t WHERE x = 5.5")
    );
    assert_ne!(
        pg_qid("SELECT * FROM t WHERE x = 5"),
        pg_qid("SELECT * FROM t WHERE x = 5000000000")
    );
    assert_eq!(
        pg_qid("SELECT * FROM t WHERE x = 5"),
        pg_qid("SELECT * FROM t WHERE x = '5'")
    );
    assert_eq!(
        pg_qid("INSERT INTO t VALUES (1), (2)"),
        "insert into t values(?),(?)"
    );
    assert_eq!(
        pg_qid("SELECT * FROM t WHERE id = $1"),
        "select * from t where id = $1"
    );
    assert_eq!(
        pg("SELECT * FROM t WHERE x = 5.5"),
        pg("SELECT * FROM t WHERE x = 5")
    );
}

#[test]
fn statements_that_are_not_utf8_are_fingerprinted() {
    let sql = b"SELECT * FROM caf\xe9 WHERE name = 'ren\xe9e' AND x = \"\xff\xfe\"";
    let fp = Fingerprint::of_bytes(Some(Engine::MySql), sql);
    assert_eq!(
        fp.text,
        "select * from caf\u{fffd} where name = ? and x = ?"
    );
    assert_eq!(
        fp,
        Fingerprint::of_bytes(
            Some(Engine::MySql),
            b"select * from caf\xe9 where name = 'x' and x = 'y'"
        )
    );
}

#[test]
fn split_cuts_at_top_level_semicolons_only() {
    let fp = Fingerprinter::new(Some(Engine::Postgres));
    let input = b"SELECT ';'; SELECT $$a;b$$ /* ; */; -- only a comment;\n ; SELECT 3";
    let parts: Vec<String> = fp
        .split(input)
        .into_iter()
        .map(|p| fp.fingerprint_bytes(p).text)
        .collect();
    assert_eq!(parts, ["select ?", "select ?", "select ?"]);
    let my = Fingerprinter::new(Some(Engine::MySql));
    assert_eq!(my.split(b"SELECT 'a\\';b'; SELECT 2 # ;\n").len(), 2);
}

proptest! {
    /// No byte sequence makes a literal survive: a secret of arbitrary
    /// bytes (not UTF-8 included) in a MySQL string never shows.
    #[test]
    fn no_literal_bytes_survive(secret in proptest::collection::vec(any::<u8>(), 4..24)) {
        let mut lit = Vec::new();
        for &b in &secret {
            if b == b'\'' || b == b'\\' {
                lit.push(b'\\');
            }
            lit.push(b);
        }
        let mut sql = b"SELECT * FROM t WHERE a = '".to_vec();
        sql.extend_from_slice(&lit);
        sql.extend_from_slice(b"' AND b = 1");
        let fp = Fingerprint::of_bytes(Some(Engine::MySql), &sql);
        prop_assert_eq!(&fp.text, "select * from t where a = ? and b = ?");
        // Engine unknown: where the readings differ the rest is one literal.
        let fp = Fingerprint::of_bytes(None, &sql);
        prop_assert!(fp.text.starts_with("select * from t where a = ?"), "{}", fp.text);
    }

    /// MySQL version comments and pt-query-digest's folds never keep a
    /// literal either.
    #[test]
    fn mysql_folds_keep_no_literal(s in "[a-z0-9]{6,12}", n in 1usize..5) {
        let rows: Vec<String> = (0..n).map(|i| format!("({i}, '{s}')")).collect();
        for sql in [
            format!("INSERT INTO t (a, b) VALUES {} ON DUPLICATE KEY UPDATE b = '{s}'", rows.join(", ")),
            format!("SELECT /*!50000 '{s}' */ a FROM t WHERE b = \"{s}\" LIMIT 1, 2"),
            format!("CALL p('{s}')"),
            format!("SELECT a FROM t WHERE b = '{s}' UNION ALL SELECT a FROM t WHERE b = '{s}'"),
        ] {
            let text = my(&sql);
            prop_assert!(!text.contains(&s), "{} -> {}", sql, text);
        }
    }
}

#[test]
fn a_write_or_lock_inside_a_version_comment_is_not_read_only() {
    use covet_monitor::fingerprint::is_read_only_select;
    // MySQL runs the body of `/*! .. */`: EXPLAIN ANALYZE must not run
    // what it hides.
    assert!(!is_read_only_select(
        "SELECT * FROM t /*!50000 FOR UPDATE */"
    ));
    assert!(!is_read_only_select(
        "SELECT a FROM t /*!40000 INTO OUTFILE '/tmp/x' */"
    ));
    assert!(is_read_only_select(
        "SELECT a FROM t /* FOR UPDATE */ WHERE b = 1"
    ));
}
