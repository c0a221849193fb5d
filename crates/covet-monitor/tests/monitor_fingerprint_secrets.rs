//! No literal survives a fingerprint, whatever its quoting style and
//! whatever the statement around it.

use covet_core::Engine;
use covet_monitor::Fingerprint;
use proptest::prelude::*;

/// One way of writing `secret` as a literal: the SQL text, and the text
/// that must not show up in a fingerprint (the secret itself, or its hex or
/// bit spelling for `X'..'` and `B'..'`).
type Literal = (String, String);

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn bits(s: &str) -> String {
    s.bytes().take(4).map(|b| format!("{b:08b}")).collect()
}

fn doubled(s: &str, q: char) -> String {
    s.replace(q, &format!("{q}{q}"))
}

/// Backslash escapes for MySQL strings and PostgreSQL `E'..'`: `\\` and
/// `\q`, or a doubled quote when `double_quote`.
fn backslashed(s: &str, q: char, double_quote: bool) -> String {
    let s = s.replace('\\', "\\\\");
    if double_quote {
        doubled(&s, q)
    } else {
        s.replace(q, &format!("\\{q}"))
    }
}

/// `$tag$..$tag$`, when the server reads the whole secret as the body.
fn dollar(s: &str, tag: &str) -> Option<String> {
    let t = format!("${tag}$");
    (format!("{s}{t}").find(&t) == Some(s.len())).then(|| format!("{t}{s}{t}"))
}

/// Every spelling of `s` as a literal that `engine` reads as one.
fn literals(engine: Engine, s: &str) -> Vec<Literal> {
    let plain = |sql: String| (sql, s.to_owned());
    let mut v = vec![
        (format!("X'{}'", hex(s)), hex(s)),
        (format!("x'{}'", hex(s)), hex(s)),
    ];
    match engine {
        Engine::Postgres => {
            v.push(plain(format!("'{}'", doubled(s, '\''))));
            v.push(plain(format!("E'{}'", backslashed(s, '\'', false))));
            v.push(plain(format!("e'{}'", backslashed(s, '\'', true))));
            v.push(plain(format!("N'{}'", doubled(s, '\''))));
            v.push(plain(format!(
                "U&'{}'",
                doubled(&s.replace('\\', "\\\\"), '\'')
            )));
            v.push(plain(format!("'{}'::text", doubled(s, '\''))));
            v.extend(
                ["", "pw", "_x1", "é"]
                    .iter()
                    .filter_map(|t| dollar(s, t))
                    .map(plain),
            );
            v.push((format!("B'{}'", bits(s)), bits(s)));
        }
        Engine::MySql => {
            for dq in [false, true] {
                v.push(plain(format!("'{}'", backslashed(s, '\'', dq))));
                v.push(plain(format!("\"{}\"", backslashed(s, '"', dq))));
                v.push(plain(format!("N'{}'", backslashed(s, '\'', dq))));
                v.push(plain(format!("_utf8mb4'{}'", backslashed(s, '\'', dq))));
                v.push(plain(format!("_utf8mb4\"{}\"", backslashed(s, '"', dq))));
            }
            v.push((format!("0x{}", hex(s)), hex(s)));
            v.push((format!("B'{}'", bits(s)), bits(s)));
            v.push((format!("0b{}", bits(s)), bits(s)));
        }
        _ => {
            v.push(plain(format!("'{}'", doubled(s, '\''))));
            // Read as a string when no column has that name.
            v.push(plain(format!("\"{}\"", doubled(s, '"'))));
        }
    }
    v
}

/// Statement shapes with a slot for the secret's literal (`{}`) and one
/// for another literal before it (`{p}`).
const SHAPES: &[&str] = &[
    "INSERT INTO t (a, b) VALUES (1, {})",
    "INSERT INTO t (a, b) VALUES ({p}, {}), (2, 'z')",
    "SELECT * FROM t WHERE x = {}",
    "select a from t where y = {p} and x = {} order by a",
    "UPDATE t SET a = {p}, b = {} WHERE id = 3",
    "CREATE USER app IDENTIFIED BY {}",
    "ALTER USER 'app'@'%' IDENTIFIED BY {}",
    "CREATE USER app WITH PASSWORD {}",
    "SET PASSWORD = {}",
    "SET PASSWORD FOR app = PASSWORD({})",
    "/* app */ SELECT f({p}, {}) -- trailing",
];

/// Any run of four characters of `secret` that the fingerprint shows and
/// that the statement's own text (without the secret) does not explain.
fn leaked(fp: &str, secret: &str, template_fp: &str, template: &str) -> Option<String> {
    let lower = |s: &str| s.to_lowercase();
    let (fp, tfp, t) = (lower(fp), lower(template_fp), lower(template));
    let chars: Vec<char> = lower(secret).chars().collect();
    chars
        .windows(4)
        .map(|w| w.iter().collect::<String>())
        .find(|w| fp.contains(w.as_str()) && !tfp.contains(w.as_str()) && !t.contains(w.as_str()))
}

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{4,24}",
        "\\PC{4,16}",
        // The characters that end or escape a literal, densely.
        "[a-z'\"\\\\$#\\-*/ ]{4,24}",
    ]
}

fn check(engine: Option<Engine>, secret: &str, other: &str) -> Result<(), TestCaseError> {
    let fingerprint = |sql: &str| match engine {
        Some(e) => Fingerprint::for_engine(e, sql).text,
        None => Fingerprint::of(sql).text,
    };
    let engines = match engine {
        Some(e) => vec![e],
        None => vec![Engine::Postgres, Engine::MySql, Engine::Sqlite],
    };
    for e in engines {
        let others = literals(e, other);
        for (lit, visible) in literals(e, secret) {
            for (k, shape) in SHAPES.iter().enumerate() {
                let (p, _) = &others[k % others.len()];
                // The slots become control characters first, which no
                // generated literal holds, so a literal's `{}` stays text.
                let shape = shape.replace("{p}", "\u{1}").replace("{}", "\u{2}");
                let sql = shape.replace('\u{2}', &lit).replace('\u{1}', p);
                let template = shape.replace('\u{2}', "'x'").replace('\u{1}', p);
                let fp = fingerprint(&sql);
                if let Some(w) = leaked(&fp, &visible, &fingerprint(&template), &template) {
                    return Err(TestCaseError::fail(format!(
                        "{e:?} (read as {engine:?}): {sql:?} -> {fp:?} shows {w:?}"
                    )));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_literal_survives_a_postgres_fingerprint(s in secret(), o in secret()) {
        check(Some(Engine::Postgres), &s, &o)?;
    }

    #[test]
    fn no_literal_survives_a_mysql_fingerprint(s in secret(), o in secret()) {
        check(Some(Engine::MySql), &s, &o)?;
    }

    #[test]
    fn no_literal_survives_a_sqlite_fingerprint(s in secret(), o in secret()) {
        check(Some(Engine::Sqlite), &s, &o)?;
    }

    #[test]
    fn no_literal_survives_when_the_engine_is_unknown(s in secret(), o in secret()) {
        check(None, &s, &o)?;
    }
}

/// A proptest found this: `U&'..'` left `u &` in the fingerprint, and a
/// secret starting `d u ` then looked like a leak across `password u &`.
#[test]
fn postgres_unicode_escape_string_is_one_literal() {
    let sql = "CREATE USER app WITH PASSWORD U&'d u '";
    assert_eq!(
        Fingerprint::for_engine(Engine::Postgres, sql).text,
        "create user app with password ?"
    );
    assert_eq!(Fingerprint::of(sql).text, "create user app with password ?");
}

#[test]
fn mysql_double_quoted_password_is_not_recorded() {
    let fp = Fingerprint::for_engine(Engine::MySql, r#"CREATE USER app IDENTIFIED BY "hunter2""#);
    assert_eq!(fp.text, "create user app identified by ?");
    let fp = Fingerprint::of(r#"CREATE USER app IDENTIFIED BY "hunter2""#);
    assert!(!fp.text.contains("hunter2"), "{}", fp.text);
}

proptest! {
    /// PostgreSQL plans print the constants they were planned with; the
    /// slow log keeps them only under `Redaction::Raw`.
    #[test]
    fn no_literal_survives_in_a_recorded_plan(s in secret()) {
        use covet_monitor::{MemorySink, Redaction, SlowLog, SlowQueryLogger};
        use std::sync::Arc;
        let plan = |lit: &str| {
            format!(
                "Seq Scan on users  (cost=0.00..35.50 rows=10 width=36)\n  Filter: ((email)::text = '{lit}'::text)"
            )
        };
        let with_secret = plan(&s.replace('\'', "''"));
        let template = plan("x");
        for mode in [Redaction::FingerprintOnly, Redaction::None] {
            let record = |text: &str| -> String {
                let sink = Arc::new(MemorySink::default());
                let log = SlowQueryLogger::builder().redaction(mode).sink(sink.clone()).build();
                log.record_plan(7, text, false);
                sink.records()
                    .into_iter()
                    .map(|r| match r {
                        covet_monitor::SlowRecord::Plan { plan, .. } => plan,
                        other => format!("{other:?}"),
                    })
                    .collect()
            };
            let recorded = record(&with_secret);
            prop_assert!(recorded.contains("Filter"), "{}", recorded);
            // What the redaction itself writes (its `'?'`) is explained by
            // the template's record, not leaked by the secret.
            if let Some(w) = leaked(&recorded, &s, &record(&template), &template) {
                return Err(TestCaseError::fail(format!("{mode:?}: {recorded} shows {w:?}")));
            }
        }
    }
}
