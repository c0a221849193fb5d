//! `covet sql`: run one statement, print its rows as a table as they
//! arrive, or the rows it changed.
//!
//! Whether a statement returns rows is the server's answer
//! ([`covet::Adapter::run`]), not a guess from its first word, so
//! `-- note\nSELECT 1`, `(SELECT 1)`, `TABLE t`, `DESCRIBE t` and
//! `INSERT ... RETURNING` all show their rows. Rows are streamed: the
//! column widths come from the first [`WIDTH_ROWS`] rows, which are then
//! printed; later rows are printed as they come, padded to those widths
//! (a longer cell widens its line only), so memory stays bounded whatever
//! the size of the result.

use std::fmt::Write as _;

use covet::{Columns, ExecResult, Outcome, Row, RowStream, Statement, Value};
use futures_util::{FutureExt, StreamExt};

use super::out::{Lines, outln};
use super::{DbArgs, Failure, connect};

/// Rows read before the column widths are chosen.
pub(crate) const WIDTH_ROWS: usize = 100;

/// Arguments of `covet sql`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Rows are printed as they arrive; column widths are chosen from the first 100 rows."
)]
pub(crate) struct Args {
    #[command(flatten)]
    db: DbArgs,
    /// The SQL statement (quote it for the shell). Whether it returns rows
    /// is what the server says, whatever its first word. It may start
    /// with a `--` comment.
    #[arg(allow_hyphen_values = true)]
    sql: String,
    /// Longest cell shown, in characters (longer values are cut with `…`).
    #[arg(long, default_value_t = 60)]
    max_width: usize,
}

/// Runs `covet sql`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    if args.sql.trim().is_empty() {
        return Err(Failure::usage("the SQL statement is empty"));
    }
    let url = args.db.resolve()?;
    let (db, _) = connect(&url).await?;
    let stmt = Statement::new(args.sql.as_str());
    let result = match db.run(&stmt).await {
        Ok(Outcome::Rows(rs)) => print_rows(&rs.columns, rs.rows, args.max_width.max(4)).await,
        Ok(Outcome::Done(r)) => outln!("{}", affected(&r)),
        Ok(_) => Err(Failure::failed(
            "the database returned an unknown kind of result",
        )),
        Err(e) => Err(e.into()),
    };
    db.close().await;
    result
}

fn affected(r: &ExecResult) -> String {
    let mut s = format!(
        "{} row{} affected",
        r.rows_affected,
        if r.rows_affected == 1 { "" } else { "s" }
    );
    if let Some(id) = r.last_insert_id.filter(|id| *id > 0) {
        let _ = write!(s, " (last insert id {id})");
    }
    s
}

/// Prints a streamed result: the header and the first rows once
/// [`WIDTH_ROWS`] rows (or the end) have arrived, then each row as it
/// comes, flushing whenever the next row is not ready yet.
async fn print_rows(columns: &Columns, mut rows: RowStream, max: usize) -> Result<(), Failure> {
    let mut out = Lines::default();
    let mut first: Vec<Row> = Vec::with_capacity(WIDTH_ROWS);
    let mut table: Option<Table> = None;
    let mut count: u64 = 0;
    loop {
        let next = match rows.next().now_or_never() {
            Some(next) => next,
            None => {
                // About to wait for the server: show what we have.
                if table.is_some() {
                    out.flush()?;
                }
                rows.next().await
            }
        };
        // A value the CLI cannot show ends the output like a server error,
        // after the rows before it.
        let next = next.map(|r| {
            r.and_then(|row| {
                row.values()?;
                Ok(row)
            })
        });
        let row = match next {
            Some(Ok(row)) => row,
            Some(Err(e)) => {
                // Show the rows that came before the error, then report it.
                if table.is_none() {
                    start(columns, &first, max, &mut out)?;
                }
                out.flush()?;
                return Err(e.into());
            }
            None => break,
        };
        count += 1;
        match &table {
            Some(t) => out.line(&t.line(&row_cells(&row, max), true))?,
            None => {
                first.push(row);
                if first.len() == WIDTH_ROWS {
                    table = Some(start(columns, &first, max, &mut out)?);
                    first.clear();
                }
            }
        }
    }
    if table.is_none() {
        start(columns, &first, max, &mut out)?;
    }
    out.line(&format!(
        "({count} row{})",
        if count == 1 { "" } else { "s" }
    ))?;
    out.flush()
}

/// Chooses the widths from `first`, prints the header and those rows.
fn start(columns: &Columns, first: &[Row], max: usize, out: &mut Lines) -> Result<Table, Failure> {
    let headers: Vec<String> = columns.iter().map(|c| clip(&c.name, max)).collect();
    let cells: Vec<Vec<String>> = first.iter().map(|r| row_cells(r, max)).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric = (0..headers.len())
        .map(|i| {
            !first.is_empty()
                && first.iter().all(|r| {
                    matches!(
                        r.value(i).ok(),
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
                })
        })
        .collect();
    let t = Table { widths, numeric };
    if !headers.is_empty() {
        out.line(&t.line(&headers, false))?;
        let sep: Vec<String> = t.widths.iter().map(|w| "-".repeat(*w)).collect();
        out.line(&format!("-{}-", sep.join("-+-")))?;
    }
    for row in &cells {
        out.line(&t.line(row, true))?;
    }
    Ok(t)
}

/// Column widths and which columns are right-aligned, fixed once the first
/// rows are in.
struct Table {
    widths: Vec<usize>,
    numeric: Vec<bool>,
}

impl Table {
    fn line(&self, vals: &[String], align_num: bool) -> String {
        let parts: Vec<String> = vals
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let width = self.widths.get(i).copied().unwrap_or(0);
                let pad = width.saturating_sub(v.chars().count());
                if align_num && self.numeric.get(i).copied().unwrap_or(false) {
                    format!("{}{v}", " ".repeat(pad))
                } else {
                    format!("{v}{}", " ".repeat(pad))
                }
            })
            .collect();
        format!(" {}", parts.join(" | ").trim_end())
    }
}

fn row_cells(row: &Row, max: usize) -> Vec<String> {
    // print_rows decoded every row it keeps, so this cannot fail here.
    row.values()
        .unwrap_or_default()
        .iter()
        .map(|v| clip(&cell(v), max))
        .collect()
}

/// How a value is shown in a cell.
pub(crate) fn cell(v: &Value) -> String {
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
