//! Fault injection against real PostgreSQL and MariaDB through a TCP fault
//! proxy, and slow statements on real servers, all through the full stack.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use covet_core::{Adapter, Engine, ErrorKind, Statement, Value};
use covet_monitor::{JsonLinesSink, SlowQueryLogger, SlowRecord};
use covet_resilience::breaker::{Breaker, BreakerState, CircuitBreaker};
use covet_resilience::retry::{RetryBudget, RetryPolicy};
use support::proxy::FaultProxy;
use support::{Namespace, connect, server_url, sql, upstream, via};

const ENGINES: [Engine; 2] = [Engine::Postgres, Engine::MySql];

/// Runs a scenario with a hard limit, so a hung task fails the test.
async fn bounded<F: std::future::Future<Output = ()>>(limit: Duration, f: F) {
    tokio::time::timeout(limit, f)
        .await
        .expect("scenario hung past its limit");
}

const PROXY_PARAMS: &[(&str, &str)] = &[
    ("connect_timeout", "1s"),
    ("acquire_timeout", "2s"),
    ("max_connections", "4"),
];

async fn breaker_scenario(engine: Engine) {
    let Some(url) = server_url(engine) else {
        return;
    };
    let proxy = FaultProxy::start(upstream(&url)).await;
    let backend = connect(&via(&url, proxy.addr(), PROXY_PARAMS)).await;
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let seen = transitions.clone();
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .name(format!("faults-{engine}"))
            .open_duration(Duration::from_millis(500))
            .open_jitter(0.0)
            .probe_timeout(Some(Duration::from_secs(3)))
            .on_state_change(move |c| seen.lock().unwrap().push((c.from, c.to)))
            .build()
            .unwrap(),
    );
    let db = covet::stack(backend)
        .timeout(Duration::from_secs(3))
        .breaker(breaker.clone())
        .build();
    let ping = Statement::new("SELECT 1").idempotent(true);
    db.query(&ping).await.expect("warm-up through the proxy");

    proxy.cut();
    for i in 0..5 {
        let e = db.query(&ping).await.expect_err("cut proxy answered");
        assert!(e.is_outage(), "call {i}: {e:?} is not outage-class");
        assert_eq!(
            breaker.state(),
            if i < 4 {
                BreakerState::Closed
            } else {
                BreakerState::Open
            }
        );
    }

    let (accepted, bytes) = (proxy.accepted(), proxy.bytes());
    let mut worst = Duration::ZERO;
    for _ in 0..50 {
        let t = Instant::now();
        let e = db
            .query(&ping)
            .await
            .expect_err("open breaker let a call through");
        worst = worst.max(t.elapsed());
        assert_eq!(e.kind(), ErrorKind::CircuitOpen);
    }
    assert!(
        worst < Duration::from_millis(1),
        "open breaker took {worst:?}"
    );
    assert_eq!(
        (proxy.accepted(), proxy.bytes()),
        (accepted, bytes),
        "an open breaker touched the network"
    );

    proxy.heal();
    let deadline = Instant::now() + Duration::from_secs(20);
    while breaker.state() != BreakerState::Closed {
        assert!(
            Instant::now() < deadline,
            "breaker never closed: {:?}",
            transitions.lock().unwrap()
        );
        let _ = db.query(&ping).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = transitions.lock().unwrap().clone();
    use BreakerState::*;
    assert_eq!(t.first(), Some(&(Closed, Open)), "{t:?}");
    assert_eq!(
        &t[t.len() - 2..],
        &[(Open, HalfOpen), (HalfOpen, Closed)],
        "{t:?}"
    );
    db.query(&ping).await.expect("closed breaker after healing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_fails_fast_and_recovers() {
    for engine in ENGINES {
        bounded(Duration::from_secs(60), breaker_scenario(engine)).await;
    }
}

async fn deadline_scenario(engine: Engine) {
    let Some(url) = server_url(engine) else {
        return;
    };
    let proxy = FaultProxy::start(upstream(&url)).await;
    let backend = connect(&via(&url, proxy.addr(), PROXY_PARAMS)).await;
    let deadline = Duration::from_millis(1500);
    let policy = RetryPolicy::builder()
        .max_attempts(1000)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .deadline(Some(deadline))
        .budget(Arc::new(RetryBudget::unlimited()))
        .build()
        .unwrap();
    let db = covet::stack(backend).retry(policy).build();
    let ping = Statement::new("SELECT 1").idempotent(true);
    db.query(&ping).await.unwrap();

    // Refused and reset connections: many fast retries, stopped by the deadline.
    proxy.reset();
    let accepted = proxy.accepted();
    let t = Instant::now();
    db.query(&ping).await.expect_err("reset proxy answered");
    let took = t.elapsed();
    assert!(
        took <= deadline + Duration::from_millis(300),
        "cut: {took:?}"
    );
    assert!(proxy.accepted() > accepted + 1, "no retries were made");

    // A black hole (every byte held 30 s): the attempt in flight is cut at
    // the deadline.
    proxy.heal();
    db.query(&ping).await.expect("healed");
    proxy.delay(Duration::from_secs(30));
    let t = Instant::now();
    let e = db.query(&ping).await.expect_err("delayed proxy answered");
    let took = t.elapsed();
    assert!(
        took <= deadline + Duration::from_millis(300),
        "delay: {took:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Timeout);
    proxy.heal();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_the_deadline() {
    for engine in ENGINES {
        bounded(Duration::from_secs(30), deadline_scenario(engine)).await;
    }
}

async fn insert_scenario(engine: Engine) {
    let Some(url) = server_url(engine) else {
        return;
    };
    let admin = connect(&url).await;
    let ns = Namespace::create(admin.clone(), "ins").await;
    let table = format!("{}.events", ns.name);
    let ddl = match engine {
        Engine::Postgres => {
            format!("CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, k BIGINT NOT NULL)")
        }
        _ => format!(
            "CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, k BIGINT NOT NULL)"
        ),
    };
    admin.execute(&Statement::new(ddl)).await.unwrap();

    let proxy = Arc::new(FaultProxy::start(upstream(&url)).await);
    let backend = connect(&via(&url, proxy.addr(), PROXY_PARAMS)).await;
    let db = covet::stack(backend)
        .timeout(Duration::from_secs(2))
        .retry(
            RetryPolicy::builder()
                .max_attempts(5)
                .deadline(Some(Duration::from_secs(3)))
                .build()
                .unwrap(),
        )
        .breaker(Arc::new(
            CircuitBreaker::builder()
                .open_duration(Duration::from_millis(300))
                .build()
                .unwrap(),
        ))
        .slow_log(Arc::new(SlowQueryLogger::default()))
        .build();
    // No unique key on k: a statement repeated after an ambiguous failure
    // would show up as a duplicate. The insert is not marked idempotent.
    let insert = sql(&*db, &format!("INSERT INTO {table} (k) VALUES ($1)"));
    let run_for = Duration::from_secs(10);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..6i64 {
        let db = db.clone();
        let insert = insert.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (Vec::new(), 0u32);
            let mut seq = 0i64;
            while start.elapsed() < run_for {
                let k = w * 1_000_000 + seq;
                seq += 1;
                match db.execute(&Statement::new(insert.as_str()).bind(k)).await {
                    Ok(r) => {
                        assert_eq!(r.rows_affected, 1);
                        ok.push(k);
                    }
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            (ok, failed)
        }));
    }
    let chaos = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            for (cut_at, heal_at) in [(2500, 3500), (6000, 7000)] {
                tokio::time::sleep_until((start + Duration::from_millis(cut_at)).into()).await;
                proxy.cut();
                tokio::time::sleep_until((start + Duration::from_millis(heal_at)).into()).await;
                proxy.heal();
            }
        })
    };
    let mut ok = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (o, f) = w.await.expect("worker panicked");
        ok.extend(o);
        failed += f;
    }
    chaos.await.unwrap();

    let rows = admin
        .query(&Statement::new(format!("SELECT k FROM {table}")))
        .await
        .unwrap();
    let mut count: HashMap<i64, u32> = HashMap::new();
    for r in &rows {
        *count.entry(r.get::<i64>("k").unwrap()).or_default() += 1;
    }
    let dupes: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "inserted twice: {dupes:?}");
    let missing: Vec<_> = ok.iter().filter(|k| !count.contains_key(k)).collect();
    assert!(missing.is_empty(), "returned Ok but missing: {missing:?}");
    assert!(
        failed > 0,
        "the cuts caused no failure: the proxy did nothing"
    );
    assert!(ok.len() > 100, "too few inserts: {}", ok.len());
    eprintln!(
        "{engine}: {} ok, {failed} failed, {} rows (failed-but-applied: {})",
        ok.len(),
        rows.len(),
        rows.len() - ok.len()
    );
    ns.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_survive_two_cuts_exactly_once() {
    for engine in ENGINES {
        bounded(Duration::from_secs(60), insert_scenario(engine)).await;
    }
}

async fn slow_scenario(engine: Engine) {
    let Some(url) = server_url(engine) else {
        return;
    };
    let admin = connect(&url).await;
    let ns = Namespace::create(admin.clone(), "slow").await;
    let table = format!("{}.counters", ns.name);
    admin
        .execute(&Statement::new(format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, n INT NOT NULL)"
        )))
        .await
        .unwrap();
    admin
        .execute(&Statement::new(format!(
            "INSERT INTO {table} (id, n) VALUES (1, 0)"
        )))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.jsonl");
    let sink = Arc::new(JsonLinesSink::open(&path).unwrap());
    let log = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::from_millis(100))
            .sink(sink.clone())
            .build(),
    );
    let db = covet::stack(connect(&url).await)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(CircuitBreaker::builder().build().unwrap()))
        .slow_log(log.clone())
        .build();

    let (sleep_sql, update_sql) = match engine {
        Engine::Postgres => (
            "SELECT pg_sleep(0.25)::text, 42 AS answer".to_owned(),
            format!(
                "UPDATE {table} SET n = n + 1 WHERE id = $1 AND (SELECT true FROM pg_sleep(0.25))"
            ),
        ),
        _ => (
            "SELECT SLEEP(0.25), 42 AS answer".to_owned(),
            format!("UPDATE {table} SET n = n + 1 WHERE id = ? AND SLEEP(0.25) = 0"),
        ),
    };
    db.query(&Statement::new(sleep_sql.as_str()).idempotent(true))
        .await
        .unwrap();
    let r = db
        .execute(&Statement::new(update_sql.as_str()).bind(Value::I64(1)))
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 1);
    db.query(&Statement::new("SELECT 1")).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let snap = log.snapshot();
        if snap.fingerprints.len() == 2 && snap.fingerprints.iter().all(|f| f.plan.is_some()) {
            break;
        }
        assert!(Instant::now() < deadline, "plans not captured: {snap:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let snap = log.snapshot();
    assert_eq!(
        snap.fingerprints.len(),
        2,
        "a fast statement was logged: {snap:?}"
    );
    let sleep_fp = snap
        .fingerprints
        .iter()
        .find(|f| f.operation == "select")
        .expect("the sleep query");
    let expected = if engine == Engine::Postgres {
        "select pg_sleep(?)::text, ? as answer"
    } else {
        "select sleep(?), ? as answer"
    };
    assert_eq!(sleep_fp.text.as_deref(), Some(expected));
    assert!(sleep_fp.max >= Duration::from_millis(250));
    for f in &snap.fingerprints {
        let plan = f.plan.as_deref().unwrap();
        assert!(
            !plan.starts_with("(plan capture"),
            "{engine} {}: {plan}",
            f.text.as_deref().unwrap_or("")
        );
    }
    // The slow UPDATE changed its row exactly once: the plan was a plain
    // EXPLAIN, never a second execution.
    let n: i32 = admin
        .query(&Statement::new(format!(
            "SELECT n FROM {table} WHERE id = 1"
        )))
        .await
        .unwrap()
        .rows[0]
        .get("n")
        .unwrap();
    assert_eq!(n, 1);

    sink.flush();
    let records = covet_monitor::report::load(&path).unwrap();
    assert!(records.iter().any(|r| matches!(r, SlowRecord::Plan { .. })));
    let rows = covet_monitor::report::summarize(&records, Default::default(), 10);
    assert_eq!(rows.len(), 2);
    eprintln!("{engine}:\n{}", covet_monitor::report::render_table(&rows));
    ns.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_statements_are_logged_with_plans_and_run_once() {
    for engine in ENGINES {
        bounded(Duration::from_secs(60), slow_scenario(engine)).await;
    }
}
