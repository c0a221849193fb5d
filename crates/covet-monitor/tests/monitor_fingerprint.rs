//! Fingerprints, redaction and statement classification.

use covet_core::{Engine, Statement};
use covet_monitor::fingerprint::{
    fnv1a, is_explainable, is_read_only_select, may_carry_secret, normalize, operation,
};
use covet_monitor::redact::recorded;
use covet_monitor::{Fingerprint, Redaction};
use proptest::prelude::*;

#[test]
fn literals_and_placeholders_become_question_marks() {
    assert_eq!(
        normalize("SELECT a, b FROM t WHERE x = 'it''s' AND y = 42 AND z = -3.5e2 AND w = $1"),
        "select a, b from t where x = ? and y = ? and z = ? and w = ?"
    );
    assert_eq!(
        normalize("select * from t where id = ?"),
        "select * from t where id = ?"
    );
    assert_eq!(
        normalize("SELECT $$dollar ' quoted$$, $tag$x$tag$"),
        "select ?, ?"
    );
    assert_eq!(
        normalize("SELECT E'\\n', X'ff', 0xFF, TRUE, null"),
        "select ?, ?, ?, ?, ?"
    );
    assert_eq!(normalize("SELECT a - 1 FROM t"), "select a - ? from t");
}

#[test]
fn lists_collapse() {
    let a = normalize("SELECT * FROM t WHERE id IN (1, 2, 3)");
    let b = normalize("select * from t where id in ($1,$2)");
    assert_eq!(a, "select * from t where id in (...)");
    assert_eq!(a, b);
    let v1 = normalize("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')");
    let v2 = normalize("insert into t (a, b) values ($1, $2)");
    assert_eq!(v1, "insert into t(a, b) values (...)");
    assert_eq!(v1, v2);
    // A subquery is not a list of values.
    assert_eq!(
        normalize("SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE n = 5)"),
        "select * from t where id in(select id from u where n = ?)"
    );
}

#[test]
fn comments_whitespace_and_case_fold() {
    let a = Fingerprint::of("/* app:42 */ SELECT  Name\n\tFROM Users -- trailing\n WHERE id = 7;");
    let b = Fingerprint::of("select name from users where id = 8");
    assert_eq!(a, b);
    // PostgreSQL's quoted identifiers keep their case: they are different
    // names. (Elsewhere a double-quoted token may be a string: a literal.)
    assert_ne!(
        Fingerprint::for_engine(Engine::Postgres, r#"select "Name" from t"#),
        Fingerprint::for_engine(Engine::Postgres, r#"select "name" from t"#)
    );
}

#[test]
fn ids_are_stable_across_runs() {
    // FNV-1a test vectors, and a fingerprint id pinned so a change to the
    // normaliser or hash shows up here rather than in users' dashboards.
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    let fp = Fingerprint::of("SELECT 1");
    assert_eq!(fp.text, "select ?");
    assert_eq!(fp.id, fnv1a(b"select ?"));
}

#[test]
fn long_text_is_capped_but_id_covers_all() {
    let long_a = format!("SELECT {} FROM t", vec!["a"; 3000].join(", "));
    let long_b = format!("SELECT {}, b FROM t", vec!["a"; 3000].join(", "));
    let (a, b) = (Fingerprint::of(&long_a), Fingerprint::of(&long_b));
    assert!(a.text.len() <= covet_monitor::fingerprint::MAX_TEXT + 3);
    assert_ne!(a.id, b.id);
}

#[test]
fn classification() {
    assert_eq!(operation("  /* x */ SELECT 1"), "select");
    assert_eq!(operation("update t set a = 1"), "update");
    assert_eq!(operation("VACUUM"), "other");
    assert!(is_read_only_select("SELECT * FROM t WHERE a = 1"));
    assert!(!is_read_only_select("SELECT * FROM t FOR UPDATE"));
    assert!(!is_read_only_select("SELECT * INTO new_t FROM t"));
    assert!(!is_read_only_select("SELECT nextval('s')"));
    assert!(!is_read_only_select("UPDATE t SET a = 1"));
    assert!(!is_read_only_select(
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"
    ));
    assert!(is_explainable("UPDATE t SET a = 1"));
    assert!(!is_explainable("CREATE USER bob PASSWORD 'x'"));
    assert!(may_carry_secret("create user bob with password 'x'"));
    assert!(may_carry_secret("ALTER USER 'bob'@'%' IDENTIFIED BY 'x'"));
    assert!(!may_carry_secret("SELECT 1"));
}

#[test]
fn redaction_modes() {
    let stmt = Statement::new("SELECT * FROM users WHERE email = $1 AND age > 30")
        .bind("alice@example.com");
    let fp = Fingerprint::of(stmt.sql());
    let (t, p) = recorded(&stmt, &fp, Redaction::None);
    assert_eq!((t, p), (None, None));
    let (t, p) = recorded(&stmt, &fp, Redaction::FingerprintOnly);
    assert_eq!(
        t.as_deref(),
        Some("select * from users where email = ? and age > ?")
    );
    assert_eq!(p, None);
    let (t, p) = recorded(&stmt, &fp, Redaction::Raw);
    assert_eq!(t.as_deref(), Some(stmt.sql()));
    assert_eq!(p, Some(vec!["'alice@example.com'".to_owned()]));
    assert_eq!(Redaction::default(), Redaction::FingerprintOnly);
}

#[test]
fn ddl_passwords_never_recorded() {
    for sql in [
        "CREATE USER app WITH PASSWORD 's3cr3t-pw'",
        "ALTER ROLE app PASSWORD 's3cr3t-pw'",
        "ALTER USER 'app'@'%' IDENTIFIED BY 's3cr3t-pw'",
        "CREATE USER 'app'@'%' IDENTIFIED WITH mysql_native_password BY 's3cr3t-pw'",
        "SET PASSWORD FOR 'app'@'%' = PASSWORD('s3cr3t-pw')",
        "CREATE USER app WITH PASSWORD $q$s3cr3t-pw$q$",
    ] {
        let stmt = Statement::new(sql).bind("s3cr3t-pw");
        let fp = Fingerprint::of(sql);
        assert!(!fp.text.contains("s3cr3t"), "{sql} -> {}", fp.text);
        for mode in [Redaction::None, Redaction::FingerprintOnly, Redaction::Raw] {
            let (t, p) = recorded(&stmt, &fp, mode);
            assert!(!t.unwrap_or_default().contains("s3cr3t"), "{sql} {mode:?}");
            assert!(p.is_none(), "{sql} {mode:?}");
        }
    }
}

proptest! {
    #[test]
    fn integer_literals_never_change_the_fingerprint(a in any::<i64>(), b in any::<i64>(), s in "[a-z ']{0,20}") {
        let x = Fingerprint::of(&format!("SELECT * FROM t WHERE a = {a} AND b = '{}'", s.replace('\'', "''")));
        let y = Fingerprint::of(&format!("SELECT * FROM t WHERE a = {b} AND b = 'q'"));
        prop_assert_eq!(x, y);
    }

    #[test]
    fn normalising_is_idempotent_and_total(sql in "\\PC{0,80}") {
        let once = normalize(&sql);
        prop_assert_eq!(normalize(&once), once.clone());
    }
}
