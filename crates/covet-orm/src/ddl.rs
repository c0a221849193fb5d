//! CREATE and DROP TABLE from model metadata, per dialect: column types,
//! NOT NULL, primary key (auto-increment or composite), UNIQUE, DEFAULT,
//! foreign keys, and one index per `#[covet(index)]` field.
//!
//! `default = "..."` is emitted verbatim: it is SQL written by the model's
//! author in the source, never a run-time value.

use covet_core::{Dialect, Engine, Statement};

use crate::error::OrmResult;
use crate::exec::Executor;
use crate::model::{ColumnDef, Model, SqlType};
use crate::sql::SqlBuf;

/// MySQL cannot index or key a TEXT column without a prefix length, so
/// keyed text columns without `max_length` become VARCHAR of this length.
const MYSQL_KEYED_TEXT: u32 = 255;

pub(crate) fn type_sql(c: &ColumnDef, engine: Engine, keyed: bool) -> String {
    use SqlType as S;
    let pg = engine == Engine::Postgres;
    let my = engine == Engine::MySql;
    let s = match c.sql_type {
        S::Bool => "BOOLEAN",
        S::I16 => "SMALLINT",
        S::I32 => "INTEGER",
        S::I64 => "BIGINT",
        S::F32 => {
            if my {
                "FLOAT"
            } else {
                "REAL"
            }
        }
        S::F64 => {
            if pg {
                "DOUBLE PRECISION"
            } else {
                "DOUBLE"
            }
        }
        S::Decimal => match engine {
            Engine::Postgres => "NUMERIC",
            Engine::MySql => "DECIMAL(38, 10)",
            // TEXT affinity keeps every digit.
            _ => "DECIMAL TEXT",
        },
        S::Text => {
            return match (c.max_length, my && keyed) {
                (Some(n), _) => format!("VARCHAR({n})"),
                (None, true) => format!("VARCHAR({MYSQL_KEYED_TEXT})"),
                (None, false) if my => "LONGTEXT".into(),
                (None, false) => "TEXT".into(),
            };
        }
        S::Bytes => match engine {
            Engine::Postgres => "BYTEA",
            Engine::MySql => "LONGBLOB",
            _ => "BLOB",
        },
        S::Date => "DATE",
        S::Time => {
            if my {
                "TIME(6)"
            } else {
                "TIME"
            }
        }
        S::Timestamp => {
            if my {
                "DATETIME(6)"
            } else {
                "TIMESTAMP"
            }
        }
        S::TimestampTz => {
            if my {
                "TIMESTAMP(6)"
            } else {
                "TIMESTAMPTZ"
            }
        }
        S::Uuid => {
            if my {
                "CHAR(36) CHARACTER SET ascii"
            } else {
                "UUID"
            }
        }
        S::Json => {
            if pg {
                "JSONB"
            } else {
                "JSON"
            }
        }
    };
    s.to_owned()
}

/// The statements that create `M`'s table and its indexes, in order.
pub fn create_table_sql<M: Model>(dialect: Dialect) -> Vec<Statement> {
    let meta = M::meta();
    let engine = dialect.engine;
    let mut b = SqlBuf::new(dialect);
    b.push("CREATE TABLE ").ident(meta.table).push(" (");
    let single_auto = meta.auto_key;
    for (i, c) in meta.columns.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.ident(c.name).push(" ");
        let keyed = c.primary_key || c.unique || c.index || c.references.is_some();
        if single_auto == Some(i) {
            match engine {
                Engine::Postgres => {
                    b.push(match c.sql_type {
                        SqlType::I16 => "SMALLSERIAL",
                        SqlType::I32 => "SERIAL",
                        _ => "BIGSERIAL",
                    });
                    b.push(" PRIMARY KEY");
                }
                Engine::MySql => {
                    b.push(&type_sql(c, engine, true));
                    b.push(" NOT NULL AUTO_INCREMENT PRIMARY KEY");
                }
                _ => {
                    // Only this exact spelling makes SQLite use the rowid.
                    b.push("INTEGER PRIMARY KEY AUTOINCREMENT");
                }
            }
            continue;
        }
        b.push(&type_sql(c, engine, keyed));
        if !c.nullable {
            b.push(" NOT NULL");
        }
        if let Some(d) = c.default {
            b.push(" DEFAULT ").push(d);
        }
        if c.unique {
            b.push(" UNIQUE");
        }
    }
    if single_auto.is_none() {
        b.push(", PRIMARY KEY (");
        for (n, &i) in meta.primary_key.iter().enumerate() {
            if n > 0 {
                b.push(", ");
            }
            b.ident(meta.columns[i].name);
        }
        b.push(")");
    }
    for c in meta.columns {
        if let Some(r) = c.references {
            let target = (r.meta)();
            b.push(", FOREIGN KEY (")
                .ident(c.name)
                .push(") REFERENCES ")
                .ident(target.table)
                .push(" (");
            for (n, &i) in target.primary_key.iter().enumerate() {
                if n > 0 {
                    b.push(", ");
                }
                b.ident(target.columns[i].name);
            }
            b.push(")");
        }
    }
    b.push(")");
    let mut out = vec![b.finish()];
    for c in meta.columns.iter().filter(|c| c.index) {
        let mut b = SqlBuf::new(dialect);
        b.push("CREATE INDEX ")
            .ident(&format!("idx_{}_{}", meta.table, c.name))
            .push(" ON ")
            .ident(meta.table)
            .push(" (")
            .ident(c.name)
            .push(")");
        out.push(b.finish());
    }
    out
}

/// `DROP TABLE IF EXISTS` for `M` (its indexes go with it).
pub fn drop_table_sql<M: Model>(dialect: Dialect) -> Statement {
    let mut b = SqlBuf::new(dialect);
    b.push("DROP TABLE IF EXISTS ").ident(M::meta().table);
    b.finish()
}

/// Creates `M`'s table and indexes.
pub async fn create_table<M: Model, E: Executor>(mut ex: E) -> OrmResult<()> {
    for stmt in create_table_sql::<M>(ex.dialect()) {
        ex.execute(&stmt).await?;
    }
    Ok(())
}

/// Drops `M`'s table if it exists.
pub async fn drop_table<M: Model, E: Executor>(mut ex: E) -> OrmResult<()> {
    ex.execute(&drop_table_sql::<M>(ex.dialect())).await?;
    Ok(())
}
