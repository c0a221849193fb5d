#![doc = include_str!("../README.md")]
//!
//! ## Module map
//!
//! - [`model`]: the [`Model`] trait, [`ModelMeta`] / [`ColumnDef`] and the
//!   [`Field`] type mapping that `#[derive(Model)]` targets.
//! - [`expr`]: typed [`Column`] constants, [`Expr`] filters and [`Order`].
//! - [`lookup`]: Django-style dynamic lookups.
//! - [`QuerySet`], [`ModelExt`] (insert, save, delete, bulk_create, upsert),
//!   [`transaction`] / [`savepoint`] closures,
//!   [`ddl`] (create / drop table) and [`Executor`] / [`Db`].
#![forbid(unsafe_code)]

pub mod ddl;
mod error;
mod exec;
pub mod expr;
mod group;
mod hint;
pub mod lookup;
pub mod model;
mod partial;
mod query;
mod related;
mod site;
mod sql;
mod tx;
mod write;

pub use covet_orm_macros::Model;
pub use error::{OrmError, OrmResult};
pub use exec::{Db, Executor, TxExecutor};
pub use expr::{AnyColumn, Arith, Column, Expr, Order, TextColumn};
pub use group::{AGGREGATES, Agg, GroupRow, Grouped};
pub use lookup::LookupArg;
pub use model::{ColumnDef, Field, Model, ModelMeta, Reference, SqlType};
pub use partial::{Only, Partial};
pub use query::{Assign, QuerySet, Summable};
pub use related::{
    Nested, Prefetch, Prefetch2, PrefetchThrough, Prefetched, Relation, SelectRelated,
    SelectRelated2,
};
pub use tx::{TxFuture, savepoint, transaction, transaction_with_retry};
pub use write::{
    ModelExt, bulk_insert_sql, bulk_update_sql, delete_sql, insert_sql, save_sql, upsert_sql,
};

/// What the derive's generated code names; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use covet_core::{Error, FromValue, Result, Row, Value};
}
