//! Transactions, savepoints, COPY and classification on PostgreSQL.

mod support;

use covet_adapter_pg::PgAdapter;
use covet_core::{
    Adapter, ErrorKind, IsolationLevel, Result, RetryClass, ServerCode, Statement, TxOptions, Value,
};
use support::{Scratch, pg_url};

async fn run<F, Fut>(test: &str, f: F)
where
    F: FnOnce(PgAdapter) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(base) = pg_url(test) else { return };
    let scratch = Scratch::new(&base, "tx").await.expect("scratch schema");
    let a = PgAdapter::connect(&scratch.url.with_param("max_connections", "2"))
        .await
        .expect("connect");
    a.execute(&Statement::new(
        "CREATE TABLE acct (id INT PRIMARY KEY, owner TEXT NOT NULL UNIQUE, \
         balance NUMERIC(12, 2) NOT NULL CHECK (balance >= 0))",
    ))
    .await
    .expect("create acct");
    a.execute(&Statement::new(
        "CREATE TABLE entry (id BIGSERIAL PRIMARY KEY, acct INT NOT NULL REFERENCES acct(id), note TEXT)",
    ))
    .await
    .expect("create entry");
    let r = f(a.clone()).await;
    a.close().await;
    scratch.drop_schema().await;
    r.unwrap();
}

async fn count(a: &PgAdapter, table: &str) -> Result<i64> {
    a.query(&Statement::new(format!("SELECT count(*) FROM {table}")))
        .await?
        .rows[0]
        .get::<i64>(0)
}

fn acct(id: i32, owner: &str, balance: &str) -> Statement {
    Statement::new("INSERT INTO acct VALUES ($1, $2, $3)")
        .bind(id)
        .bind(owner)
        .bind(Value::Decimal(balance.parse().unwrap()))
}

#[tokio::test]
async fn nested_savepoints_commit_rollback_and_drop() {
    run("nested_savepoints", |a| async move {
        let mut tx = a.begin().await?;
        tx.execute(&acct(1, "a", "10.00")).await?;
        {
            let mut sp1 = tx.savepoint().await?;
            sp1.execute(&acct(2, "b", "1")).await?;
            {
                let mut sp2 = sp1.savepoint().await?;
                sp2.execute(&acct(3, "c", "1")).await?;
                // Dropped without commit: rolled back to sp2.
            }
            {
                let mut sp3 = sp1.savepoint().await?;
                let e = sp3.execute(&acct(4, "a", "1")).await.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::UniqueViolation);
                sp3.rollback().await?;
            }
            sp1.execute(&acct(5, "e", "1")).await?;
            sp1.commit().await?;
        }
        {
            let mut sp4 = tx.savepoint().await?;
            sp4.execute(&acct(6, "f", "1")).await?;
            sp4.rollback().await?;
        }
        tx.commit().await?;
        let rows = a
            .query(&Statement::new("SELECT id FROM acct ORDER BY id"))
            .await?;
        let ids: Vec<i32> = rows.iter().map(|r| r.get::<i32>(0).unwrap()).collect();
        assert_eq!(ids, vec![1, 2, 5]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn dropped_and_failed_transactions_roll_back() {
    run(
        "dropped_and_failed_transactions_roll_back",
        |a| async move {
            let mut tx = a.begin().await?;
            tx.execute(&acct(1, "a", "1")).await?;
            drop(tx);
            assert_eq!(count(&a, "acct").await?, 0);

            let mut tx = a.begin().await?;
            tx.execute(&acct(1, "a", "1")).await?;
            let e = tx.execute(&acct(2, "b", "-1")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::CheckViolation);
            let e = tx.commit().await.unwrap_err();
            assert_eq!(e.code(), ServerCode::sqlstate("25P02"), "{e:?}");
            assert_eq!(
                count(&a, "acct").await?,
                0,
                "a failed transaction committed"
            );

            // Read only and isolation options reach the server.
            let mut tx = a
                .begin_with(TxOptions {
                    isolation: Some(IsolationLevel::Serializable),
                    read_only: true,
                })
                .await?;
            let level = tx
                .query(&Statement::new("SHOW transaction_isolation"))
                .await?
                .rows[0]
                .get::<String>(0)?;
            assert_eq!(level, "serializable");
            let e = tx.execute(&acct(9, "z", "1")).await.unwrap_err();
            assert_eq!(e.code(), ServerCode::sqlstate("25006"), "{e:?}");
            tx.rollback().await?;
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn server_errors_are_classified_without_leaking_values() {
    run("server_errors_are_classified", |a| async move {
        a.execute(&acct(1, "secret-owner-name", "5")).await?;
        let cases = [
            (
                acct(2, "secret-owner-name", "1"),
                ErrorKind::UniqueViolation,
                "23505",
            ),
            (
                Statement::new("INSERT INTO entry (acct) VALUES ($1)").bind(99),
                ErrorKind::ForeignKeyViolation,
                "23503",
            ),
            (
                Statement::new("INSERT INTO acct VALUES (3, NULL, 1)"),
                ErrorKind::NotNullViolation,
                "23502",
            ),
            (acct(4, "d", "-3"), ErrorKind::CheckViolation, "23514"),
            (Statement::new("SELEC 1"), ErrorKind::Syntax, "42601"),
            (
                Statement::new("SELECT * FROM no_such_table"),
                ErrorKind::Syntax,
                "42P01",
            ),
        ];
        for (stmt, kind, code) in cases {
            let e = a.execute(&stmt).await.unwrap_err();
            assert_eq!(e.kind(), kind, "{stmt:?}: {e:?}");
            assert_eq!(e.code(), ServerCode::sqlstate(code));
            assert_eq!(e.retry_class(), RetryClass::Never);
            assert!(!format!("{e:?}").contains("secret-owner-name"), "{e:?}");
        }

        // Lock not available (NOWAIT): retry the statement.
        let mut holder = a.begin().await?;
        holder
            .query(&Statement::new(
                "SELECT * FROM acct WHERE id = 1 FOR UPDATE",
            ))
            .await?;
        let e = a
            .query(&Statement::new(
                "SELECT * FROM acct WHERE id = 1 FOR UPDATE NOWAIT",
            ))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e:?}");
        assert_eq!(e.retry_class(), RetryClass::RetryStatement);
        holder.rollback().await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn copy_bulk_insert_in_binary() {
    run("copy_bulk_insert_in_binary", |a| async move {
        let cols: Vec<String> = ["id", "owner", "balance"].map(String::from).to_vec();
        let rows: Vec<Vec<Value>> = (1..=5000)
            .map(|i| {
                vec![
                    Value::I32(i),
                    Value::Text(format!("ówner {i}")),
                    Value::Decimal(format!("{i}.{:02}", i % 100).parse().unwrap()),
                ]
            })
            .collect();
        assert_eq!(a.bulk_insert("acct", &cols, rows.into()).await?, 5000);
        let rows = a
            .query(&Statement::new(
                "SELECT owner, balance::text FROM acct WHERE id = 4321",
            ))
            .await?;
        assert_eq!(rows.rows[0].get::<String>(0)?, "ówner 4321");
        assert_eq!(rows.rows[0].get::<String>(1)?, "4321.21");

        // NULLs and schema-qualified names.
        let ecols: Vec<String> = ["acct", "note"].map(String::from).to_vec();
        let n = a
            .bulk_insert(
                "entry",
                &ecols,
                vec![
                    vec![Value::I64(1), Value::Null],
                    vec![Value::I64(2), "x".into()],
                ]
                .into(),
            )
            .await?;
        assert_eq!(n, 2);

        // A value of the wrong type is an Encode error naming both types,
        // and nothing of the batch is written.
        let e = a
            .bulk_insert(
                "entry",
                &ecols,
                vec![vec![Value::from("one"), Value::Null]].into(),
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Encode, "{e:?}");
        assert!(
            e.message().contains("text") && e.message().contains("int4"),
            "{e}"
        );
        let e = a
            .bulk_insert("entry", &ecols, vec![vec![Value::I64(1)]].into())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Encode);
        assert_eq!(count(&a, "entry").await?, 2);
        // The connection is fine after the failed COPY.
        assert_eq!(count(&a, "acct").await?, 5000);
        Ok(())
    })
    .await;
}
