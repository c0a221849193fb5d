//! The cases. Each takes the backend under test and returns `Ok(())` when
//! the adapter behaved as the contract says; [`crate::conformance_suite!`]
//! turns each into a `#[test]`.

use std::sync::Arc;

use covet_core::{Adapter, ExecResult, Result, Rows, Value};

use crate::util::portable;
use crate::{Backend, MappedType};

mod basics;
mod connect;
mod errors;
mod load;
mod schema;
mod timeouts;
mod tx;
mod types;

pub use basics::{crud, ping_and_version};
pub use connect::{
    connection_refused_is_classified, pool_wait_timeout_is_classified,
    tls_required_but_not_offered_is_classified, unknown_host_is_classified,
    unknown_user_is_classified, wrong_password_is_classified,
    wrong_password_while_waiting_is_classified,
};
pub use errors::{
    check_violation_is_classified, foreign_key_violation_is_classified,
    not_null_violation_is_classified, syntax_error_is_classified, unique_violation_is_classified,
};
pub use load::{
    bulk_insert_10k_rows, concurrent_200_tasks_over_pool_of_10, server_gone_connection_replaced,
    stream_million_rows_bounded_memory,
};
pub use schema::schema_introspection;
pub use timeouts::{default_statement_timeout_applies, statement_timeout_cancels_on_server};
pub use tx::{
    commit_and_rollback, dropped_transaction_rolls_back, nested_savepoints,
    stream_inside_transaction, transaction_options,
};
pub use types::{
    blob_16mb_round_trips, every_type_round_trips, extreme_values_round_trip, null_in_every_type,
    value_that_does_not_fit_is_a_typed_error,
};

/// Runs portable SQL (`$n` placeholders) that returns no rows.
async fn exec(adapter: &dyn Adapter, sql: &str, params: Vec<Value>) -> Result<ExecResult> {
    adapter
        .execute(&portable(adapter.dialect(), sql, params))
        .await
}

/// Runs a portable query.
async fn query(adapter: &dyn Adapter, sql: &str, params: Vec<Value>) -> Result<Rows> {
    adapter
        .query(&portable(adapter.dialect(), sql, params))
        .await
}

/// `SELECT COUNT(*) FROM table` as an i64.
async fn count(adapter: &dyn Adapter, table: &str) -> Result<i64> {
    let rows = query(
        adapter,
        &format!("SELECT COUNT(*) AS n FROM {table}"),
        vec![],
    )
    .await?;
    let row = rows
        .rows
        .first()
        .ok_or_else(|| crate::util::fail("COUNT(*) returned no row"))?;
    row.get::<i64>(0)
}

/// The workload's `users` table (../shared/workload.md), the one most
/// cases write to.
async fn create_users(b: &impl Backend, adapter: &dyn Adapter) -> Result<()> {
    let ts = b.column_type(MappedType::Timestamp);
    exec(
        adapter,
        &format!(
            "CREATE TABLE users (id {}, name VARCHAR(100) NOT NULL, \
             email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, \
             hair_color VARCHAR(50) NULL, created_at {ts} NOT NULL)",
            b.auto_id()
        ),
        vec![],
    )
    .await?;
    exec(adapter, "CREATE INDEX users_age_idx ON users (age)", vec![]).await?;
    Ok(())
}

/// A fixed timestamp for `created_at`.
fn created_at() -> Value {
    Value::Timestamp(
        chrono::NaiveDate::from_ymd_opt(2024, 5, 17)
            .and_then(|d| d.and_hms_opt(12, 30, 0))
            .unwrap_or_default(),
    )
}

/// Inserts user `id` with a unique email.
async fn insert_user(adapter: &dyn Adapter, id: i64, name: &str, age: i32) -> Result<ExecResult> {
    exec(
        adapter,
        "INSERT INTO users (id, name, email, age, hair_color, created_at) VALUES ($1, $2, $3, $4, NULL, $5)",
        vec![
            Value::I64(id),
            Value::from(name),
            Value::Text(format!("user{id}@example.com")),
            Value::I32(age),
            created_at(),
        ],
    )
    .await
}

fn adapter_of<B: Backend>(b: &Arc<B>) -> Arc<dyn Adapter> {
    b.adapter()
}
