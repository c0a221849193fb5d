//! A property: whatever the nesting of transactions and savepoints, a hook
//! above the resilience stack (timeout, retry, breaker) and one below it
//! each see every statement once, at its depth, in order, and the one
//! below sees each with the timeout layer's default set (so the timeout
//! layer handled every statement, in transactions and savepoints too).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet_core::{
    Adapter, Call, CallKind, Intercept, Layer, Layered, Reply, Result, Statement, Transaction,
};
use covet_resilience::testing::MockAdapter;
use covet_resilience::{BreakerLayer, CircuitBreaker, RetryLayer, RetryPolicy, TimeoutLayer};
use proptest::prelude::*;

/// One statement as a hook saw it.
type Seen = (CallKind, u32, String, Option<Duration>);

/// Records each statement-bearing call.
#[derive(Clone, Default)]
struct Record(Arc<Mutex<Vec<Seen>>>);

impl Intercept for Record {
    fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        if let Some(stmt) = call.statement() {
            self.0.lock().unwrap().push((
                call.kind(),
                call.depth(),
                stmt.sql().to_owned(),
                stmt.timeout_duration(),
            ));
        }
        fut
    }
}

#[derive(Debug, Clone)]
enum Op {
    Stmt(u8),
    Savepoint(Vec<Op>, bool),
}

#[derive(Debug, Clone)]
enum Top {
    Stmt(u8),
    Tx(Vec<Op>, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = (0u8..3).prop_map(Op::Stmt);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            (0u8..3).prop_map(Op::Stmt),
            (prop::collection::vec(inner, 0..4), any::<bool>())
                .prop_map(|(ops, commit)| Op::Savepoint(ops, commit)),
        ]
    })
}

fn top() -> impl Strategy<Value = Top> {
    prop_oneof![
        (0u8..3).prop_map(Top::Stmt),
        (prop::collection::vec(op(), 0..5), any::<bool>()).prop_map(|(ops, c)| Top::Tx(ops, c)),
    ]
}

fn kind(k: u8) -> CallKind {
    match k {
        0 => CallKind::Execute,
        1 => CallKind::Query,
        _ => CallKind::QueryStream,
    }
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

fn run_ops<'a>(
    t: &'a mut (dyn Transaction + '_),
    ops: &'a [Op],
    depth: u32,
    n: &'a mut usize,
    want: &'a mut Vec<Seen>,
) -> BoxFut<'a> {
    Box::pin(async move {
        for op in ops {
            match op {
                Op::Stmt(k) => {
                    *n += 1;
                    let sql = format!("SELECT {n}");
                    let stmt = Statement::new(sql.clone());
                    match k {
                        0 => drop(t.execute(&stmt).await.unwrap()),
                        1 => drop(t.query(&stmt).await.unwrap()),
                        _ => drop(t.query_stream(&stmt).await.unwrap()),
                    }
                    want.push((kind(*k), depth, sql, None));
                }
                Op::Savepoint(inner, commit) => {
                    let mut sp = t.savepoint().await.unwrap();
                    run_ops(&mut *sp, inner, depth + 1, n, want).await;
                    if *commit {
                        sp.commit().await.unwrap();
                    } else {
                        sp.rollback().await.unwrap();
                    }
                }
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn a_hook_below_the_stack_sees_every_statement_at_its_depth(tops in prop::collection::vec(top(), 0..6)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let record = Record::default();
            let bottom: Arc<dyn Adapter> =
                Arc::new(Layered::new(Arc::new(MockAdapter::new()), record.clone()));
            let breaker = Arc::new(CircuitBreaker::builder().build().unwrap());
            let db = BreakerLayer::new(breaker).layer(bottom);
            let db = RetryLayer::new(RetryPolicy::default()).layer(db);
            let db = TimeoutLayer::new(Duration::from_secs(5)).layer(db);
            let above = Record::default();
            let db: Arc<dyn Adapter> = Arc::new(Layered::new(db, above.clone()));
            let mut want = Vec::new();
            let mut n = 0;
            for t in &tops {
                match t {
                    Top::Stmt(k) => {
                        n += 1;
                        let sql = format!("SELECT {n}");
                        let stmt = Statement::new(sql.clone());
                        match k {
                            0 => drop(db.execute(&stmt).await.unwrap()),
                            1 => drop(db.query(&stmt).await.unwrap()),
                            _ => drop(db.query_stream(&stmt).await.unwrap()),
                        }
                        want.push((kind(*k), 0, sql, None));
                    }
                    Top::Tx(ops, commit) => {
                        let mut tx = db.begin().await.unwrap();
                        run_ops(&mut *tx, ops, 1, &mut n, &mut want).await;
                        if *commit {
                            tx.commit().await.unwrap();
                        } else {
                            tx.rollback().await.unwrap();
                        }
                    }
                }
            }
            assert_eq!(*above.0.lock().unwrap(), want);
            let below: Vec<Seen> = want
                .iter()
                .map(|(k, d, sql, _)| (*k, *d, sql.clone(), Some(Duration::from_secs(5))))
                .collect();
            assert_eq!(*record.0.lock().unwrap(), below);
        });
    }
}
