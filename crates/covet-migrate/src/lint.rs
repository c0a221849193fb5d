//! Lint rules for dangerous DDL, in the spirit of squawk and
//! strong_migrations: each finding names the rule, the statement and the
//! safe alternative. Statements are parsed with sqlparser (pure Rust, one
//! parser for the three dialects, maintained by Apache DataFusion); a
//! statement it cannot parse is itself a finding (`unparsed-statement`),
//! so nothing is waved through unread.
//!
//! A table created earlier in the same file is new and empty, so the rules
//! about rewriting or locking an existing table do not fire on it.

use std::collections::HashSet;
use std::fmt;

use covet_core::Engine;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableAlgorithm, AlterTableLock, AlterTableOperation, ColumnDef,
    ColumnOption, ObjectName, ObjectType, Statement, TableConstraint,
};
use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

use crate::source::{Migration, Script};
use crate::split::split;

/// A lint rule: its name (used in findings and `-- covet:allow(name)`),
/// the engines it applies to, and the safe way to do what it flags.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The rule's name.
    pub name: &'static str,
    /// Engines it checks.
    pub engines: &'static [Engine],
    /// What it catches.
    pub summary: &'static str,
    /// The safe alternative.
    pub fix: &'static str,
}

const ALL: &[Engine] = &[Engine::Postgres, Engine::MySql, Engine::Sqlite];
const PG: &[Engine] = &[Engine::Postgres];
const MY: &[Engine] = &[Engine::MySql];

/// Every rule.
pub const RULES: &[Rule] = &[
    Rule {
        name: "unparsed-statement",
        engines: ALL,
        summary: "the SQL parser could not read the statement, so no rule checked it",
        fix: "check it by hand, then allow it with `-- covet:allow(unparsed-statement) reason`",
    },
    Rule {
        name: "adding-volatile-default",
        engines: PG,
        summary: "ADD COLUMN with a volatile DEFAULT rewrites the whole table under an ACCESS EXCLUSIVE lock",
        fix: "add the column without a default, SET DEFAULT in a second statement, then backfill existing rows in batches",
    },
    Rule {
        name: "adding-required-column",
        engines: &[Engine::Postgres, Engine::Sqlite],
        summary: "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows",
        fix: "add the column nullable (or with a constant DEFAULT), backfill, then add NOT NULL the safe way",
    },
    Rule {
        name: "setting-not-null",
        engines: PG,
        summary: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        fix: "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c (in an earlier migration or statement); then SET NOT NULL uses the validated check and skips the scan; drop the check after",
    },
    Rule {
        name: "non-concurrent-index",
        engines: PG,
        summary: "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
        fix: "CREATE INDEX CONCURRENTLY in a migration marked `-- covet:no-transaction`",
    },
    Rule {
        name: "concurrent-index-in-transaction",
        engines: PG,
        summary: "CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
        fix: "mark the file `-- covet:no-transaction` and keep the index alone in it",
    },
    Rule {
        name: "changing-column-type",
        engines: &[Engine::Postgres, Engine::MySql],
        summary: "changing a column's type rewrites the table (and its indexes) under a lock that blocks reads and writes",
        fix: "expand/contract: add a new column of the new type, write both, backfill in batches, switch readers, then drop the old column",
    },
    Rule {
        name: "renaming-column",
        engines: ALL,
        summary: "renaming a column breaks every running client that still uses the old name",
        fix: "expand/contract: add the new column, write both, backfill, move readers, then drop the old column in a later release",
    },
    Rule {
        name: "renaming-table",
        engines: ALL,
        summary: "renaming a table breaks every running client that still uses the old name",
        fix: "create the new table (or a view under the new name), move clients over, then drop the old name in a later release",
    },
    Rule {
        name: "dropping-column",
        engines: ALL,
        summary: "dropping a column breaks running clients that still read or write it",
        fix: "stop using the column in a release first (ORM: ignore the field), then drop it in a later migration",
    },
    Rule {
        name: "dropping-table",
        engines: ALL,
        summary: "dropping a table breaks running clients that still use it, and loses its data",
        fix: "stop using the table in a release first, back it up, then drop it in a later migration",
    },
    Rule {
        name: "constraint-missing-not-valid",
        engines: PG,
        summary: "ADD FOREIGN KEY / CHECK validates every row while holding a lock that blocks writes",
        fix: "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a separate statement or migration",
    },
    Rule {
        name: "missing-lock-timeout",
        engines: PG,
        summary: "DDL on an existing table without lock_timeout can queue every query behind its lock",
        fix: "keep the runner's lock_timeout on, or `SET lock_timeout = '5s';` at the top of the file",
    },
    Rule {
        name: "prefer-identity",
        engines: PG,
        summary: "serial types create a sequence with loose ownership and permissions",
        fix: "use `bigint GENERATED ALWAYS AS IDENTITY` (or BY DEFAULT)",
    },
    Rule {
        name: "mysql-algorithm-copy",
        engines: MY,
        summary: "ALGORITHM=COPY rebuilds the table and blocks writes for the whole copy",
        fix: "use ALGORITHM=INSTANT or INPLACE (the server refuses if it cannot), or an online schema-change tool",
    },
    Rule {
        name: "mysql-locking-alter",
        engines: MY,
        summary: "LOCK=EXCLUSIVE (or SHARED) blocks reads (or writes) for the whole ALTER",
        fix: "use LOCK=NONE so the server refuses an ALTER it cannot do online",
    },
];

/// What the linter should assume about how the migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintOptions {
    /// The runner sets `lock_timeout` itself (the default): then
    /// `missing-lock-timeout` does not fire.
    pub runner_sets_lock_timeout: bool,
}

impl Default for LintOptions {
    fn default() -> Self {
        LintOptions {
            runner_sets_lock_timeout: true,
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule that fired.
    pub rule: &'static str,
    /// The file.
    pub file: String,
    /// The statement's position in the file, from 1.
    pub statement: usize,
    /// The statement, on one line, shortened.
    pub sql: String,
    /// The safe alternative.
    pub fix: &'static str,
    /// What is wrong.
    pub summary: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} statement {} [{}] {}: `{}`. Safe alternative: {}",
            self.file, self.statement, self.rule, self.summary, self.sql, self.fix
        )
    }
}

/// Lints the up scripts of `migrations` (down scripts undo, so they drop
/// what the up created: linting them would only make noise).
pub fn lint<'a>(
    engine: Engine,
    migrations: impl IntoIterator<Item = &'a Migration>,
    options: LintOptions,
) -> Vec<Finding> {
    migrations
        .into_iter()
        .flat_map(|m| lint_script(engine, &m.up, options))
        .collect()
}

struct Ctx<'a> {
    engine: Engine,
    script: &'a Script,
    options: LintOptions,
    created: HashSet<String>,
    validated: HashSet<String>,
    lock_timeout_set: bool,
    out: Vec<Finding>,
    index: usize,
    sql: String,
}

/// Lints one script.
pub fn lint_script(engine: Engine, script: &Script, options: LintOptions) -> Vec<Finding> {
    let dialect: Box<dyn Dialect> = match engine {
        Engine::MySql => Box::new(MySqlDialect {}),
        Engine::Sqlite => Box::new(SQLiteDialect {}),
        _ => Box::new(PostgreSqlDialect {}),
    };
    let mut cx = Ctx {
        engine,
        script,
        options,
        created: HashSet::new(),
        validated: HashSet::new(),
        lock_timeout_set: false,
        out: Vec::new(),
        index: 0,
        sql: String::new(),
    };
    for (i, text) in split(&script.sql, engine).iter().enumerate() {
        cx.index = i + 1;
        cx.sql = shorten(crate::split::code(text));
        let lower = crate::split::code(text).to_ascii_lowercase();
        if lower.starts_with("set ") && lower.contains("lock_timeout") {
            cx.lock_timeout_set = true;
        }
        match Parser::parse_sql(dialect.as_ref(), text) {
            Ok(stmts) => {
                for s in &stmts {
                    cx.statement(s);
                }
            }
            Err(_) => cx.fire("unparsed-statement"),
        }
    }
    cx.out
}

fn shorten(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 100 {
        let cut: String = one.chars().take(97).collect();
        format!("{cut}...")
    } else {
        one
    }
}

fn table_name(n: &ObjectName) -> String {
    let s = n.to_string();
    let last = s.rsplit('.').next().unwrap_or(&s);
    last.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        .to_ascii_lowercase()
}

const VOLATILE: &[&str] = &[
    "random(",
    "gen_random_uuid(",
    "uuid_generate_v",
    "clock_timestamp(",
    "timeofday(",
    "nextval(",
    "txid_current(",
    "statement_timestamp(",
];

impl Ctx<'_> {
    fn fire(&mut self, rule: &'static str) {
        let Some(r) = RULES.iter().find(|r| r.name == rule) else {
            return;
        };
        if !r.engines.contains(&self.engine) || self.script.allow.iter().any(|a| a.rule == rule) {
            return;
        }
        self.out.push(Finding {
            rule,
            file: self.script.file.clone(),
            statement: self.index,
            sql: self.sql.clone(),
            fix: r.fix,
            summary: r.summary,
        });
    }

    fn existing(&self, table: &str) -> bool {
        !self.created.contains(table)
    }

    fn ddl_on_existing(&mut self, table: &str) {
        if self.existing(table) && !self.options.runner_sets_lock_timeout && !self.lock_timeout_set
        {
            self.fire("missing-lock-timeout");
        }
    }

    fn statement(&mut self, s: &Statement) {
        match s {
            Statement::CreateTable(ct) => {
                for c in &ct.columns {
                    self.column_type(c);
                }
                self.created.insert(table_name(&ct.name));
            }
            Statement::CreateIndex(ci) => {
                let t = table_name(&ci.table_name);
                if ci.concurrently && !self.script.no_transaction {
                    self.fire("concurrent-index-in-transaction");
                }
                if !ci.concurrently && self.existing(&t) {
                    self.fire("non-concurrent-index");
                }
                self.ddl_on_existing(&t);
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                ..
            } if names.iter().any(|n| self.existing(&table_name(n))) => {
                self.fire("dropping-table");
            }
            Statement::RenameTable(_) => self.fire("renaming-table"),
            Statement::AlterTable {
                name, operations, ..
            } => {
                let t = table_name(name);
                self.ddl_on_existing(&t);
                for op in operations {
                    self.alter(&t, op);
                }
            }
            _ => {}
        }
    }

    fn column_type(&mut self, c: &ColumnDef) {
        let ty = c.data_type.to_string().to_ascii_uppercase();
        if matches!(
            ty.as_str(),
            "SERIAL" | "BIGSERIAL" | "SMALLSERIAL" | "SERIAL2" | "SERIAL4" | "SERIAL8"
        ) {
            self.fire("prefer-identity");
        }
    }

    fn alter(&mut self, t: &str, op: &AlterTableOperation) {
        let existing = self.existing(t);
        match op {
            AlterTableOperation::AddColumn { column_def, .. } => {
                self.column_type(column_def);
                let mut default = None;
                let mut not_null = false;
                for o in &column_def.options {
                    match &o.option {
                        ColumnOption::Default(e) => default = Some(e.to_string().to_lowercase()),
                        ColumnOption::NotNull => not_null = true,
                        _ => {}
                    }
                }
                if let Some(d) = &default
                    && existing
                    && VOLATILE.iter().any(|v| d.contains(v))
                {
                    self.fire("adding-volatile-default");
                }
                if existing && not_null && default.is_none() {
                    self.fire("adding-required-column");
                }
            }
            AlterTableOperation::AlterColumn { op, .. } if existing => match op {
                AlterColumnOperation::SetNotNull if !self.validated.contains(t) => {
                    self.fire("setting-not-null");
                }
                AlterColumnOperation::SetDataType { .. } => self.fire("changing-column-type"),
                _ => {}
            },
            AlterTableOperation::ModifyColumn { .. } if existing => {
                self.fire("changing-column-type");
            }
            AlterTableOperation::ChangeColumn {
                old_name, new_name, ..
            } => {
                if old_name.value != new_name.value {
                    self.fire("renaming-column");
                }
                if existing {
                    self.fire("changing-column-type");
                }
            }
            AlterTableOperation::RenameColumn { .. } => self.fire("renaming-column"),
            AlterTableOperation::RenameTable { .. } => self.fire("renaming-table"),
            AlterTableOperation::DropColumn { .. } if existing => self.fire("dropping-column"),
            AlterTableOperation::AddConstraint {
                constraint,
                not_valid,
            } if existing && !not_valid => {
                if matches!(
                    constraint,
                    TableConstraint::ForeignKey { .. } | TableConstraint::Check { .. }
                ) {
                    self.fire("constraint-missing-not-valid");
                }
            }
            AlterTableOperation::ValidateConstraint { .. } => {
                self.validated.insert(t.to_owned());
            }
            AlterTableOperation::Algorithm {
                algorithm: AlterTableAlgorithm::Copy,
                ..
            } => self.fire("mysql-algorithm-copy"),
            AlterTableOperation::Lock {
                lock: AlterTableLock::Exclusive | AlterTableLock::Shared,
                ..
            } => self.fire("mysql-locking-alter"),
            _ => {}
        }
    }
}
