//! `make`: a migration from covet-orm models, by difference with the schema
//! the existing migrations produce (as Django's makemigrations and
//! Alembic's autogenerate do).
//!
//! Both sides are real schemas read by introspection, so types compare as
//! the server spells them: the migrations are applied to one scratch
//! database, the models' own CREATE TABLE to another. A new table is
//! created with the ORM's statements exactly; other changes are written as
//! ALTER statements from the introspected definitions. What cannot be
//! written safely (a NOT NULL column without a default on a table with
//! rows, a type change, anything SQLite cannot ALTER) is a warning.
//!
//! The models live in the application, so this is a library call the
//! application wires into a binary of its own; the `covet` CLI cannot load
//! them.

use std::collections::{HashMap, HashSet};

use covet::orm::{Model, ModelMeta, ddl};
use covet_core::{
    ColumnInfo, DatabaseUrl, Dialect, Engine, PasswordSources, Schema, Statement, Table,
};

use crate::error::Result;
use crate::runner::{MigrateOptions, Migrator};
use crate::source::Migrations;
use crate::verify::Scratch;

/// One covet-orm model, as `make` needs it: `ModelEntry::of::<User>()`.
#[derive(Clone, Copy)]
pub struct ModelEntry {
    meta: fn() -> &'static ModelMeta,
    create: fn(Dialect) -> Vec<Statement>,
}

impl std::fmt::Debug for ModelEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelEntry")
            .field("table", &(self.meta)().table)
            .finish()
    }
}

impl ModelEntry {
    /// The entry for model `M`.
    pub fn of<M: Model>() -> Self {
        ModelEntry {
            meta: M::meta,
            create: ddl::create_table_sql::<M>,
        }
    }
}

/// What `make` wrote (or would write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    /// The up migration's SQL (empty when nothing changed).
    pub up: String,
    /// The down migration's SQL.
    pub down: String,
    /// Changes that need a person: a data step, or what was not written.
    pub warnings: Vec<String>,
}

impl Made {
    /// Whether there is nothing to migrate.
    pub fn is_empty(&self) -> bool {
        self.up.is_empty()
    }
}

/// Compares `models` with the schema `migrations` produce, on scratch
/// databases beside `url` (created and dropped), and returns the up and down
/// SQL that bring the migrations to the models.
pub async fn make(
    url: &DatabaseUrl,
    sources: &PasswordSources,
    migrations: &Migrations,
    models: &[ModelEntry],
    options: MigrateOptions,
) -> Result<Made> {
    let engine = url.engine();
    let table = options.table.clone();
    let current = {
        let scratch = Scratch::create(url, sources, "make").await?;
        let r = migrated_schema(&scratch.url, sources, migrations, options).await;
        scratch.drop().await?;
        r?
    };
    let wanted = {
        let scratch = Scratch::create(url, sources, "make").await?;
        let r = model_schema(&scratch.url, sources, models).await;
        scratch.drop().await?;
        r?
    };
    Ok(plan(engine, &current, &wanted, models, &table))
}

async fn migrated_schema(
    url: &DatabaseUrl,
    sources: &PasswordSources,
    migrations: &Migrations,
    mut options: MigrateOptions,
) -> Result<Schema> {
    options.lint = false;
    Migrator::new(url.clone(), migrations.clone())
        .options(options)
        .password_sources(sources.clone())
        .up()
        .await?;
    let db = covet::connect_with(url.clone(), sources).await?;
    let s = db.schema().await;
    db.close().await;
    Ok(s?)
}

async fn model_schema(
    url: &DatabaseUrl,
    sources: &PasswordSources,
    models: &[ModelEntry],
) -> Result<Schema> {
    let db = covet::connect_with(url.clone(), sources).await?;
    let r = async {
        for m in ordered(models) {
            for stmt in (m.create)(db.dialect()) {
                db.execute(&stmt).await?;
            }
        }
        Ok(db.schema().await?)
    }
    .await;
    db.close().await;
    r
}

/// Models with every referenced model before the ones referencing it.
fn ordered(models: &[ModelEntry]) -> Vec<ModelEntry> {
    let mut out: Vec<ModelEntry> = Vec::with_capacity(models.len());
    let mut placed: HashSet<&str> = HashSet::new();
    let mut left: Vec<ModelEntry> = models.to_vec();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|m| {
            let meta = (m.meta)();
            let ready = meta.columns.iter().all(|c| {
                c.references.as_ref().is_none_or(|r| {
                    let t = (r.meta)().table;
                    t == meta.table
                        || placed.contains(t)
                        || !models.iter().any(|o| (o.meta)().table == t)
                })
            });
            if ready {
                placed.insert(meta.table);
                out.push(*m);
            }
            !ready
        });
        if left.len() == before {
            // A reference cycle: keep the given order for the rest.
            out.append(&mut left);
        }
    }
    out
}

struct Sql {
    engine: Engine,
    up: Vec<String>,
    down: Vec<String>,
    warnings: Vec<String>,
}

impl Sql {
    fn q(&self, name: &str) -> String {
        if self.engine == Engine::MySql {
            format!("`{}`", name.replace('`', "``"))
        } else {
            format!("\"{}\"", name.replace('"', "\"\""))
        }
    }

    fn column_def(&self, c: &ColumnInfo) -> String {
        let mut s = format!("{} {}", self.q(&c.name), c.data_type);
        if !c.nullable {
            s.push_str(" NOT NULL");
        }
        if let Some(d) = &c.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        s
    }

    fn drop_index(&self, table: &str, index: &str) -> String {
        if self.engine == Engine::MySql {
            format!("DROP INDEX {} ON {}", self.q(index), self.q(table))
        } else {
            format!("DROP INDEX {}", self.q(index))
        }
    }

    fn create_index(&self, table: &str, i: &covet_core::Index) -> String {
        let cols: Vec<String> = i.columns.iter().map(|c| self.q(c)).collect();
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if i.unique { "UNIQUE " } else { "" },
            self.q(&i.name),
            self.q(table),
            cols.join(", ")
        )
    }
}

fn plan(
    engine: Engine,
    current: &Schema,
    wanted: &Schema,
    models: &[ModelEntry],
    migrations_table: &str,
) -> Made {
    let mut sql = Sql {
        engine,
        up: Vec::new(),
        down: Vec::new(),
        warnings: Vec::new(),
    };
    let dialect = engine.dialect();
    let by_table: HashMap<&str, ModelEntry> =
        models.iter().map(|m| ((m.meta)().table, *m)).collect();
    // New tables: the ORM's own statements for a model, else CREATE TABLE
    // from the wanted schema; in reference order, dropped in reverse.
    let mut drops = Vec::new();
    if models.is_empty() {
        for t in tables_in_reference_order(wanted) {
            if current.table(&t.name).is_none() && !t.name.eq_ignore_ascii_case(migrations_table) {
                create_from_schema(&mut sql, t);
                drops.push(format!("DROP TABLE {}", sql.q(&t.name)));
            }
        }
    }
    for m in ordered(models) {
        let t = (m.meta)().table;
        if current.table(t).is_none() {
            for s in (m.create)(dialect) {
                sql.up.push(s.sql().to_owned());
            }
            drops.push(format!("DROP TABLE {}", sql.q(t)));
        }
    }
    for t in &current.tables {
        if t.name.eq_ignore_ascii_case(migrations_table) {
            continue;
        }
        match wanted.table(&t.name) {
            None => sql.warnings.push(format!(
                "table {} is not in the target: not dropped (drop it by hand once nothing uses it)",
                t.name
            )),
            Some(w) if models.is_empty() || by_table.contains_key(w.name.as_str()) => {
                alter(&mut sql, t, w);
            }
            Some(_) => {}
        }
    }
    drops.reverse();
    let mut down: Vec<String> = sql.down.drain(..).rev().collect();
    down.extend(drops);
    let join = |v: &[String]| {
        if v.is_empty() {
            String::new()
        } else {
            format!("{};\n", v.join(";\n"))
        }
    };
    let mut up = join(&sql.up);
    if !sql.warnings.is_empty() && !up.is_empty() {
        let notes: String = sql
            .warnings
            .iter()
            .map(|w| format!("-- make: {w}\n"))
            .collect();
        up = format!("{notes}{up}");
    }
    Made {
        up,
        down: join(&down),
        warnings: sql.warnings,
    }
}

/// Tables with the ones they reference first (a cycle keeps the given order).
fn tables_in_reference_order(schema: &Schema) -> Vec<&Table> {
    let mut out: Vec<&Table> = Vec::new();
    let mut left: Vec<&Table> = schema.tables.iter().collect();
    while !left.is_empty() {
        let before = left.len();
        let placed: HashSet<String> = out.iter().map(|t| t.name.clone()).collect();
        let (ready, rest): (Vec<&Table>, Vec<&Table>) = left.into_iter().partition(|t| {
            t.foreign_keys.iter().all(|f| {
                f.referenced_table == t.name
                    || placed.contains(&f.referenced_table)
                    || schema.table(&f.referenced_table).is_none()
            })
        });
        out.extend(ready);
        left = rest;
        if left.len() == before {
            out.append(&mut left);
        }
    }
    out
}

fn auto_index(engine: Engine, name: &str) -> bool {
    engine == Engine::Sqlite && name.starts_with("sqlite_autoindex_")
}

/// CREATE TABLE (and its indexes) from an introspected table.
fn create_from_schema(sql: &mut Sql, t: &Table) {
    let single_auto_pk = t.primary_key.len() == 1
        && t.column(&t.primary_key[0])
            .is_some_and(|c| c.auto_increment);
    let mut parts: Vec<String> = Vec::new();
    for c in &t.columns {
        let key = single_auto_pk && c.name == t.primary_key[0];
        let mut d = format!("{} ", sql.q(&c.name));
        if key && sql.engine == Engine::Sqlite {
            // The rowid alias: exactly this spelling.
            d.push_str("INTEGER PRIMARY KEY");
            parts.push(d);
            continue;
        }
        d.push_str(&c.data_type);
        if c.auto_increment && sql.engine == Engine::Postgres {
            // A serial's nextval default names a sequence of the source
            // database: an identity column makes its own.
            d.push_str(" GENERATED BY DEFAULT AS IDENTITY");
        } else if let Some(def) = &c.default {
            d.push_str(" DEFAULT ");
            d.push_str(def);
        }
        if !c.nullable {
            d.push_str(" NOT NULL");
        }
        if c.auto_increment && sql.engine == Engine::MySql {
            d.push_str(" AUTO_INCREMENT");
        }
        parts.push(d);
    }
    let key_inline = single_auto_pk && sql.engine == Engine::Sqlite;
    if !t.primary_key.is_empty() && !key_inline {
        let cols: Vec<String> = t.primary_key.iter().map(|c| sql.q(c)).collect();
        parts.push(format!("PRIMARY KEY ({})", cols.join(", ")));
    }
    for f in &t.foreign_keys {
        let cols: Vec<String> = f.columns.iter().map(|c| sql.q(c)).collect();
        let rcols: Vec<String> = f.referenced_columns.iter().map(|c| sql.q(c)).collect();
        let name = if f.name.is_empty() {
            String::new()
        } else {
            format!("CONSTRAINT {} ", sql.q(&f.name))
        };
        parts.push(format!(
            "{name}FOREIGN KEY ({}) REFERENCES {} ({})",
            cols.join(", "),
            sql.q(&f.referenced_table),
            rcols.join(", ")
        ));
    }
    // SQLite names the index of a UNIQUE constraint itself (and refuses
    // that name in CREATE INDEX): the constraint makes the same index.
    for i in t.indexes.iter().filter(|i| auto_index(sql.engine, &i.name)) {
        let cols: Vec<String> = i.columns.iter().map(|c| sql.q(c)).collect();
        parts.push(format!("UNIQUE ({})", cols.join(", ")));
    }
    sql.up.push(format!(
        "CREATE TABLE {} (\n  {}\n)",
        sql.q(&t.name),
        parts.join(",\n  ")
    ));
    for i in t
        .indexes
        .iter()
        .filter(|i| !auto_index(sql.engine, &i.name))
    {
        sql.up.push(sql.create_index(&t.name, i));
    }
}

fn alter(sql: &mut Sql, cur: &Table, want: &Table) {
    let t = &cur.name;
    let qt = sql.q(t);
    for w in &want.columns {
        match cur.column(&w.name) {
            None => {
                sql.up
                    .push(format!("ALTER TABLE {qt} ADD COLUMN {}", sql.column_def(w)));
                sql.down
                    .push(format!("ALTER TABLE {qt} DROP COLUMN {}", sql.q(&w.name)));
                if !w.nullable && w.default.is_none() {
                    sql.warnings.push(format!(
                        "{t}.{} is NOT NULL without a default: on a table with rows add it nullable, backfill, then set NOT NULL",
                        w.name
                    ));
                }
            }
            Some(c) if c != w => change_column(sql, t, c, w),
            Some(_) => {}
        }
    }
    for c in &cur.columns {
        if want.column(&c.name).is_none() {
            sql.up
                .push(format!("ALTER TABLE {qt} DROP COLUMN {}", sql.q(&c.name)));
            sql.down
                .push(format!("ALTER TABLE {qt} ADD COLUMN {}", sql.column_def(c)));
            sql.warnings.push(format!(
                "{t}.{} is dropped: its data is lost, and running clients must stop using it first",
                c.name
            ));
        }
    }
    if cur.primary_key != want.primary_key {
        sql.warnings.push(format!(
            "the primary key of {t} changed ({} -> {}): not written, it needs a table rebuild",
            cur.primary_key.join(", "),
            want.primary_key.join(", ")
        ));
    }
    for w in &want.indexes {
        if auto_index(sql.engine, &w.name) {
            if !cur.indexes.contains(w) {
                sql.warnings.push(format!(
                    "a UNIQUE constraint on {t}({}): SQLite cannot add one to an existing table (rebuild it, or use a unique index)",
                    w.columns.join(", ")
                ));
            }
            continue;
        }
        match cur.indexes.iter().find(|i| i.name == w.name) {
            Some(i) if i == w => {}
            found => {
                if found.is_some() {
                    sql.up.push(sql.drop_index(t, &w.name));
                }
                sql.up.push(sql.create_index(t, w));
                sql.down.push(sql.drop_index(t, &w.name));
                if let Some(i) = found {
                    sql.down.push(sql.create_index(t, i));
                }
            }
        }
    }
    for i in cur
        .indexes
        .iter()
        .filter(|i| !auto_index(sql.engine, &i.name))
    {
        if !want.indexes.iter().any(|w| w.name == i.name) {
            sql.up.push(sql.drop_index(t, &i.name));
            sql.down.push(sql.create_index(t, i));
        }
    }
    let key = |f: &covet_core::ForeignKey| {
        (
            f.columns.clone(),
            f.referenced_table.clone(),
            f.referenced_columns.clone(),
        )
    };
    for f in &want.foreign_keys {
        if cur.foreign_keys.iter().any(|c| key(c) == key(f)) {
            continue;
        }
        if sql.engine == Engine::Sqlite {
            sql.warnings.push(format!(
                "foreign key {t}({}) -> {}: SQLite cannot add one to an existing table (rebuild it)",
                f.columns.join(", "),
                f.referenced_table
            ));
            continue;
        }
        let cols: Vec<String> = f.columns.iter().map(|c| sql.q(c)).collect();
        let rcols: Vec<String> = f.referenced_columns.iter().map(|c| sql.q(c)).collect();
        sql.up.push(format!(
            "ALTER TABLE {qt} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
            sql.q(&f.name),
            cols.join(", "),
            sql.q(&f.referenced_table),
            rcols.join(", ")
        ));
        let drop = if sql.engine == Engine::MySql {
            "DROP FOREIGN KEY"
        } else {
            "DROP CONSTRAINT"
        };
        sql.down
            .push(format!("ALTER TABLE {qt} {drop} {}", sql.q(&f.name)));
    }
    for f in &cur.foreign_keys {
        if !want.foreign_keys.iter().any(|w| key(w) == key(f)) {
            sql.warnings.push(format!(
                "foreign key {t}({}) -> {} has no model field: not dropped",
                f.columns.join(", "),
                f.referenced_table
            ));
        }
    }
}

fn change_column(sql: &mut Sql, t: &str, c: &ColumnInfo, w: &ColumnInfo) {
    let qt = sql.q(t);
    let qc = sql.q(&c.name);
    match sql.engine {
        Engine::Postgres => {
            if c.data_type != w.data_type {
                sql.up.push(format!(
                    "ALTER TABLE {qt} ALTER COLUMN {qc} TYPE {}",
                    w.data_type
                ));
                sql.down.push(format!(
                    "ALTER TABLE {qt} ALTER COLUMN {qc} TYPE {}",
                    c.data_type
                ));
                sql.warnings.push(format!(
                    "{t}.{} changes type ({} -> {}): this rewrites the table; consider expand/contract",
                    c.name, c.data_type, w.data_type
                ));
            }
            if c.nullable != w.nullable {
                let (to, back) = if w.nullable {
                    ("DROP NOT NULL", "SET NOT NULL")
                } else {
                    ("SET NOT NULL", "DROP NOT NULL")
                };
                sql.up
                    .push(format!("ALTER TABLE {qt} ALTER COLUMN {qc} {to}"));
                sql.down
                    .push(format!("ALTER TABLE {qt} ALTER COLUMN {qc} {back}"));
                if !w.nullable {
                    sql.warnings.push(format!(
                        "{t}.{} becomes NOT NULL: backfill NULLs first (a data step)",
                        c.name
                    ));
                }
            }
            if c.default != w.default {
                let set = |d: &Option<String>| match d {
                    Some(d) => format!("ALTER TABLE {qt} ALTER COLUMN {qc} SET DEFAULT {d}"),
                    None => format!("ALTER TABLE {qt} ALTER COLUMN {qc} DROP DEFAULT"),
                };
                sql.up.push(set(&w.default));
                sql.down.push(set(&c.default));
            }
        }
        Engine::MySql => {
            sql.up.push(format!(
                "ALTER TABLE {qt} MODIFY COLUMN {}",
                sql.column_def(w)
            ));
            sql.down.push(format!(
                "ALTER TABLE {qt} MODIFY COLUMN {}",
                sql.column_def(c)
            ));
            sql.warnings.push(format!(
                "{t}.{} changes definition: MODIFY COLUMN may copy the table",
                c.name
            ));
        }
        _ => sql.warnings.push(format!(
            "{t}.{} changes ({} {} -> {} {}): SQLite cannot alter a column; rebuild the table",
            c.name,
            c.data_type,
            if c.nullable { "NULL" } else { "NOT NULL" },
            w.data_type,
            if w.nullable { "NULL" } else { "NOT NULL" },
        )),
    }
}

/// [`make`] against a database instead of models: the migrations are
/// brought to the schema of `target` (read only; for example a development
/// database the ORM's create-table made), with new tables written as
/// CREATE TABLE from its introspected definition. This is what `covet
/// migrate make --target-db URL` runs.
pub async fn make_from_database(
    url: &DatabaseUrl,
    target: &DatabaseUrl,
    sources: &PasswordSources,
    migrations: &Migrations,
    options: MigrateOptions,
) -> Result<Made> {
    let table = options.table.clone();
    let wanted = {
        let db = covet::connect_with(target.clone(), sources).await?;
        let s = db.schema().await;
        db.close().await;
        s?
    };
    let current = {
        let scratch = Scratch::create(url, sources, "make").await?;
        let r = migrated_schema(&scratch.url, sources, migrations, options).await;
        scratch.drop().await?;
        r?
    };
    Ok(plan(url.engine(), &current, &wanted, &[], &table))
}

/// Writes `made` as the next migration in `dir` (`NNNN_name.up.sql` and
/// `.down.sql`) and returns the up file's path; `None` when there is
/// nothing to migrate.
pub fn write_made(
    dir: impl AsRef<std::path::Path>,
    name: &str,
    made: &Made,
) -> Result<Option<std::path::PathBuf>> {
    if made.is_empty() {
        return Ok(None);
    }
    let (up, down) = crate::source::new_migration(dir, name)?;
    for (path, text) in [(&up, &made.up), (&down, &made.down)] {
        std::fs::write(path, text).map_err(|source| crate::MigrateError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(Some(up))
}
