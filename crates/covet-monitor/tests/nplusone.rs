//! N+1 detection and query budgets through `NPlusOneLayer` over SQLite.

use std::panic::Location;
use std::sync::Arc;

use covet_core::{Adapter, ErrorKind, Layer, Statement};
use covet_monitor::nplusone::{
    self, Budget, Mode, NPlusOneError, NPlusOneLayer, Scope, check_constant_queries, with_call_site,
};

async fn sqlite(mode: Mode) -> Arc<dyn Adapter> {
    let url = "sqlite::memory:".parse().unwrap();
    let raw: Arc<dyn Adapter> = Arc::new(
        covet_adapter_sqlite::SqliteAdapter::connect(&url)
            .await
            .unwrap(),
    );
    let db = NPlusOneLayer::new().mode(mode).layer(raw);
    db.execute(&Statement::new("CREATE TABLE t (id INTEGER, name TEXT)"))
        .await
        .unwrap();
    for i in 0..5i64 {
        db.execute(
            &Statement::new("INSERT INTO t (id, name) VALUES (?, ?)")
                .bind(i)
                .bind(format!("secret-name-{i}")),
        )
        .await
        .unwrap();
    }
    db
}

fn by_id(id: i64) -> Statement {
    Statement::new("SELECT name FROM t WHERE id = ?").bind(id)
}

#[tokio::test]
async fn budgets_count_every_statement_in_the_block() {
    let db = sqlite(Mode::Off).await;
    nplusone::assert_max_queries(3, async {
        for i in 0..3 {
            db.query(&by_id(i)).await.unwrap();
        }
    })
    .await;
    nplusone::assert_num_queries(2, async {
        db.query(&by_id(1)).await.unwrap();
        db.execute(&Statement::new("UPDATE t SET name = 'x' WHERE id = 9"))
            .await
            .unwrap();
    })
    .await;
    // Outside any scope nothing is counted and nothing fails.
    db.query(&by_id(1)).await.unwrap();
}

#[tokio::test]
async fn a_failing_budget_lists_fingerprints_never_values() {
    let db = sqlite(Mode::Off).await;
    let err = Budget::new()
        .max(2)
        .check(async {
            for i in 0..4 {
                db.query(&by_id(i)).await.unwrap();
            }
            db.query(&Statement::new(
                "SELECT count(*) FROM t WHERE name = 'secret-literal'",
            ))
            .await
            .unwrap();
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("expected at most 2 statements, 5 ran"),
        "{text}"
    );
    assert!(
        text.contains("4 x select name from t where id = ?"),
        "{text}"
    );
    assert!(
        text.contains("1 x select count(*) from t where name = ?"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");

    let err = Budget::new().exactly(1).check(async {}).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("expected exactly 1 statements, 0 ran")
    );
}

#[tokio::test]
async fn per_fingerprint_budgets() {
    let db = sqlite(Mode::Off).await;
    let block = || async {
        for i in 0..3 {
            db.query(&by_id(i)).await.unwrap();
        }
        db.query(&Statement::new("SELECT 1")).await.unwrap();
    };
    Budget::new()
        .max_for("SELECT name FROM t WHERE id = $1", 3)
        .max_for("SELECT 1", 1)
        .check(block())
        .await
        .unwrap();
    let err = Budget::new()
        .max_for("select name from t where id = 42", 2)
        .check(block())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "expected \"select name from t where id = ?\" at most 2 times, it ran 3 times"
        ),
        "{err}"
    );
    let err = Budget::new().max_each(2).check(block()).await.unwrap_err();
    assert!(err.to_string().contains("ran 3 times"), "{err}");
    assert_eq!(err.report.count_of("SELECT 2"), 1);
    assert_eq!(err.report.count_of("select name from t where id = $1"), 3);
}

#[tokio::test]
async fn scale_check_catches_statements_that_grow_with_the_data() {
    let db = sqlite(Mode::Off).await;
    // One query per row: grows.
    let err = check_constant_queries(2, 5, |n| {
        let db = Arc::clone(&db);
        async move {
            for i in 0..n as i64 {
                db.query(&by_id(i)).await.unwrap();
            }
        }
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("statements grow with the data: 2 at size 2, 5 at size 5"),
        "{err}"
    );
    // One IN query: constant.
    check_constant_queries(2, 5, |n| {
        let db = Arc::clone(&db);
        async move {
            let marks = vec!["?"; n].join(", ");
            let mut stmt = Statement::new(format!("SELECT name FROM t WHERE id IN ({marks})"));
            for i in 0..n as i64 {
                stmt = stmt.bind(i);
            }
            db.query(&stmt).await.unwrap();
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn error_mode_refuses_the_statement_over_the_threshold_with_its_call_site() {
    let db = sqlite(Mode::Error).await;
    let site = Location::caller();
    let (results, report) = nplusone::scope(async {
        let mut results = Vec::new();
        for i in 0..4 {
            results.push(with_call_site(site, db.query(&by_id(i))).await);
        }
        results
    })
    .await;
    assert!(results[0].is_ok() && results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let found = NPlusOneError::find(err).expect("the report is the error's source");
    assert_eq!(found.call_site, Some(site));
    assert_eq!(found.count, 3);
    assert_eq!(found.fingerprint, "select name from t where id = ?");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{}:{}", site.file(), site.line())),
        "{msg}"
    );
    assert!(msg.contains("id"), "{msg}");
    assert!(results[3].is_err());
    assert_eq!(report.n_plus_one().len(), 1);
    assert_eq!(report.n_plus_one()[0].count, 4);
}

#[tokio::test]
async fn different_call_sites_are_different_groups_and_raw_sql_is_unknown() {
    let db = sqlite(Mode::Error).await;
    let (a, b) = (Location::caller(), by_id_site());
    let ((), report) = nplusone::scope(async {
        for i in 0..2 {
            with_call_site(a, db.query(&by_id(i))).await.unwrap();
            with_call_site(b, db.query(&by_id(i))).await.unwrap();
        }
        db.query(&by_id(1)).await.unwrap();
        db.query(&by_id(2)).await.unwrap();
        // The third without a call site crosses the threshold of "unknown".
        let err = db.query(&by_id(3)).await.unwrap_err();
        assert_eq!(NPlusOneError::find(&err).unwrap().call_site, None);
        assert!(err.to_string().contains("at unknown"), "{err}");
    })
    .await;
    assert_eq!(report.total(), 7);
}

#[track_caller]
fn by_id_site() -> &'static Location<'static> {
    Location::caller()
}

#[tokio::test]
async fn concurrent_statements_count_and_keep_their_own_call_sites() {
    let db = sqlite(Mode::Log).await;
    let (a, b) = (Location::caller(), by_id_site());
    let ((), report) = nplusone::scope(async {
        let futs = (0..3).map(|i| {
            let db = Arc::clone(&db);
            let site = if i == 1 { b } else { a };
            with_call_site(site, async move { db.query(&by_id(i)).await.unwrap() })
        });
        futures_util::future::join_all(futs).await;
        let more = (0..2).map(|i| {
            let db = Arc::clone(&db);
            with_call_site(a, async move { db.query(&by_id(i)).await.unwrap() })
        });
        futures_util::future::join_all(more).await;
    })
    .await;
    assert_eq!(report.total(), 5);
    // Site a ran 4 statements (reported), site b one (not).
    assert_eq!(report.n_plus_one().len(), 1);
    assert_eq!(report.n_plus_one()[0].call_site, Some(a));
    assert_eq!(report.n_plus_one()[0].count, 4);
}

#[tokio::test]
async fn log_mode_lets_statements_run_and_threshold_is_configurable() {
    let db = sqlite(Mode::Log).await;
    let ((), report) = Scope::new()
        .threshold(4)
        .run(async {
            for i in 0..4 {
                db.query(&by_id(i)).await.unwrap();
            }
        })
        .await;
    assert!(report.n_plus_one().is_empty());
    let ((), report) = Scope::new()
        .threshold(1)
        .run(async {
            for i in 0..4 {
                db.query(&by_id(i)).await.unwrap();
            }
        })
        .await;
    assert_eq!(report.n_plus_one()[0].count, 4);
}

#[tokio::test]
async fn statements_inside_transactions_and_savepoints_are_seen() {
    let db = sqlite(Mode::Error).await;
    let ((), report) = nplusone::scope(async {
        let mut tx = db.begin().await.unwrap();
        tx.query(&by_id(0)).await.unwrap();
        let mut sp = tx.savepoint().await.unwrap();
        sp.query(&by_id(1)).await.unwrap();
        let err = sp.query(&by_id(2)).await.unwrap_err();
        assert!(NPlusOneError::find(&err).is_some());
        sp.rollback().await.unwrap();
        tx.rollback().await.unwrap();
    })
    .await;
    assert_eq!(report.count_of("select name from t where id = ?"), 3);
}

#[tokio::test]
async fn nested_scopes_count_in_the_outer_one_too() {
    let db = sqlite(Mode::Off).await;
    nplusone::assert_num_queries(3, async {
        db.query(&by_id(0)).await.unwrap();
        nplusone::assert_num_queries(2, async {
            db.query(&by_id(1)).await.unwrap();
            db.query(&by_id(2)).await.unwrap();
        })
        .await;
    })
    .await;
}

#[test]
fn sample_mode_exports_a_metric_for_sampled_scopes() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let db = sqlite(Mode::Sample { every: 1 }).await;
                let ((), report) = nplusone::scope(async {
                    for i in 0..4 {
                        db.query(&by_id(i)).await.unwrap();
                    }
                })
                .await;
                assert_eq!(report.n_plus_one().len(), 1);
            });
    });
    let text = handle.render();
    assert!(
        text.lines()
            .any(|l| l.starts_with("covet_n_plus_one_total{") && l.ends_with(" 1")),
        "{text}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// No value reaches a report: neither bound parameters nor literals
    /// written into raw SQL show in a budget failure or an N+1 error.
    #[test]
    fn reports_never_show_values(
        text in "[A-Za-z0-9_@.-]{6,24}",
        number in 100_000i64..i64::MAX,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (budget_text, error_text) = rt.block_on(async {
            let db = sqlite(Mode::Error).await;
            let raw_sql = format!("SELECT '{text}', {number} FROM t WHERE name = '{text}'");
            let err = Budget::new()
                .max(0)
                .check(async {
                    db.query(&Statement::new(raw_sql.clone())).await.unwrap();
                    db.query(&by_id(number)).await.unwrap();
                    db.query(&Statement::new("SELECT ? FROM t").bind(text.clone()))
                        .await
                        .unwrap();
                })
                .await
                .unwrap_err();
            let (error_text, _) = nplusone::scope(async {
                for _ in 0..2 {
                    db.query(&Statement::new(raw_sql.clone())).await.unwrap();
                }
                let e = db.query(&Statement::new(raw_sql.clone())).await.unwrap_err();
                let found = NPlusOneError::find(&e).expect("refused as an N+1");
                format!("{e} {e:?} {found:?} {found}")
            })
            .await;
            (format!("{err} {err:?}"), error_text)
        });
        for shown in [&budget_text, &error_text] {
            proptest::prop_assert!(!shown.contains(&text), "{shown}");
            proptest::prop_assert!(!shown.contains(&number.to_string()), "{shown}");
        }
    }
}

/// Through the facade's builder, added first so it sits on top: each
/// statement is counted once, whatever the layers below do.
#[tokio::test]
async fn the_layer_composes_with_the_facade_builder() {
    let url = "sqlite::memory:".parse().unwrap();
    let raw: Arc<dyn Adapter> = Arc::new(
        covet_adapter_sqlite::SqliteAdapter::connect(&url)
            .await
            .unwrap(),
    );
    let db = covet::stack(raw)
        .layer(NPlusOneLayer::new().mode(Mode::Error))
        .timeout(std::time::Duration::from_secs(5))
        .metrics(covet_monitor::MetricsLayer::new())
        .build();
    db.execute(&Statement::new("CREATE TABLE t (id INTEGER, name TEXT)"))
        .await
        .unwrap();
    nplusone::assert_num_queries(2, async {
        db.query(&by_id(1)).await.unwrap();
        db.query(&by_id(2)).await.unwrap();
    })
    .await;
    let ((), report) = nplusone::scope(async {
        for i in 0..2 {
            db.query(&by_id(i)).await.unwrap();
        }
        assert!(db.query(&by_id(3)).await.is_err());
    })
    .await;
    assert_eq!(report.n_plus_one().len(), 1);
}
