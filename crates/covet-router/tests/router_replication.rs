//! The router over real replication: a private PostgreSQL primary with two
//! streaming replicas and a MariaDB primary with a GTID replica, started
//! once for this binary (see support/servers.rs).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use covet_core::{Adapter, Statement, Value};
use covet_router::{ConsistencyToken, Router};
use support::servers;

/// The scenarios pause, stop and kill shared servers: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn int(v: &Value) -> i64 {
    match v {
        Value::I16(n) => i64::from(*n),
        Value::I32(n) => i64::from(*n),
        Value::I64(n) => *n,
        Value::Text(s) => s.parse().unwrap(),
        other => panic!("not an integer: {other:?}"),
    }
}

async fn first_int(a: &dyn Adapter, sql: &str) -> i64 {
    let rows = a
        .query(&Statement::new(sql).idempotent(true))
        .await
        .unwrap();
    int(rows.rows[0].value(0).unwrap())
}

async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

async fn pg_router(c: &servers::PgCluster) -> Router {
    Router::builder()
        .breaker(
            covet_resilience::CircuitBreaker::builder()
                .failure_threshold(2)
                .open_duration(Duration::from_millis(500)),
        )
        .connect(&c.router_url(
            "router_max_lag=1s&router_check_interval=100ms&router_ryw_wait=2s&max_connections=8&acquire_timeout=500ms&connect_timeout=500ms",
        ))
        .await
        .unwrap()
}

/// Waits until every replica has replayed everything written so far.
async fn settle(r: &Router) {
    let token = r.token().await.unwrap();
    let limit = Instant::now() + Duration::from_secs(10);
    loop {
        r.check_now().await;
        if r.stats()[1..]
            .iter()
            .all(|s| s.position.as_ref().is_some_and(|p| token.covered_by(p)) && !s.ejected)
        {
            return;
        }
        assert!(
            Instant::now() < limit,
            "replicas did not catch up: {:?}",
            r.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_reads_spread_over_replicas_and_writes_stay_on_the_primary() {
    let Some(c) = servers::pg() else { return };
    let _serial = SERIAL.lock().await;
    let r = pg_router(c).await;
    r.execute(&Statement::new("CREATE TABLE spread (id int PRIMARY KEY)"))
        .await
        .unwrap();
    r.execute(&Statement::new(
        "INSERT INTO spread SELECT generate_series(1, 10)",
    ))
    .await
    .unwrap();
    assert_eq!(
        first_int(&r, "SELECT inet_server_port()").await,
        i64::from(c.primary)
    );
    settle(&r).await;

    let reader = r.reader();
    let mut ports: HashMap<i64, u32> = HashMap::new();
    for _ in 0..400 {
        let p = first_int(&reader, "SELECT inet_server_port()").await;
        *ports.entry(p).or_default() += 1;
    }
    assert_eq!(ports.get(&i64::from(c.primary)), None, "{ports:?}");
    for &rep in &c.replicas {
        let n = ports.get(&i64::from(rep)).copied().unwrap_or(0);
        assert!(
            (120..=280).contains(&n),
            "replica {rep}: {n} of 400 ({ports:?})"
        );
    }
    // A replica refuses writes, so a write that succeeded ran on the primary.
    r.execute(&Statement::new("INSERT INTO spread VALUES (11)"))
        .await
        .unwrap();
    let ro = covet_core::TxOptions {
        read_only: true,
        ..Default::default()
    };
    let mut tx = r.begin_with(ro).await.unwrap();
    let port = tx
        .query(&Statement::new("SELECT inet_server_port()"))
        .await
        .unwrap();
    assert_ne!(int(port.rows[0].value(0).unwrap()), i64::from(c.primary));
    tx.commit().await.unwrap();
    r.execute(&Statement::new("DROP TABLE spread"))
        .await
        .unwrap();
    r.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_paused_replay_ejects_the_replica_and_resume_readmits_it() {
    let Some(c) = servers::pg() else { return };
    let _serial = SERIAL.lock().await;
    let r = pg_router(c).await;
    settle(&r).await;
    let r0 = covet_adapter_pg::PgAdapter::connect(&c.url(c.replicas[0]).parse().unwrap())
        .await
        .unwrap();
    r0.query(&Statement::new("SELECT pg_wal_replay_pause()"))
        .await
        .unwrap();
    // Ejected within the check interval plus a check's time.
    let took = wait_until("ejection", Duration::from_secs(2), || r.stats()[1].ejected).await;
    eprintln!("paused replica ejected after {took:?}");
    let before = r.stats()[1].routed;
    for _ in 0..100 {
        first_int(&r.reader(), "SELECT 1").await;
    }
    assert_eq!(
        r.stats()[1].routed,
        before,
        "no read on the ejected replica"
    );
    r0.query(&Statement::new("SELECT pg_wal_replay_resume()"))
        .await
        .unwrap();
    let took = wait_until("readmission", Duration::from_secs(3), || {
        !r.stats()[1].ejected
    })
    .await;
    eprintln!("resumed replica readmitted after {took:?}");
    assert!(r.stats()[1].ejections >= 1);
    r0.close().await;
    r.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_read_your_writes_is_never_stale_while_a_replica_lags() {
    let Some(c) = servers::pg() else { return };
    let _serial = SERIAL.lock().await;
    let r = pg_router(c).await;
    r.execute(&Statement::new(
        "CREATE TABLE ryw (id int PRIMARY KEY, v int NOT NULL)",
    ))
    .await
    .unwrap();
    r.execute(&Statement::new("INSERT INTO ryw VALUES (1, 0)"))
        .await
        .unwrap();
    settle(&r).await;
    // Replica 0 lags (replay paused) but stays eligible for plain reads
    // until its check notices: the tokens must keep reads off it.
    let r0 = covet_adapter_pg::PgAdapter::connect(&c.url(c.replicas[0]).parse().unwrap())
        .await
        .unwrap();
    r0.query(&Statement::new("SELECT pg_wal_replay_pause()"))
        .await
        .unwrap();

    let session = r.session();
    let read = Statement::new("SELECT v FROM ryw WHERE id = 1").idempotent(true);
    for i in 1..=1000_i64 {
        let write = Statement::new("UPDATE ryw SET v = $1 WHERE id = 1").bind(i);
        if i % 2 == 0 {
            session.execute(&write).await.unwrap();
            assert_eq!(first_int(&session, read.sql()).await, i, "session read {i}");
        } else {
            // Another service's view: a token carried as a string.
            r.execute(&write).await.unwrap();
            let token: ConsistencyToken = r.token().await.unwrap().to_string().parse().unwrap();
            assert_eq!(
                first_int(&r.reader_at(token), read.sql()).await,
                i,
                "token read {i}"
            );
        }
    }
    let stats = r.stats();
    eprintln!("{stats:?}");
    assert!(
        stats[2].routed > 100,
        "the healthy replica served reads: {stats:?}"
    );
    r0.query(&Statement::new("SELECT pg_wal_replay_resume()"))
        .await
        .unwrap();
    r.execute(&Statement::new("DROP TABLE ryw")).await.unwrap();
    r0.close().await;
    r.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_reads_move_on_from_a_killed_replica_and_come_back() {
    let Some(c) = servers::pg() else { return };
    let _serial = SERIAL.lock().await;
    let r = pg_router(c).await;
    settle(&r).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (reader, stop, ok, failed) = (r.reader(), stop.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let stmt = Statement::new("SELECT 1").idempotent(true);
            while !stop.load(Ordering::Relaxed) {
                match reader.query(&stmt).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("read failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill_replica(1);
    let killed_at = ok.load(Ordering::Relaxed);
    let mut breaker_opened = false;
    wait_until("ejection, breaker open", Duration::from_secs(3), || {
        let s = &r.stats()[2];
        breaker_opened |= s.breaker == covet_resilience::BreakerState::Open;
        s.ejected && breaker_opened
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ok.load(Ordering::Relaxed) > killed_at + 50, "reads went on");
    c.start_replica(1);
    wait_until(
        "readmission, breaker closed",
        Duration::from_secs(10),
        || {
            let s = &r.stats()[2];
            !s.ejected && s.breaker == covet_resilience::BreakerState::Closed
        },
    )
    .await;
    let before = r.stats()[2].routed;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        r.stats()[2].routed > before,
        "reads reach the restarted replica"
    );
    // Only reads in flight at the kill may fail; the rest move on.
    assert!(
        failed.load(Ordering::Relaxed) <= 4,
        "{} failed",
        failed.load(Ordering::Relaxed)
    );
    r.close().await;
}

async fn maria_router(c: &servers::MariaCluster) -> Router {
    Router::connect(
        &c.router_url("router_max_lag=1s&router_check_interval=100ms&router_ryw_wait=2s"),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_routes_reads_to_the_replica_and_sees_its_own_writes() {
    let Some(c) = servers::maria() else { return };
    let r = maria_router(c).await;
    r.execute(&Statement::new(
        "CREATE TABLE kv (id INT PRIMARY KEY, v INT NOT NULL)",
    ))
    .await
    .unwrap();
    r.execute(&Statement::new("INSERT INTO kv VALUES (1, 0)"))
        .await
        .unwrap();
    assert_eq!(first_int(&r, "SELECT @@port").await, i64::from(c.primary));
    settle(&r).await;
    for _ in 0..50 {
        assert_eq!(
            first_int(&r.reader(), "SELECT @@port").await,
            i64::from(c.replica)
        );
    }
    let session = r.session();
    for i in 1..=1000_i64 {
        session
            .execute(&Statement::new("UPDATE kv SET v = ? WHERE id = 1").bind(i))
            .await
            .unwrap();
        assert_eq!(
            first_int(&session, "SELECT v FROM kv WHERE id = 1").await,
            i
        );
    }
    assert!(r.stats()[1].routed > 100, "{:?}", r.stats());

    // The SQL thread stopped: ejected, reads to the primary; restarted:
    // readmitted.
    let rep = covet_adapter_mysql::MySqlAdapter::connect(&c.url(c.replica).parse().unwrap())
        .await
        .unwrap();
    rep.execute(&Statement::new("STOP SLAVE SQL_THREAD"))
        .await
        .unwrap();
    wait_until("ejection", Duration::from_secs(2), || r.stats()[1].ejected).await;
    assert_eq!(
        first_int(&r.reader(), "SELECT @@port").await,
        i64::from(c.primary)
    );
    rep.execute(&Statement::new("START SLAVE SQL_THREAD"))
        .await
        .unwrap();
    wait_until("readmission", Duration::from_secs(3), || {
        !r.stats()[1].ejected
    })
    .await;
    assert_eq!(
        first_int(&r.reader(), "SELECT @@port").await,
        i64::from(c.replica)
    );
    r.execute(&Statement::new("DROP TABLE kv")).await.unwrap();
    rep.close().await;
    r.close().await;
}

/// Keys land where PostgreSQL's own hash partitioning puts them, for
/// integers across the whole range and for text, with several moduli.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_shard_hash_matches_satisfies_hash_partition() {
    use covet_router::ShardKey;
    let Some(c) = servers::pg() else { return };
    let p = covet_adapter_pg::PgAdapter::connect(&c.url(c.primary).parse().unwrap())
        .await
        .unwrap();
    for ddl in [
        "CREATE TABLE shard_i (k bigint) PARTITION BY HASH (k)",
        "CREATE TABLE shard_t (k text) PARTITION BY HASH (k)",
    ] {
        p.execute(&Statement::new(ddl)).await.unwrap();
    }
    let mut ints: Vec<i64> = vec![
        0,
        1,
        -1,
        42,
        i64::MIN,
        i64::MAX,
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        1 << 32,
        -(1 << 32) - 7,
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..150 {
        // splitmix64: spread over the whole range, reproducibly.
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ints.push((z ^ (z >> 31)) as i64 >> (x % 60));
    }
    let texts: Vec<String> = (0..120)
        .map(|i| match i % 4 {
            0 => String::new() + &"k".repeat(i),
            1 => format!("user-{i}"),
            2 => format!("ключ-{i}-été"),
            _ => format!("{i:x}{}", "é".repeat(i % 13)),
        })
        .collect();
    let check_int =
        Statement::new("SELECT satisfies_hash_partition('shard_i'::regclass, $1, $2, $3::bigint)");
    let check_text =
        Statement::new("SELECT satisfies_hash_partition('shard_t'::regclass, $1, $2, $3::text)");
    for n in [2_usize, 3, 8] {
        for k in &ints {
            let r = ShardKey::Int(*k).shard_of(n);
            let stmt = check_int.clone().bind(n as i32).bind(r as i32).bind(*k);
            let ok = p.query(&stmt).await.unwrap();
            assert_eq!(
                ok.rows[0].value(0).unwrap(),
                &Value::Bool(true),
                "bigint {k} mod {n}"
            );
        }
        for k in &texts {
            let r = ShardKey::Text(k).shard_of(n);
            let stmt = check_text
                .clone()
                .bind(n as i32)
                .bind(r as i32)
                .bind(k.as_str());
            let ok = p.query(&stmt).await.unwrap();
            assert_eq!(
                ok.rows[0].value(0).unwrap(),
                &Value::Bool(true),
                "text {k:?} mod {n}"
            );
        }
    }
    // Not vacuous: another remainder is refused.
    let wrong = (ShardKey::Int(42).shard_of(8) + 1) % 8;
    let stmt = check_int
        .clone()
        .bind(8_i32)
        .bind(wrong as i32)
        .bind(42_i64);
    let ok = p.query(&stmt).await.unwrap();
    assert_eq!(ok.rows[0].value(0).unwrap(), &Value::Bool(false));
    p.execute(&Statement::new("DROP TABLE shard_i, shard_t"))
        .await
        .unwrap();
    p.close().await;
}

/// With several candidate primaries, writes follow a promotion: the old
/// primary stops, the replica is promoted, and the router finds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_writes_follow_a_promoted_replica() {
    let Some(c) = servers::pg_pair() else { return };
    let r = Router::builder()
        .breaker(
            covet_resilience::CircuitBreaker::builder()
                .failure_threshold(2)
                .open_duration(Duration::from_millis(300)),
        )
        .connect(&c.router_url("router_failover=on&router_check_interval=100ms&max_connections=4&acquire_timeout=1s&connect_timeout=1s"))
        .await
        .unwrap();
    let port = "SELECT inet_server_port()";
    assert_eq!(first_int(&r, port).await, i64::from(c.primary));
    r.execute(&Statement::new("CREATE TABLE fo (id int PRIMARY KEY)"))
        .await
        .unwrap();
    r.execute(&Statement::new("INSERT INTO fo VALUES (1)"))
        .await
        .unwrap();
    settle(&r).await;

    c.stop_primary();
    c.promote(0);
    let start = Instant::now();
    let mut failed = 0;
    let mut id = 2;
    loop {
        match r
            .execute(&Statement::new("INSERT INTO fo VALUES ($1)").bind(id))
            .await
        {
            Ok(_) => break,
            Err(e) => {
                failed += 1;
                eprintln!("write during the switch: {e} ({:?})", e.retry_class());
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no new primary: {:?}",
            r.stats()
        );
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "writes moved after {:?}, {failed} failed meanwhile",
        start.elapsed()
    );
    assert_eq!(first_int(&r, port).await, i64::from(c.replicas[0]));
    assert_eq!(r.failovers(), 1);
    assert_eq!(r.stats()[1].role, covet_router::Role::Primary);
    assert_eq!(first_int(&r, "SELECT count(*) FROM fo").await, 2);
    r.close().await;
}
