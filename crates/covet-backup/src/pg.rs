//! PostgreSQL backups (format version 2): the schema read from the
//! server's own catalog functions, in the order a restore must run it, and
//! each table's rows as the server's own `COPY ... TO STDOUT` text.
//!
//! The text format is the one pg_dump uses: it is portable across server
//! versions and CPU architectures (the binary format of some types is
//! not), every row ends in one newline (data newlines are escaped), so a
//! chunk can end on a row boundary and rows can be counted and checksummed
//! without parsing, and `export --format sql` can print it as it is. The
//! session settings that shape the text (dates, intervals, floats, bytea,
//! search path) are pinned on both sides.

use covet_core::{Statement, Transaction, Value};
use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};

/// A backup's PostgreSQL catalog: what a restore runs around the data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgCatalog {
    /// Statements run before the data (schemas, extensions, types,
    /// functions, sequences, tables, views, defaults, partitions), in order.
    pub pre_data: Vec<PgObject>,
    /// Statements run after the data (constraints, indexes, triggers,
    /// policies, comments, sequence positions, materialized view refreshes),
    /// in order.
    pub post_data: Vec<PgObject>,
    /// For each entry of [`BackupSchema::tables`](crate::BackupSchema), where
    /// its rows go.
    pub tables: Vec<PgCopyTable>,
    /// Each restorable object's owner and privileges, as the source had
    /// them (empty in backups written before they were recorded). A
    /// restore applies them only when asked
    /// ([`RestoreOptions::owners`](crate::RestoreOptions::owners),
    /// [`RestoreOptions::grants`](crate::RestoreOptions::grants)).
    #[serde(default)]
    pub access: Vec<PgAccess>,
}

/// Who owns one catalog object and who may use it. Role names only: no
/// role's definition, membership or password is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgAccess {
    /// Its kind: `schema`, `type`, `domain`, `function`, `procedure`,
    /// `aggregate`, `table`, `view`, `materialized view` or `sequence`.
    pub kind: String,
    /// Its qualified, quoted name (with the argument types for routines),
    /// as the catalog's statements name it.
    pub name: String,
    /// The owning role.
    pub owner: String,
    /// Its access control list in the server's order; `None` when the
    /// object has the built-in default privileges (a NULL ACL), which a
    /// restore then leaves alone.
    #[serde(default)]
    pub acl: Option<Vec<PgGrant>>,
    /// Column privileges of a table, view or materialized view, for the
    /// columns that have any, in column order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<PgColumnAcl>,
}

/// One column's access control list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgColumnAcl {
    /// The column's name (unquoted).
    pub column: String,
    /// Its entries, in the server's order.
    pub acl: Vec<PgGrant>,
}

/// One entry of an access control list: what `grantor` gave `grantee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgGrant {
    /// The role given the privileges; `None` for PUBLIC.
    pub grantee: Option<String>,
    /// The role that gave them.
    pub grantor: String,
    /// The privileges, as `GRANT` spells them (`SELECT`, `EXECUTE`, ...).
    pub privileges: Vec<String>,
    /// Those of `privileges` given WITH GRANT OPTION.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grantable: Vec<String>,
}

/// One catalog object and the statement that recreates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgObject {
    /// Its kind (`table`, `function`, `index`, ...).
    pub kind: String,
    /// Its qualified, quoted name.
    pub name: String,
    /// The statement.
    pub sql: String,
}

/// A table whose rows the backup holds, as COPY text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgCopyTable {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// The columns copied, in order (generated columns are left out: the
    /// server computes them again).
    pub columns: Vec<String>,
}

impl PgCopyTable {
    fn target(&self) -> String {
        let q = |s: &str| covet_core::Dialect::POSTGRES.quote_ident(s);
        let mut t = format!("{}.{}", q(&self.schema), q(&self.name));
        if !self.columns.is_empty() {
            let cols: Vec<String> = self.columns.iter().map(|c| q(c)).collect();
            t.push_str(&format!(" ({})", cols.join(", ")));
        }
        t
    }

    /// `COPY ... TO STDOUT` for this table (its rows only, never a
    /// partition's or an inheriting table's).
    pub(crate) fn copy_out_sql(&self) -> String {
        format!("COPY {} TO STDOUT", self.target())
    }

    /// `COPY ... FROM STDIN` for this table.
    pub(crate) fn copy_in_sql(&self) -> String {
        format!("COPY {} FROM STDIN", self.target())
    }
}

/// Session settings under which COPY text and catalog definitions are
/// written and read: every name schema-qualified (an empty search path, as
/// pg_dump), unambiguous dates and intervals, exact floats, hex bytea,
/// function bodies not checked against a half-built schema, row security
/// off so a policy cannot silently filter the copy (it fails instead).
pub(crate) const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("search_path", "''"),
    ("DateStyle", "'ISO, MDY'"),
    ("IntervalStyle", "'postgres'"),
    ("extra_float_digits", "3"),
    ("bytea_output", "'hex'"),
    ("xmloption", "'content'"),
    ("check_function_bodies", "false"),
    ("row_security", "off"),
    ("standard_conforming_strings", "on"),
];

/// Pins [`SESSION_SETTINGS`] for the rest of `tx`.
pub(crate) async fn pin_session(tx: &mut dyn Transaction) -> Result<()> {
    for (k, v) in SESSION_SETTINGS {
        let s = format!("SET LOCAL {k} = {v}");
        tx.execute(&Statement::new(s.clone()))
            .await
            .map_err(|e| BackupError::Database(e.context(s)))?;
    }
    Ok(())
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogOptions {
    /// Only these schemas (all non-system schemas when empty).
    pub(crate) schemas: Vec<String>,
    /// Refusals to accept, as `kind name` (the objects are then left out).
    pub(crate) exclude: Vec<String>,
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(Value::I64(n)) => n.to_string(),
        Some(Value::I32(n)) => n.to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => format!("{other:?}"),
    }
}

async fn rows(tx: &mut dyn Transaction, what: &str, sql: &str) -> Result<Vec<Vec<String>>> {
    let r = tx
        .query(&Statement::new(sql))
        .await
        .map_err(|e| BackupError::Database(e.context(format!("reading the catalog ({what})"))))?;
    Ok(r.rows
        .iter()
        .map(|row| (0..row.len()).map(|i| text(row.value(i).ok())).collect())
        .collect())
}

async fn objects(tx: &mut dyn Transaction, what: &str, sql: &str) -> Result<Vec<PgObject>> {
    Ok(rows(tx, what, sql)
        .await?
        .into_iter()
        .map(|mut r| {
            let sql = r.pop().unwrap_or_default();
            let name = r.pop().unwrap_or_default();
            let kind = r.pop().unwrap_or_default();
            PgObject { kind, name, sql }
        })
        .collect())
}

/// A literal list for `IN (...)`.
fn in_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL that reads the catalog; `{ns}` is the namespace filter over
/// `n.nspname`, `{ext:CATALOG:ALIAS}` filters out extension members.
struct Sql {
    ns: String,
}

impl Sql {
    fn new(opts: &CatalogOptions) -> Self {
        let mut ns = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
                      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
            .to_owned();
        if !opts.schemas.is_empty() {
            ns.push_str(&format!(" AND n.nspname IN ({})", in_list(&opts.schemas)));
        }
        Sql { ns }
    }

    fn not_ext(catalog: &str, oid: &str) -> String {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass \
             AND e.objid = {oid} AND e.deptype = 'e')"
        )
    }

    fn expand(&self, sql: &str) -> String {
        let mut s = sql.replace("{ns}", &self.ns);
        for (cat, alias) in [
            ("pg_class", "c"),
            ("pg_type", "t"),
            ("pg_proc", "p"),
            ("pg_namespace", "n"),
        ] {
            s = s.replace(
                &format!("{{ext:{alias}}}"),
                &Sql::not_ext(cat, &format!("{alias}.oid")),
            );
        }
        s
    }
}

const COLLATE: &str = "CASE WHEN a.attcollation <> 0 AND a.attcollation <> \
    (SELECT typcollation FROM pg_type WHERE oid = a.atttypid) \
    THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END";

fn seq_options(alias: &str) -> String {
    format!(
        "format('START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s', \
         {alias}.seqstart, {alias}.seqincrement, {alias}.seqmin, {alias}.seqmax, {alias}.seqcache, \
         CASE WHEN {alias}.seqcycle THEN ' CYCLE' ELSE '' END)"
    )
}

/// Objects the catalog holds that this backup cannot carry, as
/// `kind name`.
const REFUSALS: &str = "
SELECT 'foreign table ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'f' AND {ns} AND {ext:c}
UNION ALL SELECT 'typed table ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.reloftype <> 0 AND {ns} AND {ext:c}
UNION ALL SELECT 'table inheritance ' || i.inhrelid::regclass::text || ' of ' || i.inhparent::regclass::text
 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND {ns} AND {ext:c}
UNION ALL SELECT 'rule ' || quote_ident(r.rulename) || ' on ' || c.oid::regclass::text
 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE r.rulename <> '_RETURN' AND {ns} AND {ext:c}
UNION ALL SELECT CASE t.typtype WHEN 'p' THEN 'shell type ' ELSE 'base type ' END || t.oid::regtype::text
 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE (t.typtype = 'p' OR (t.typtype = 'b' AND t.typcategory <> 'A')) AND t.oid >= 16384 AND {ns} AND {ext:t}
UNION ALL SELECT 'range type with a canonical function ' || t.oid::regtype::text
 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_range r ON r.rngtypid = t.oid
 WHERE r.rngcanonical <> 0 AND {ns} AND {ext:t}
UNION ALL SELECT 'aggregate ' || p.oid::regprocedure::text || ' (ordered-set, moving or with a sort operator)'
 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_aggregate a ON a.aggfnoid = p.oid
 WHERE (a.aggkind <> 'n' OR a.aggmtransfn <> 0 OR a.aggsortop <> 0) AND {ns} AND {ext:p}
UNION ALL SELECT 'collation ' || quote_ident(n.nspname) || '.' || quote_ident(x.collname)
 FROM pg_collation x JOIN pg_namespace n ON n.oid = x.collnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_collation'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'operator ' || x.oid::regoperator::text FROM pg_operator x JOIN pg_namespace n ON n.oid = x.oprnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_operator'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'operator class ' || quote_ident(n.nspname) || '.' || quote_ident(x.opcname) FROM pg_opclass x JOIN pg_namespace n ON n.oid = x.opcnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_opclass'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'operator family ' || quote_ident(n.nspname) || '.' || quote_ident(x.opfname) FROM pg_opfamily x JOIN pg_namespace n ON n.oid = x.opfnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_opfamily'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'conversion ' || quote_ident(n.nspname) || '.' || quote_ident(x.conname) FROM pg_conversion x JOIN pg_namespace n ON n.oid = x.connamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_conversion'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'text search configuration ' || x.oid::regconfig::text FROM pg_ts_config x JOIN pg_namespace n ON n.oid = x.cfgnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_ts_config'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'text search dictionary ' || x.oid::regdictionary::text FROM pg_ts_dict x JOIN pg_namespace n ON n.oid = x.dictnamespace
 WHERE x.oid >= 16384 AND {ns} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_ts_dict'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'statistics object ' || quote_ident(n.nspname) || '.' || quote_ident(x.stxname) FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace
 WHERE {ns}
UNION ALL SELECT 'cast ' || format_type(x.castsource, NULL) || ' AS ' || format_type(x.casttarget, NULL) FROM pg_cast x
 WHERE x.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_cast'::regclass AND e.objid = x.oid AND e.deptype IN ('e', 'i'))
UNION ALL SELECT 'language ' || quote_ident(x.lanname) FROM pg_language x
 WHERE x.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_language'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'foreign data wrapper ' || quote_ident(x.fdwname) FROM pg_foreign_data_wrapper x
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_foreign_data_wrapper'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'foreign server ' || quote_ident(x.srvname) FROM pg_foreign_server x
UNION ALL SELECT 'event trigger ' || quote_ident(x.evtname) FROM pg_event_trigger x
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_event_trigger'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'publication ' || quote_ident(x.pubname) FROM pg_publication x
UNION ALL SELECT 'transform for ' || format_type(x.trftype, NULL) FROM pg_transform x
 WHERE x.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_transform'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'access method ' || quote_ident(x.amname) FROM pg_am x
 WHERE x.oid >= 16384 AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_am'::regclass AND e.objid = x.oid AND e.deptype = 'e')
UNION ALL SELECT 'large object ' || x.oid::text FROM pg_largeobject_metadata x
UNION ALL SELECT 'configuration table of extension ' || quote_ident(x.extname) FROM pg_extension x WHERE x.extconfig IS NOT NULL
UNION ALL SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) FROM pg_description d
 WHERE d.objoid >= 16384 AND d.classoid NOT IN ('pg_class'::regclass, 'pg_namespace'::regclass, 'pg_type'::regclass,
   'pg_proc'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass, 'pg_extension'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')
ORDER BY 1";

/// Reads the catalog inside the snapshot transaction `tx` (whose session
/// settings are pinned). Fails, naming them, when it holds objects a
/// backup cannot carry and `opts.exclude` does not list.
pub(crate) async fn read_catalog(
    tx: &mut dyn Transaction,
    opts: &CatalogOptions,
) -> Result<PgCatalog> {
    let q = Sql::new(opts);
    let refused: Vec<String> = rows(tx, "objects a backup cannot carry", &q.expand(REFUSALS))
        .await?
        .into_iter()
        .filter_map(|mut r| r.pop())
        .filter(|r| !opts.exclude.iter().any(|x| x == r))
        .collect();
    if !refused.is_empty() {
        return Err(BackupError::Refused {
            count: refused.len(),
            objects: refused
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let mut pre = Vec::new();
    let mut post = Vec::new();

    pre.extend(
        objects(
            tx,
            "schemas",
            &q.expand(
                "SELECT 'schema', quote_ident(n.nspname), format('CREATE SCHEMA IF NOT EXISTS %I', n.nspname) \
                 FROM pg_namespace n WHERE {ns} AND {ext:n} ORDER BY n.nspname",
            ),
        )
        .await?,
    );
    pre.extend(
        objects(
            tx,
            "extensions",
            "SELECT 'extension', quote_ident(x.extname), \
               format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I VERSION %L', x.extname, n.nspname, x.extversion) \
             FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace \
             WHERE x.extname <> 'plpgsql' ORDER BY x.oid",
        )
        .await?,
    );
    pre.extend(
        objects(
            tx,
            "enums",
            &q.expand(
                "SELECT 'type', t.oid::regtype::text, format('CREATE TYPE %I.%I AS ENUM (%s)', n.nspname, t.typname, \
                   (SELECT coalesce(string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder), '') \
                    FROM pg_enum WHERE enumtypid = t.oid)) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype = 'e' AND {ns} AND {ext:t} ORDER BY t.oid",
            ),
        )
        .await?,
    );
    // Everything else that a table, view or routine may depend on, listed
    // in creation (OID) order and then sorted on pg_depend, since an object
    // altered later may depend on a newer one.
    let cols = format!(
        "SELECT string_agg(format('%I %s%s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod), {COLLATE}, \
            CASE a.attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END \
            || coalesce((SELECT format(' (SEQUENCE NAME %I.%I %s)', sn.nspname, sc.relname, {seqopts}) \
                 FROM pg_depend d JOIN pg_class sc ON sc.oid = d.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace \
                 JOIN pg_sequence s ON s.seqrelid = sc.oid \
                 WHERE a.attidentity <> '' AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
                   AND d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'i' AND sc.relkind = 'S'), ''), \
            CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED' ELSE '' END, \
            CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END), ', ' ORDER BY a.attnum) \
         FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped",
        seqopts = seq_options("s"),
    );
    let type_cols = format!(
        "SELECT string_agg(format('%I %s%s', a.attname, format_type(a.atttypid, a.atttypmod), {COLLATE}), ', ' ORDER BY a.attnum) \
         FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped"
    );
    let mixed = q.expand(&format!(
        "SELECT t.oid::int8, 'domain', t.oid::regtype::text, format('CREATE DOMAIN %I.%I AS %s%s%s%s%s', n.nspname, t.typname, \
            format_type(t.typbasetype, t.typtypmod), \
            CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype) \
                 THEN ' COLLATE ' || t.typcollation::regcollation::text ELSE '' END, \
            CASE WHEN t.typdefault IS NOT NULL THEN ' DEFAULT ' || t.typdefault ELSE '' END, \
            CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END, \
            coalesce((SELECT string_agg(format(' CONSTRAINT %I %s', x.conname, pg_get_constraintdef(x.oid)), '' ORDER BY x.conname) \
                      FROM pg_constraint x WHERE x.contypid = t.oid AND x.contype = 'c'), '')) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'd' AND {{ns}} AND {{ext:t}} \
         UNION ALL \
         SELECT t.oid::int8, 'type', t.oid::regtype::text, format('CREATE TYPE %I.%I AS (%s)', n.nspname, t.typname, coalesce(({type_cols}), '')) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_class k ON k.oid = t.typrelid \
         WHERE t.typtype = 'c' AND k.relkind = 'c' AND {{ns}} AND {{ext:t}} \
         UNION ALL \
         SELECT t.oid::int8, 'type', t.oid::regtype::text, format('CREATE TYPE %I.%I AS RANGE (SUBTYPE = %s, SUBTYPE_OPCLASS = %I.%I%s%s, MULTIRANGE_TYPE_NAME = %s)', \
            n.nspname, t.typname, format_type(r.rngsubtype, NULL), on_.nspname, oc.opcname, \
            CASE WHEN r.rngcollation <> 0 THEN ', COLLATION = ' || r.rngcollation::regcollation::text ELSE '' END, \
            CASE WHEN r.rngsubdiff <> 0 THEN ', SUBTYPE_DIFF = ' || r.rngsubdiff::regproc::text ELSE '' END, \
            r.rngmultitypid::regtype::text) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_range r ON r.rngtypid = t.oid \
         JOIN pg_opclass oc ON oc.oid = r.rngsubopc JOIN pg_namespace on_ ON on_.oid = oc.opcnamespace \
         WHERE t.typtype = 'r' AND {{ns}} AND {{ext:t}} \
         UNION ALL \
         SELECT p.oid::int8, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.oid::regprocedure::text, pg_get_functiondef(p.oid) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p', 'w') AND {{ns}} AND {{ext:p}} \
           AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i') \
         UNION ALL \
         SELECT p.oid::int8, 'aggregate', p.oid::regprocedure::text, format('CREATE AGGREGATE %I.%I(%s) (SFUNC = %s, STYPE = %s%s%s%s%s%s%s%s%s)', \
            n.nspname, p.proname, pg_get_function_arguments(p.oid), a.aggtransfn::regproc::text, format_type(a.aggtranstype, NULL), \
            CASE WHEN a.aggtransspace <> 0 THEN ', SSPACE = ' || a.aggtransspace ELSE '' END, \
            CASE WHEN a.aggfinalfn <> 0 THEN ', FINALFUNC = ' || a.aggfinalfn::regproc::text ELSE '' END, \
            CASE WHEN a.aggfinalextra THEN ', FINALFUNC_EXTRA' ELSE '' END, \
            CASE a.aggfinalmodify WHEN 's' THEN ', FINALFUNC_MODIFY = SHAREABLE' WHEN 'w' THEN ', FINALFUNC_MODIFY = READ_WRITE' ELSE '' END, \
            CASE WHEN a.aggcombinefn <> 0 THEN ', COMBINEFUNC = ' || a.aggcombinefn::regproc::text ELSE '' END, \
            CASE WHEN a.aggserialfn <> 0 THEN ', SERIALFUNC = ' || a.aggserialfn::regproc::text || ', DESERIALFUNC = ' || a.aggdeserialfn::regproc::text ELSE '' END, \
            CASE WHEN a.agginitval IS NOT NULL THEN ', INITCOND = ' || quote_literal(a.agginitval) ELSE '' END, \
            CASE p.proparallel WHEN 's' THEN ', PARALLEL = SAFE' WHEN 'r' THEN ', PARALLEL = RESTRICTED' ELSE '' END) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_aggregate a ON a.aggfnoid = p.oid \
         WHERE p.prokind = 'a' AND {{ns}} AND {{ext:p}} \
         UNION ALL \
         SELECT c.oid::int8, 'sequence', c.oid::regclass::text, format('CREATE %sSEQUENCE %I.%I AS %s %s', \
            CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, n.nspname, c.relname, format_type(s.seqtypid, NULL), {seqopts}) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_sequence s ON s.seqrelid = c.oid \
         WHERE c.relkind = 'S' AND {{ns}} AND {{ext:c}} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
            AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i') \
         UNION ALL \
         SELECT c.oid::int8, 'table', c.oid::regclass::text, format('CREATE %sTABLE %I.%I (%s)%s%s', \
            CASE c.relpersistence WHEN 'u' THEN 'UNLOGGED ' ELSE '' END, n.nspname, c.relname, coalesce(({cols}), ''), \
            CASE WHEN c.relkind = 'p' THEN ' PARTITION BY ' || pg_get_partkeydef(c.oid) ELSE '' END, \
            CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(c.reloptions, ', ') || ')' ELSE '' END) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND {{ns}} AND {{ext:c}} \
         UNION ALL \
         SELECT c.oid::int8, CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, c.oid::regclass::text, \
            format('CREATE %s %I.%I%s AS %s%s', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, n.nspname, c.relname, \
              CASE WHEN c.reloptions IS NOT NULL THEN ' WITH (' || array_to_string(c.reloptions, ', ') || ')' ELSE '' END, \
              rtrim(rtrim(pg_get_viewdef(c.oid), ';'), ' '), CASE c.relkind WHEN 'm' THEN ' WITH NO DATA' ELSE '' END) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND {{ns}} AND {{ext:c}} \
         ORDER BY 1",
        seqopts = seq_options("s"),
    ));
    let mut nodes = Vec::new();
    for mut r in rows(tx, "types, routines, sequences, tables and views", &mixed).await? {
        let sql = r.pop().unwrap_or_default();
        let name = r.pop().unwrap_or_default();
        let kind = r.pop().unwrap_or_default();
        let oid = r.pop().unwrap_or_default();
        let catalog = match kind.as_str() {
            "domain" | "type" => 't',
            "function" | "procedure" | "aggregate" => 'p',
            _ => 'c',
        };
        nodes.push((format!("{catalog}{oid}"), PgObject { kind, name, sql }));
    }
    let edges: Vec<(String, String)> = rows(tx, "dependencies", DEPENDENCIES)
        .await?
        .into_iter()
        .map(|mut r| {
            let to = r.pop().unwrap_or_default();
            let from = r.pop().unwrap_or_default();
            (from, to)
        })
        .collect();
    pre.extend(dependency_order(nodes, &edges));
    // Around the tables, still before the data: CHECK constraints (their
    // rows are checked as they load; a partition needs its parent's before
    // it can be attached), defaults, sequence ownership and partitions
    // (attached before their indexes exist, so nothing is built twice).
    pre.extend(
        objects(
            tx,
            "check constraints",
            &q.expand(
                "SELECT 'constraint', quote_ident(x.conname) || ' on ' || c.oid::regclass::text, \
                   format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.oid::regclass, x.conname, pg_get_constraintdef(x.oid)) \
                 FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE x.contype = 'c' AND (x.conislocal OR c.relispartition) AND x.convalidated AND {ns} AND {ext:c} ORDER BY x.oid",
            ),
        )
        .await?,
    );
    pre.extend(
        objects(
            tx,
            "column defaults",
            &q.expand(
                "SELECT 'default', c.oid::regclass::text || '.' || quote_ident(a.attname), \
                   format('ALTER TABLE ONLY %s ALTER COLUMN %I SET DEFAULT %s', c.oid::regclass, a.attname, pg_get_expr(ad.adbin, ad.adrelid)) \
                 FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum \
                 JOIN pg_class c ON c.oid = ad.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE a.attgenerated = '' AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {ns} AND {ext:c} ORDER BY c.oid, a.attnum",
            ),
        )
        .await?,
    );
    pre.extend(
        objects(
            tx,
            "sequence ownership",
            &q.expand(
                "SELECT 'sequence ownership', c.oid::regclass::text, \
                   format('ALTER SEQUENCE %s OWNED BY %s.%I', c.oid::regclass, t.oid::regclass, a.attname) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' \
                 JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
                 WHERE c.relkind = 'S' AND {ns} AND {ext:c} ORDER BY c.oid",
            ),
        )
        .await?,
    );
    pre.extend(
        objects(
            tx,
            "partitions",
            &q.expand(
                "SELECT 'partition', c.oid::regclass::text, \
                   format('ALTER TABLE ONLY %s ATTACH PARTITION %s %s', i.inhparent::regclass, c.oid::regclass, pg_get_expr(c.relpartbound, c.oid)) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_inherits i ON i.inhrelid = c.oid \
                 WHERE c.relispartition AND c.relkind IN ('r', 'p') AND {ns} AND {ext:c} ORDER BY c.oid",
            ),
        )
        .await?,
    );

    // After the data: keys and indexes built once over the loaded rows,
    // then what checks or fires on rows.
    post.extend(
        objects(
            tx,
            "keys and exclusion constraints",
            &q.expand(
                "SELECT 'constraint', quote_ident(x.conname) || ' on ' || c.oid::regclass::text, \
                   format('ALTER TABLE ONLY %s ADD CONSTRAINT %I %s', c.oid::regclass, x.conname, pg_get_constraintdef(x.oid)) \
                 FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE x.contype IN ('p', 'u', 'x') AND {ns} AND {ext:c} ORDER BY x.oid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "indexes",
            &q.expand(
                "SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype IN ('p', 'u', 'x') AND x.conrelid = c.oid) \
                   AND c.relkind IN ('r', 'p', 'm') AND {ns} AND {ext:c} ORDER BY i.indexrelid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "partition indexes",
            &q.expand(
                "SELECT 'index partition', h.inhrelid::regclass::text, \
                   format('ALTER INDEX %s ATTACH PARTITION %s', h.inhparent::regclass, h.inhrelid::regclass) \
                 FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('i', 'I') AND {ns} AND {ext:c} ORDER BY h.inhrelid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "unvalidated checks and foreign keys",
            &q.expand(
                "SELECT 'constraint', quote_ident(x.conname) || ' on ' || c.oid::regclass::text, \
                   format('ALTER TABLE %s%s ADD CONSTRAINT %I %s', CASE c.relkind WHEN 'p' THEN '' ELSE 'ONLY ' END, \
                          c.oid::regclass, x.conname, pg_get_constraintdef(x.oid)) \
                 FROM pg_constraint x JOIN pg_class c ON c.oid = x.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE ((x.contype = 'c' AND x.conislocal AND NOT x.convalidated) OR (x.contype = 'f' AND x.conparentid = 0)) \
                   AND {ns} AND {ext:c} ORDER BY x.contype, x.oid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "triggers",
            &q.expand(
                "SELECT 'trigger', quote_ident(g.tgname) || ' on ' || c.oid::regclass::text, \
                   pg_get_triggerdef(g.oid) \
                 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND {ns} AND {ext:c} ORDER BY g.oid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "trigger states",
            &q.expand(
                "SELECT 'trigger state', quote_ident(g.tgname) || ' on ' || c.oid::regclass::text, \
                   format('ALTER TABLE %s %s TRIGGER %I', c.oid::regclass, \
                     CASE g.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END, g.tgname) \
                 FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND g.tgenabled <> 'O' AND {ns} AND {ext:c} ORDER BY g.oid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "row-level security",
            &q.expand(
                "SELECT 'row-level security', c.oid::regclass::text, \
                   format('ALTER TABLE %s %s ROW LEVEL SECURITY', c.oid::regclass, f.verb) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 CROSS JOIN LATERAL (VALUES (1, 'ENABLE', c.relrowsecurity), (2, 'FORCE', c.relforcerowsecurity)) f(ord, verb, on_) \
                 WHERE f.on_ AND {ns} AND {ext:c} ORDER BY c.oid, f.ord",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "policies",
            &q.expand(
                "SELECT 'policy', quote_ident(p.polname) || ' on ' || c.oid::regclass::text, \
                   format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, c.oid::regclass, \
                     CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END, \
                     CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
                     (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END, ', ') FROM unnest(p.polroles) r), \
                     CASE WHEN p.polqual IS NOT NULL THEN ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')' ELSE '' END, \
                     CASE WHEN p.polwithcheck IS NOT NULL THEN ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')' ELSE '' END) \
                 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE {ns} AND {ext:c} ORDER BY p.oid",
            ),
        )
        .await?,
    );
    post.extend(
        objects(
            tx,
            "comments",
            &q.expand(
                "SELECT 'comment', c.oid::regclass::text, format('COMMENT ON %s %s IS %L', \
                   CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' \
                     WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END, c.oid::regclass, d.description) \
                 FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid AND d.objsubid = 0 \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {ns} AND {ext:c} \
                 UNION ALL \
                 SELECT 'comment', c.oid::regclass::text || '.' || quote_ident(a.attname), format('COMMENT ON COLUMN %s.%I IS %L', c.oid::regclass, a.attname, d.description) \
                 FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0 \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {ns} AND {ext:c} \
                 UNION ALL \
                 SELECT 'comment', quote_ident(n.nspname), format('COMMENT ON SCHEMA %I IS %L', n.nspname, d.description) \
                 FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass AND n.oid = d.objoid \
                 WHERE {ns} AND {ext:n} \
                 UNION ALL \
                 SELECT 'comment', t.oid::regtype::text, format('COMMENT ON %s %s IS %L', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype, d.description) \
                 FROM pg_description d JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND t.oid = d.objoid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {ns} AND {ext:t} \
                 UNION ALL \
                 SELECT 'comment', p.oid::regprocedure::text, format('COMMENT ON %s %s IS %L', \
                   CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END, p.oid::regprocedure, d.description) \
                 FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid \
                 JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {ns} AND {ext:p} \
                 UNION ALL \
                 SELECT 'comment', quote_ident(x.conname), CASE WHEN x.conrelid <> 0 \
                     THEN format('COMMENT ON CONSTRAINT %I ON %s IS %L', x.conname, x.conrelid::regclass, d.description) \
                     ELSE format('COMMENT ON CONSTRAINT %I ON DOMAIN %s IS %L', x.conname, x.contypid::regtype, d.description) END \
                 FROM pg_description d JOIN pg_constraint x ON d.classoid = 'pg_constraint'::regclass AND x.oid = d.objoid \
                 JOIN pg_namespace n ON n.oid = x.connamespace WHERE {ns} \
                 UNION ALL \
                 SELECT 'comment', quote_ident(g.tgname), format('COMMENT ON TRIGGER %I ON %s IS %L', g.tgname, g.tgrelid::regclass, d.description) \
                 FROM pg_description d JOIN pg_trigger g ON d.classoid = 'pg_trigger'::regclass AND g.oid = d.objoid \
                 JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {ns} \
                 UNION ALL \
                 SELECT 'comment', quote_ident(p.polname), format('COMMENT ON POLICY %I ON %s IS %L', p.polname, p.polrelid::regclass, d.description) \
                 FROM pg_description d JOIN pg_policy p ON d.classoid = 'pg_policy'::regclass AND p.oid = d.objoid \
                 JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {ns} \
                 ORDER BY 2",
            ),
        )
        .await?,
    );
    // Sequence positions, read inside the snapshot.
    let seqs = rows(
        tx,
        "sequences",
        &q.expand(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'S' AND {ns} AND {ext:c} ORDER BY c.oid",
        ),
    )
    .await?;
    for mut s in seqs {
        let name = s.pop().unwrap_or_default();
        let pos = rows(
            tx,
            "a sequence's position",
            &format!("SELECT last_value::text, is_called::text FROM {name}"),
        )
        .await?;
        if let Some(p) = pos.first() {
            post.push(PgObject {
                kind: "sequence position".into(),
                name: name.clone(),
                sql: format!(
                    "SELECT pg_catalog.setval('{}', {}, {})",
                    name.replace('\'', "''"),
                    p[0],
                    p[1]
                ),
            });
        }
    }
    post.extend(
        objects(
            tx,
            "materialized views",
            &q.expand(
                "SELECT 'refresh', c.oid::regclass::text, format('REFRESH MATERIALIZED VIEW %s', c.oid::regclass) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'm' AND c.relispopulated AND {ns} AND {ext:c} ORDER BY c.oid",
            ),
        )
        .await?,
    );

    let tables = rows(
        tx,
        "tables",
        &q.expand(
            "SELECT n.nspname, c.relname, coalesce((SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) \
                FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), '') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND {ns} AND {ext:c} ORDER BY c.oid",
        ),
    )
    .await?
    .into_iter()
    .map(|r| PgCopyTable {
        schema: r[0].clone(),
        name: r[1].clone(),
        columns: split_idents(&r[2]),
    })
    .collect();
    let access = read_access(tx, &q).await?;
    Ok(PgCatalog {
        pre_data: pre,
        post_data: post,
        tables,
        access,
    })
}

/// Owners and ACLs of the objects the catalog recreates, in the order a
/// restore applies them: schemas, types, routines, then tables and views
/// (whose owner change carries their indexes and linked sequences along),
/// then sequences. ACL entries are read through `aclexplode`, so role
/// names need no parsing of `aclitem` text.
const ACCESS: &str = "
WITH o(ord, oid, kind, name, owner, acl) AS (
  SELECT 1, n.oid, 'schema', quote_ident(n.nspname), n.nspowner, n.nspacl FROM pg_namespace n WHERE {ns} AND {ext:n}
  UNION ALL
  SELECT 2, t.oid, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, t.oid::regtype::text, t.typowner, t.typacl
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT k.relkind FROM pg_class k WHERE k.oid = t.typrelid) = 'c'))
     AND {ns} AND {ext:t}
  UNION ALL
  SELECT 3, p.oid, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         p.oid::regprocedure::text, p.proowner, p.proacl
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.prokind IN ('f', 'p', 'w', 'a') AND {ns} AND {ext:p}
     AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass AND i.objid = p.oid AND i.deptype = 'i')
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 5 ELSE 4 END, c.oid,
         CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'table' END,
         c.oid::regclass::text, c.relowner, c.relacl
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {ns} AND {ext:c}
)
SELECT o.kind, o.name, pg_get_userbyid(o.owner),
  CASE WHEN o.acl IS NULL THEN '' ELSE (
    SELECT coalesce(json_agg(json_build_array(pg_get_userbyid(e.grantor),
             CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END,
             e.privilege_type, e.is_grantable) ORDER BY e.n), '[]')::text
      FROM aclexplode(o.acl) WITH ORDINALITY e(grantor, grantee, privilege_type, is_grantable, n)) END,
  coalesce((SELECT json_agg(json_build_array(a.attname, (
      SELECT json_agg(json_build_array(pg_get_userbyid(e.grantor),
               CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END,
               e.privilege_type, e.is_grantable) ORDER BY e.n)
        FROM aclexplode(a.attacl) WITH ORDINALITY e(grantor, grantee, privilege_type, is_grantable, n))) ORDER BY a.attnum)::text
    FROM pg_attribute a WHERE o.ord = 4 AND a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attacl IS NOT NULL AND cardinality(a.attacl) > 0), '')
FROM o ORDER BY o.ord, o.oid";

/// `aclexplode` rows as JSON: `[grantor, grantee or null, privilege, grantable]`.
type ExplodedAcl = Vec<(String, Option<String>, String, bool)>;

/// Groups exploded rows back into entries, one per (grantee, grantor) in
/// the order each pair first appears (the ACL's own order).
fn group_acl(rows: ExplodedAcl) -> Vec<PgGrant> {
    let mut out: Vec<PgGrant> = Vec::new();
    for (grantor, grantee, privilege, grantable) in rows {
        let i = match out
            .iter()
            .position(|g| g.grantee == grantee && g.grantor == grantor)
        {
            Some(i) => i,
            None => {
                out.push(PgGrant {
                    grantee,
                    grantor,
                    privileges: Vec::new(),
                    grantable: Vec::new(),
                });
                out.len() - 1
            }
        };
        if grantable {
            out[i].grantable.push(privilege.clone());
        }
        out[i].privileges.push(privilege);
    }
    out
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| {
        BackupError::Unsupported(format!(
            "reading the catalog ({what}): unexpected ACL form: {e}"
        ))
    })
}

async fn read_access(tx: &mut dyn Transaction, q: &Sql) -> Result<Vec<PgAccess>> {
    let mut out = Vec::new();
    for r in rows(tx, "owners and privileges", &q.expand(ACCESS)).await? {
        let [kind, name, owner, acl, columns]: [String; 5] = r.try_into().map_err(|_| {
            BackupError::Unsupported("reading the catalog (owners and privileges): bad row".into())
        })?;
        let acl = if acl.is_empty() {
            None
        } else {
            Some(group_acl(parse_json("privileges", &acl)?))
        };
        let columns = if columns.is_empty() {
            Vec::new()
        } else {
            parse_json::<Vec<(String, ExplodedAcl)>>("column privileges", &columns)?
                .into_iter()
                .map(|(column, acl)| PgColumnAcl {
                    column,
                    acl: group_acl(acl),
                })
                .collect()
        };
        out.push(PgAccess {
            kind,
            name,
            owner,
            acl,
            columns,
        });
    }
    Ok(out)
}

/// What to apply of a backup's [`PgAccess`] records.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AccessOptions {
    /// Give each object its source owner.
    pub(crate) owners: bool,
    /// Rebuild each object's privileges.
    pub(crate) grants: bool,
}

impl AccessOptions {
    pub(crate) fn any(self) -> bool {
        self.owners || self.grants
    }
}

/// The roles that [`access_statements`] would name: each owner with
/// `owners`; with `grants`, each grantee and grantor, except the source
/// owner's own entries when the owner is not carried (they then go to
/// whoever owns the restored object). Sorted, without duplicates.
pub(crate) fn roles_needed(access: &[PgAccess], opts: AccessOptions) -> Vec<String> {
    let mut roles = std::collections::BTreeSet::new();
    for a in access {
        if opts.owners {
            roles.insert(a.owner.clone());
        }
        if !opts.grants {
            continue;
        }
        let entries = a
            .acl
            .iter()
            .flatten()
            .chain(a.columns.iter().flat_map(|c| &c.acl));
        for g in entries {
            if opts.owners || g.grantor != a.owner {
                roles.insert(g.grantor.clone());
            }
            if let Some(r) = &g.grantee
                && (opts.owners || *r != a.owner)
            {
                roles.insert(r.clone());
            }
        }
    }
    roles.into_iter().collect()
}

/// Whether `p` is a privilege keyword (a backup's text is authenticated,
/// but a statement is never built from anything else).
fn is_privilege(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')
}

/// The statements that give each object its source owner (with
/// `owners`) and rebuild its ACL (with `grants`), to run after the rest of
/// the catalog, as a superuser or a member of every role involved.
///
/// An ACL is rebuilt exactly, entry order included: everything is revoked
/// from PUBLIC and from the owner (so defaults the source revoked, such as
/// EXECUTE from PUBLIC on a function, stay revoked), then each entry is
/// granted in order; an entry given by a role other than the owner is
/// granted under `SET LOCAL ROLE` to that role, so the grantor is kept.
/// Without `owners` the restoring user owns everything and keeps an
/// owner's full privileges: the source owner's own entries are left out
/// and what it gave is given by the new owner. An object whose ACL was
/// never changed (NULL) is left alone. Column privileges are granted after
/// the object's.
pub(crate) fn access_statements(access: &[PgAccess], opts: AccessOptions) -> Vec<String> {
    let q = |s: &str| covet_core::Dialect::POSTGRES.quote_ident(s);
    let mut out = Vec::new();
    for a in access {
        let (alter_kw, grant_kw) = match a.kind.as_str() {
            "schema" => ("SCHEMA", "SCHEMA"),
            "type" => ("TYPE", "TYPE"),
            "domain" => ("DOMAIN", "DOMAIN"),
            "function" => ("FUNCTION", "ROUTINE"),
            "procedure" => ("PROCEDURE", "ROUTINE"),
            "aggregate" => ("AGGREGATE", "ROUTINE"),
            "table" => ("TABLE", "TABLE"),
            "view" => ("VIEW", "TABLE"),
            "materialized view" => ("MATERIALIZED VIEW", "TABLE"),
            "sequence" => ("SEQUENCE", "SEQUENCE"),
            _ => continue,
        };
        let name = &a.name;
        if opts.owners {
            out.push(format!("ALTER {alter_kw} {name} OWNER TO {}", q(&a.owner)));
        }
        if !opts.grants {
            continue;
        }
        let grantee_sql = |g: &PgGrant| match &g.grantee {
            None => "PUBLIC".to_owned(),
            Some(r) => q(r),
        };
        // Statements granting `g` on `target` (`cols` for column lists).
        let grant = |out: &mut Vec<String>, g: &PgGrant, cols: Option<&str>| {
            if !opts.owners && g.grantee.as_deref() == Some(a.owner.as_str()) {
                return;
            }
            let as_other = g.grantor != a.owner;
            if as_other {
                out.push(format!("SET LOCAL ROLE {}", q(&g.grantor)));
            }
            let list = |ps: &mut dyn Iterator<Item = &String>| {
                ps.filter(|p| is_privilege(p))
                    .map(|p| match cols {
                        Some(c) => format!("{p} ({c})"),
                        None => p.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let plain = list(&mut g.privileges.iter().filter(|p| !g.grantable.contains(p)));
            let with = list(&mut g.grantable.iter());
            for (privs, suffix) in [(plain, ""), (with, " WITH GRANT OPTION")] {
                if !privs.is_empty() {
                    out.push(format!(
                        "GRANT {privs} ON {grant_kw} {name} TO {}{suffix}",
                        grantee_sql(g)
                    ));
                }
            }
            if as_other {
                out.push("SET LOCAL ROLE NONE".to_owned());
            }
        };
        if let Some(acl) = &a.acl {
            out.push(format!("REVOKE ALL ON {grant_kw} {name} FROM PUBLIC"));
            if opts.owners {
                out.push(format!(
                    "REVOKE ALL ON {grant_kw} {name} FROM {}",
                    q(&a.owner)
                ));
            }
            for g in acl {
                grant(&mut out, g, None);
            }
        }
        for c in &a.columns {
            for g in &c.acl {
                grant(&mut out, g, Some(&q(&c.column)));
            }
        }
    }
    out
}

/// Edges `(object, what it needs)` between user objects, from pg_depend.
/// Each side is keyed by the object of the pre-data list it belongs to, as
/// `<catalog letter><oid>` (`t` type, `p` routine, `c` relation): a
/// composite type's relation, an array or multirange type, a table's row
/// type, a view's rewrite rule, a column default or generated expression
/// and a domain's constraint count as the object they are part of.
const DEPENDENCIES: &str = "
SELECT DISTINCT o.key, r.key
  FROM pg_depend d
  JOIN LATERAL (
    SELECT CASE WHEN d.classid = 'pg_class'::regclass THEN (SELECT CASE WHEN c.relkind = 'c' THEN 't' || c.reltype ELSE 'c' || c.oid END FROM pg_class c WHERE c.oid = d.objid)
                WHEN d.classid = 'pg_type'::regclass THEN (SELECT CASE
                    WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN
                      (SELECT CASE WHEN e.typrelid <> 0 AND (SELECT relkind FROM pg_class WHERE oid = e.typrelid) <> 'c' THEN 'c' || e.typrelid ELSE 't' || e.oid END FROM pg_type e WHERE e.oid = t.typelem)
                    WHEN t.typtype = 'm' THEN 't' || (SELECT rngtypid FROM pg_range WHERE rngmultitypid = t.oid)
                    WHEN t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) <> 'c' THEN 'c' || t.typrelid
                    ELSE 't' || t.oid END FROM pg_type t WHERE t.oid = d.objid)
                WHEN d.classid = 'pg_proc'::regclass THEN 'p' || d.objid
                WHEN d.classid = 'pg_rewrite'::regclass THEN (SELECT 'c' || ev_class FROM pg_rewrite WHERE oid = d.objid)
                WHEN d.classid = 'pg_attrdef'::regclass THEN (SELECT 'c' || adrelid FROM pg_attrdef WHERE oid = d.objid)
                WHEN d.classid = 'pg_constraint'::regclass THEN (SELECT CASE WHEN contypid <> 0 THEN 't' || contypid END FROM pg_constraint WHERE oid = d.objid)
           END AS key) o ON true
  JOIN LATERAL (
    SELECT CASE WHEN d.refclassid = 'pg_class'::regclass THEN (SELECT CASE WHEN c.relkind = 'c' THEN 't' || c.reltype ELSE 'c' || c.oid END FROM pg_class c WHERE c.oid = d.refobjid)
                WHEN d.refclassid = 'pg_type'::regclass THEN (SELECT CASE
                    WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN
                      (SELECT CASE WHEN e.typrelid <> 0 AND (SELECT relkind FROM pg_class WHERE oid = e.typrelid) <> 'c' THEN 'c' || e.typrelid ELSE 't' || e.oid END FROM pg_type e WHERE e.oid = t.typelem)
                    WHEN t.typtype = 'm' THEN 't' || (SELECT rngtypid FROM pg_range WHERE rngmultitypid = t.oid)
                    WHEN t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) <> 'c' THEN 'c' || t.typrelid
                    ELSE 't' || t.oid END FROM pg_type t WHERE t.oid = d.refobjid)
                WHEN d.refclassid = 'pg_proc'::regclass THEN 'p' || d.refobjid
           END AS key) r ON true
 WHERE d.deptype = 'n' AND d.objid >= 16384 AND d.refobjid >= 16384
   AND o.key IS NOT NULL AND r.key IS NOT NULL AND o.key <> r.key";

/// Orders `nodes` (listed in OID order) so that each comes after what it
/// needs: Kahn's algorithm, always taking the earliest-created ready
/// object, so a schema without later alterations keeps its creation order.
/// What a cycle leaves (none the server allows among these objects) follows
/// in OID order.
fn dependency_order(nodes: Vec<(String, PgObject)>, edges: &[(String, String)]) -> Vec<PgObject> {
    use std::collections::{BTreeSet, HashMap};
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let mut needs = vec![0usize; nodes.len()];
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut seen = std::collections::HashSet::new();
    for (from, to) in edges {
        if let (Some(&f), Some(&t)) = (index.get(from.as_str()), index.get(to.as_str()))
            && f != t
            && seen.insert((f, t))
        {
            needs[f] += 1;
            needed_by[t].push(f);
        }
    }
    let mut ready: BTreeSet<usize> = (0..nodes.len()).filter(|i| needs[*i] == 0).collect();
    let mut order = Vec::with_capacity(nodes.len());
    let mut done = vec![false; nodes.len()];
    while let Some(i) = ready.pop_first() {
        order.push(i);
        done[i] = true;
        for &j in &needed_by[i] {
            needs[j] -= 1;
            if needs[j] == 0 {
                ready.insert(j);
            }
        }
    }
    order.extend((0..nodes.len()).filter(|i| !done[*i]));
    let mut slots: Vec<Option<PgObject>> = nodes.into_iter().map(|(_, o)| Some(o)).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Splits a comma-separated list of `quote_ident` results back into names.
fn split_idents(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(ch) = chars.next() {
        any = true;
        match (ch, quoted) {
            ('"', false) => quoted = true,
            ('"', true) => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Rows of COPY text: each ends in a newline.
pub(crate) fn copy_rows(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    payload.split_inclusive(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn idents_split() {
        assert_eq!(split_idents(""), Vec::<String>::new());
        assert_eq!(
            split_idents("a,\"b,c\",\"d\"\"e\""),
            vec!["a", "b,c", "d\"e"]
        );
    }

    fn obj(name: &str) -> (String, PgObject) {
        (
            name.to_owned(),
            PgObject {
                kind: "table".into(),
                name: name.into(),
                sql: String::new(),
            },
        )
    }

    #[test]
    fn dependencies_come_first_and_creation_order_is_kept_otherwise() {
        let nodes = vec![obj("c1"), obj("t2"), obj("p3"), obj("c4")];
        let edges = vec![
            ("c1".to_owned(), "t2".to_owned()),
            ("c1".to_owned(), "p3".to_owned()),
            ("t2".to_owned(), "x9".to_owned()),
        ];
        let names: Vec<String> = dependency_order(nodes, &edges)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["t2", "p3", "c1", "c4"]);
        // A cycle keeps every object, in creation order after the rest.
        let nodes = vec![obj("a"), obj("b"), obj("c")];
        let edges = vec![
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "a".to_owned()),
        ];
        let names: Vec<String> = dependency_order(nodes, &edges)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
    }

    fn grant(grantee: Option<&str>, grantor: &str, privs: &[&str], grantable: &[&str]) -> PgGrant {
        PgGrant {
            grantee: grantee.map(str::to_owned),
            grantor: grantor.into(),
            privileges: privs.iter().map(|p| (*p).to_owned()).collect(),
            grantable: grantable.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn function_with_public_revoked() -> PgAccess {
        PgAccess {
            kind: "function".into(),
            name: "app.f(integer)".into(),
            owner: "alice".into(),
            acl: Some(vec![
                grant(Some("alice"), "alice", &["EXECUTE"], &[]),
                grant(Some("bob"), "alice", &["EXECUTE"], &["EXECUTE"]),
                grant(Some("carol"), "bob", &["EXECUTE"], &[]),
            ]),
            columns: Vec::new(),
        }
    }

    #[test]
    fn an_acl_is_rebuilt_in_order_with_its_grantors_and_revoked_defaults() {
        let all = AccessOptions {
            owners: true,
            grants: true,
        };
        assert_eq!(
            access_statements(&[function_with_public_revoked()], all),
            [
                r#"ALTER FUNCTION app.f(integer) OWNER TO "alice""#,
                "REVOKE ALL ON ROUTINE app.f(integer) FROM PUBLIC",
                r#"REVOKE ALL ON ROUTINE app.f(integer) FROM "alice""#,
                r#"GRANT EXECUTE ON ROUTINE app.f(integer) TO "alice""#,
                r#"GRANT EXECUTE ON ROUTINE app.f(integer) TO "bob" WITH GRANT OPTION"#,
                r#"SET LOCAL ROLE "bob""#,
                r#"GRANT EXECUTE ON ROUTINE app.f(integer) TO "carol""#,
                "SET LOCAL ROLE NONE",
            ]
        );
        assert_eq!(
            roles_needed(&[function_with_public_revoked()], all),
            ["alice", "bob", "carol"]
        );
    }

    #[test]
    fn without_owners_the_source_owner_is_not_named() {
        let grants = AccessOptions {
            owners: false,
            grants: true,
        };
        let stmts = access_statements(&[function_with_public_revoked()], grants);
        assert!(stmts.iter().all(|s| !s.contains("alice")), "{stmts:?}");
        assert_eq!(stmts[0], "REVOKE ALL ON ROUTINE app.f(integer) FROM PUBLIC");
        assert_eq!(
            roles_needed(&[function_with_public_revoked()], grants),
            ["bob", "carol"]
        );
        // Owners alone name only the owner; nothing at all by default.
        let owners = AccessOptions {
            owners: true,
            grants: false,
        };
        assert_eq!(
            access_statements(&[function_with_public_revoked()], owners).len(),
            1
        );
        assert_eq!(
            roles_needed(&[function_with_public_revoked()], owners),
            ["alice"]
        );
        assert!(
            access_statements(&[function_with_public_revoked()], AccessOptions::default())
                .is_empty()
        );
    }

    #[test]
    fn default_privileges_are_left_alone_and_columns_are_granted() {
        let t = PgAccess {
            kind: "table".into(),
            name: "app.t".into(),
            owner: "alice".into(),
            acl: None,
            columns: vec![PgColumnAcl {
                column: "a b".into(),
                acl: vec![grant(
                    None,
                    "alice",
                    &["SELECT", "UPDATE", "bad; DROP"],
                    &["UPDATE"],
                )],
            }],
        };
        let all = AccessOptions {
            owners: true,
            grants: true,
        };
        assert_eq!(
            access_statements(&[t], all),
            [
                r#"ALTER TABLE app.t OWNER TO "alice""#,
                r#"GRANT SELECT ("a b") ON TABLE app.t TO PUBLIC"#,
                r#"GRANT UPDATE ("a b") ON TABLE app.t TO PUBLIC WITH GRANT OPTION"#,
            ]
        );
    }

    /// The quoted role names a statement list names.
    fn named_roles(stmts: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for s in stmts {
            for key in [" TO \"", "ROLE \"", " FROM \""] {
                let mut rest = s.as_str();
                while let Some(i) = rest.find(key) {
                    rest = &rest[i + key.len()..];
                    let mut name = String::new();
                    let mut chars = rest.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c == '"' {
                            if chars.peek() == Some(&'"') {
                                chars.next();
                                name.push('"');
                            } else {
                                break;
                            }
                        } else {
                            name.push(c);
                        }
                    }
                    out.push(name);
                }
            }
        }
        out
    }

    fn arb_grant() -> impl Strategy<Value = PgGrant> {
        let role = prop_oneof![Just("alice"), Just("bob"), Just("c \" d"), Just("TO \"x")];
        (
            proptest::option::of(role.clone()),
            role,
            proptest::sample::subsequence(vec!["SELECT", "INSERT", "USAGE"], 1..3),
            any::<bool>(),
        )
            .prop_map(|(grantee, grantor, privs, opt)| {
                grant(
                    grantee,
                    grantor,
                    &privs,
                    if opt { &privs[..1] } else { &[] },
                )
            })
    }

    proptest! {
        #[test]
        fn every_role_a_restore_names_is_checked_first(
            owner in prop_oneof![Just("alice"), Just("c \" d")],
            acl in proptest::option::of(proptest::collection::vec(arb_grant(), 0..5)),
            cols in proptest::collection::vec(arb_grant(), 0..3),
            owners: bool,
            grants: bool,
        ) {
            let a = PgAccess {
                kind: "table".into(),
                name: "app.t".into(),
                owner: owner.into(),
                acl,
                columns: vec![PgColumnAcl { column: "c".into(), acl: cols }],
            };
            let opts = AccessOptions { owners, grants };
            let needed = roles_needed(std::slice::from_ref(&a), opts);
            for r in named_roles(&access_statements(&[a], opts)) {
                prop_assert!(needed.contains(&r), "{} not checked in {:?}", r, needed);
            }
        }

        #[test]
        fn quoted_names_round_trip(names in proptest::collection::vec("[a-zA-Z ,\"é_]{1,8}", 1..5)) {
            let joined = names
                .iter()
                .map(|n| format!("\"{}\"", n.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",");
            prop_assert_eq!(split_idents(&joined), names);
        }
    }
}
