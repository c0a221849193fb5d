//! Every lint rule has a statement it fires on and one it must not fire on
//! (the safe alternative, or the same change on a table created in the
//! same file), and `-- covet:allow(rule) reason` silences exactly it.

use covet_core::Engine;
use covet_migrate::{LintOptions, Migrations, RULES, lint_script};

struct Case {
    rule: &'static str,
    engine: Engine,
    fires: &'static str,
    quiet: &'static str,
}

const P: Engine = Engine::Postgres;
const M: Engine = Engine::MySql;
const S: Engine = Engine::Sqlite;

const CASES: &[Case] = &[
    Case {
        rule: "unparsed-statement",
        engine: P,
        fires: "ALTER TABLE t FROBNICATE;",
        quiet: "ALTER TABLE t ADD COLUMN c int;",
    },
    Case {
        rule: "adding-volatile-default",
        engine: P,
        fires: "ALTER TABLE t ADD COLUMN id uuid DEFAULT gen_random_uuid();",
        quiet: "ALTER TABLE t ADD COLUMN at timestamptz DEFAULT now();",
    },
    Case {
        rule: "adding-required-column",
        engine: P,
        fires: "ALTER TABLE t ADD COLUMN c int NOT NULL;",
        quiet: "ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0;",
    },
    Case {
        rule: "adding-required-column",
        engine: S,
        fires: "ALTER TABLE t ADD COLUMN c int NOT NULL;",
        quiet: "ALTER TABLE t ADD COLUMN c int;",
    },
    Case {
        rule: "setting-not-null",
        engine: P,
        fires: "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
        quiet: "ALTER TABLE t VALIDATE CONSTRAINT t_c_nn; ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
    },
    Case {
        rule: "non-concurrent-index",
        engine: P,
        fires: "CREATE INDEX i ON t (c);",
        quiet: "-- covet:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
    },
    Case {
        rule: "concurrent-index-in-transaction",
        engine: P,
        fires: "CREATE INDEX CONCURRENTLY i ON t (c);",
        quiet: "-- covet:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
    },
    Case {
        rule: "changing-column-type",
        engine: P,
        fires: "ALTER TABLE t ALTER COLUMN c TYPE bigint;",
        quiet: "CREATE TABLE t (c int); ALTER TABLE t ALTER COLUMN c TYPE bigint;",
    },
    Case {
        rule: "changing-column-type",
        engine: M,
        fires: "ALTER TABLE t MODIFY COLUMN c bigint;",
        quiet: "ALTER TABLE t ADD COLUMN c2 bigint;",
    },
    Case {
        rule: "renaming-column",
        engine: P,
        fires: "ALTER TABLE t RENAME COLUMN a TO b;",
        quiet: "ALTER TABLE t ADD COLUMN b int;",
    },
    Case {
        rule: "renaming-column",
        engine: M,
        fires: "ALTER TABLE t CHANGE COLUMN a b int;",
        quiet: "ALTER TABLE t ADD COLUMN b int;",
    },
    Case {
        rule: "renaming-table",
        engine: P,
        fires: "ALTER TABLE t RENAME TO u;",
        quiet: "CREATE TABLE u (a int);",
    },
    Case {
        rule: "renaming-table",
        engine: M,
        fires: "RENAME TABLE t TO u;",
        quiet: "CREATE TABLE u (a int);",
    },
    Case {
        rule: "dropping-column",
        engine: S,
        fires: "ALTER TABLE t DROP COLUMN a;",
        quiet: "CREATE TABLE t (a int, b int); ALTER TABLE t DROP COLUMN a;",
    },
    Case {
        rule: "dropping-table",
        engine: P,
        fires: "DROP TABLE t;",
        quiet: "CREATE TABLE t (a int); DROP TABLE t;",
    },
    Case {
        rule: "constraint-missing-not-valid",
        engine: P,
        fires: "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id);",
        quiet: "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;",
    },
    Case {
        rule: "constraint-missing-not-valid",
        engine: P,
        fires: "ALTER TABLE t ADD CONSTRAINT ck CHECK (a > 0);",
        quiet: "ALTER TABLE t ADD CONSTRAINT ck CHECK (a > 0) NOT VALID;",
    },
    Case {
        rule: "prefer-identity",
        engine: P,
        fires: "CREATE TABLE t (id serial PRIMARY KEY);",
        quiet: "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
    },
    Case {
        rule: "mysql-algorithm-copy",
        engine: M,
        fires: "ALTER TABLE t ADD COLUMN c int, ALGORITHM=COPY;",
        quiet: "ALTER TABLE t ADD COLUMN c int, ALGORITHM=INSTANT;",
    },
    Case {
        rule: "mysql-locking-alter",
        engine: M,
        fires: "ALTER TABLE t ADD COLUMN c int, LOCK=EXCLUSIVE;",
        quiet: "ALTER TABLE t ADD COLUMN c int, LOCK=NONE;",
    },
];

fn script(sql: &str) -> covet_migrate::Script {
    let files = [("0001_x.up.sql", format!("-- covet:irreversible\n{sql}"))];
    let pairs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    Migrations::from_files(&pairs)
        .unwrap()
        .get(1)
        .unwrap()
        .up
        .clone()
}

fn rules(engine: Engine, sql: &str, options: LintOptions) -> Vec<&'static str> {
    lint_script(engine, &script(sql), options)
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

#[test]
fn each_rule_fires_and_stays_quiet() {
    for c in CASES {
        let got = rules(c.engine, c.fires, LintOptions::default());
        assert!(
            got.contains(&c.rule),
            "{} should fire on {:?}, got {got:?}",
            c.rule,
            c.fires
        );
        let got = rules(c.engine, c.quiet, LintOptions::default());
        assert!(
            !got.contains(&c.rule),
            "{} should not fire on {:?}, got {got:?}",
            c.rule,
            c.quiet
        );
    }
}

#[test]
fn missing_lock_timeout_fires_only_without_one() {
    let off = LintOptions {
        runner_sets_lock_timeout: false,
    };
    let sql = "ALTER TABLE t ADD COLUMN c int;";
    assert!(rules(P, sql, off).contains(&"missing-lock-timeout"));
    assert!(!rules(P, sql, LintOptions::default()).contains(&"missing-lock-timeout"));
    let with = "SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN c int;";
    assert!(!rules(P, with, off).contains(&"missing-lock-timeout"));
}

#[test]
fn every_rule_has_cases() {
    for r in RULES {
        let covered = r.name == "missing-lock-timeout" || CASES.iter().any(|c| c.rule == r.name);
        assert!(covered, "rule {} has no firing / quiet case", r.name);
    }
}

#[test]
fn allow_silences_one_rule_and_findings_say_what_to_do() {
    let sql = "ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE t DROP COLUMN c;";
    let f = lint_script(P, &script(sql), LintOptions::default());
    let renamed = f.iter().find(|f| f.rule == "renaming-column").unwrap();
    assert_eq!(renamed.statement, 1);
    let text = renamed.to_string();
    assert!(
        text.contains("RENAME COLUMN a TO b") && text.contains("Safe alternative: expand/contract"),
        "{text}"
    );
    let allowed = format!("-- covet:allow(renaming-column) nothing reads t.a since v3\n{sql}");
    let got = rules(P, &allowed, LintOptions::default());
    assert_eq!(got, ["dropping-column"]);
}

#[test]
fn rules_do_not_fire_on_other_engines() {
    // PostgreSQL-only rules stay quiet on SQLite.
    assert!(rules(S, "CREATE INDEX i ON t (c);", LintOptions::default()).is_empty());
}
