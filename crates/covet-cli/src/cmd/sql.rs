//! `covet sql`: run one statement, print its rows as a table.

use std::fmt::Write as _;

use covet::{Rows, Statement, Value};
use covet_loadtest::StatementKind;

use super::{DbArgs, Failure, connect, parse_url};

/// Arguments of `covet sql`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// The SQL statement (quote it for the shell).
    sql: String,
    /// Longest cell shown, in characters (longer values are cut with `…`).
    #[arg(long, default_value_t = 60)]
    max_width: usize,
}

/// Runs `covet sql`.
pub async fn run(args: Args) -> Result<(), Failure> {
    if args.sql.trim().is_empty() {
        return Err(Failure::usage("the SQL statement is empty"));
    }
    let url = parse_url(&args.db.db)?;
    let (db, _) = connect(&url).await?;
    let stmt = Statement::new(args.sql.as_str());
    let out = match StatementKind::infer(&args.sql) {
        StatementKind::Query => {
            let rows = db.query(&stmt).await?;
            render(&rows, args.max_width.max(4))
        }
        StatementKind::Execute => {
            let r = db.execute(&stmt).await?;
            let mut s = format!(
                "{} row{} affected",
                r.rows_affected,
                if r.rows_affected == 1 { "" } else { "s" }
            );
            if let Some(id) = r.last_insert_id.filter(|id| *id > 0) {
                let _ = write!(s, " (last insert id {id})");
            }
            s.push('\n');
            s
        }
    };
    print!("{out}");
    db.close().await;
    Ok(())
}

/// How a value is shown in a cell.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::I16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::F32(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(s) => s.clone(),
        Value::Bytes(b) => {
            let mut s = String::from("\\x");
            for byte in b.iter().take(32) {
                let _ = write!(s, "{byte:02x}");
            }
            if b.len() > 32 {
                let _ = write!(s, "… ({} bytes)", b.len());
            }
            s
        }
        Value::Date(d) => d.to_string(),
        Value::Time(t) => t.to_string(),
        Value::Timestamp(t) => t.to_string(),
        Value::TimestampTz(t) => t.to_rfc3339(),
        Value::Uuid(u) => u.to_string(),
        Value::Json(j) => j.0.clone(),
        other => format!("<{}>", other.type_name()),
    }
}

fn clip(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Renders rows as an aligned table with a row count.
pub fn render(rows: &Rows, max: usize) -> String {
    let headers: Vec<String> = rows.columns.iter().map(|c| clip(&c.name, max)).collect();
    let cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|r| r.values().iter().map(|v| clip(&cell(v), max)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let numeric: Vec<bool> = (0..headers.len())
        .map(|i| {
            rows.rows.iter().all(|r| {
                matches!(
                    r.values().get(i),
                    Some(
                        Value::I16(_)
                            | Value::I32(_)
                            | Value::I64(_)
                            | Value::F32(_)
                            | Value::F64(_)
                            | Value::Decimal(_)
                            | Value::Null
                    )
                )
            }) && !rows.rows.is_empty()
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, vals: &[String], align_num: bool| {
        let parts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let pad = widths[i].saturating_sub(v.chars().count());
                if align_num && numeric[i] {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, " {}", parts.join(" | ").trim_end());
    };
    if !headers.is_empty() {
        line(&mut out, &headers, false);
        let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let _ = writeln!(out, "-{}-", sep.join("-+-"));
        for row in &cells {
            line(&mut out, row, true);
        }
    }
    let n = rows.len();
    let _ = writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" });
    out
}
