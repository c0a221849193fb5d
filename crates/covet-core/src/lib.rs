//! Covet's shared types.
//!
//! Every other Covet crate speaks these: the object-safe [`Adapter`] trait
//! (and [`Transaction`]) that backends implement and layers wrap,
//! [`Statement`], [`Value`] and [`Row`], one [`Error`] with an [`ErrorKind`]
//! and a [`RetryClass`], the [`Dialect`] of each [`Engine`], and
//! [`DatabaseUrl`], whose `Debug` and `Display` never show a password.
//!
//! This crate has no driver and no runtime dependency (the optional `pool`
//! feature adds covet-pool, for `Error::from_pool`).
//!
//! ```
//! use covet_core::{Statement, DatabaseUrl, Engine};
//!
//! let url: DatabaseUrl = "mysql://app:secret@db:3306/shop".parse()?;
//! let dialect = url.engine().dialect();
//! let sql = dialect.rewrite_placeholders("SELECT * FROM users WHERE id = $1");
//! assert_eq!(sql, "SELECT * FROM users WHERE id = ?");
//! let stmt = Statement::new(sql.into_owned()).bind(7_i64).idempotent(true);
//! assert_eq!(url.to_string(), "mysql://app:***@db:3306/shop");
//! # Ok::<(), covet_core::Error>(())
//! ```
#![forbid(unsafe_code)]

mod adapter;
mod dialect;
mod error;
mod layer;
mod layered;
mod password;
mod row;
mod schema;
mod settings;
mod statement;
mod url;
mod value;

pub use adapter::{
    Adapter, BulkRows, CopyIn, CopyOutStream, ExecResult, IsolationLevel, Outcome, PoolState,
    ResultStream, RowStream, Transaction, TxOptions, TxRowStream,
};
pub use dialect::{Dialect, Engine, PlaceholderStyle};
pub use error::{Error, ErrorKind, Result, RetryClass, ServerCode};
pub use layer::Layer;
pub use layered::{Call, CallKind, Intercept, Layered, Reply};
pub use password::{PasswordOrigin, PasswordSources, ResolvedPassword};
pub use row::{Column, ColumnIndex, Columns, RawRow, RawRows, Row, Rows};
pub use schema::{ColumnInfo, ForeignKey, Index, Schema, Table};
pub use settings::{PoolSettings, parse_duration};
pub use statement::Statement;
pub use url::{DatabaseUrl, Secret, SqliteTarget};
pub use value::{ConvertError, Decimal, Decode, FromValue, Json, Value, ValueRef};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
