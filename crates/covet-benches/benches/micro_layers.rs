//! Criterion micro-benchmarks of the layers' hot paths:
//! the circuit breaker's closed-state check (acquire + report success) and
//! the slow log's below-threshold path, plus one call through the whole
//! stack over an in-memory adapter against the same adapter bare.
//!
//! `cargo bench -p covet-benches --bench micro_layers`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Engine, Statement};
use covet_monitor::{MetricsLayer, QueryEvent, SlowLog, SlowQueryLogger};
use covet_resilience::breaker::Breaker;
use covet_resilience::testing::MockAdapter;
use covet_resilience::{CircuitBreaker, RetryPolicy};
use criterion::{Criterion, criterion_group, criterion_main};

fn breaker(c: &mut Criterion) {
    let b = CircuitBreaker::builder().build().expect("breaker");
    c.bench_function("breaker closed: try_acquire + on_success", |bench| {
        bench.iter(|| {
            let a = black_box(&b).try_acquire().expect("closed");
            b.on_success(black_box(a));
        });
    });
}

fn slow_log(c: &mut Criterion) {
    let log = SlowQueryLogger::builder()
        .threshold(Duration::from_millis(100))
        .build();
    let stmt = Statement::new("SELECT id, name, email, age FROM users WHERE id = $1").bind(42_i64);
    c.bench_function("slow log: below-threshold observe", |bench| {
        bench.iter(|| {
            let ev = QueryEvent {
                engine: Engine::Postgres,
                stmt: black_box(&stmt),
                elapsed: black_box(Duration::from_micros(350)),
                error: None,
                rows: Some(1),
            };
            black_box(log.observe(&ev))
        });
    });
}

fn stack(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bare: Arc<dyn Adapter> = Arc::new(MockAdapter::new().without_history());
    let full = covet::stack(bare.clone())
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(
            CircuitBreaker::builder().build().expect("breaker"),
        ))
        .metrics(MetricsLayer::new())
        .slow_log(Arc::new(SlowQueryLogger::default()))
        .build();
    let stmt = Statement::new("SELECT id, name, email, age FROM users WHERE id = $1")
        .bind(42_i64)
        .idempotent(true);
    let mut g = c.benchmark_group("one query over an in-memory adapter");
    g.bench_function("bare", |b| {
        b.iter(|| rt.block_on(bare.query(black_box(&stmt))).expect("query"));
    });
    g.bench_function("full stack", |b| {
        b.iter(|| rt.block_on(full.query(black_box(&stmt))).expect("query"));
    });
    g.finish();
}

criterion_group!(benches, breaker, slow_log, stack);
criterion_main!(benches);
