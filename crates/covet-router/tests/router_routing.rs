//! Routing over mock targets: where reads and writes go, balancing,
//! fallback, ejection and readmission, read-your-writes.

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_core::{Adapter, ErrorKind, Statement, TxOptions};
use covet_resilience::BreakerState;
use covet_router::{ConsistencyToken, ReadYourWrites, Role, Router};
use support::mock::Mock;

fn select() -> Statement {
    Statement::new("SELECT 1").idempotent(true)
}

fn router(primary: &Arc<Mock>, replicas: &[(&Arc<Mock>, u32)]) -> covet_router::RouterBuilder {
    let mut b = Router::builder().primary(primary.name.clone(), primary.clone());
    for (r, w) in replicas {
        b = b.replica(r.name.clone(), (*r).clone(), *w);
    }
    b
}

#[tokio::test]
async fn reads_spread_by_weight_and_writes_stay_on_the_primary() {
    let p = Mock::new("p", false);
    let (a, b, c) = (
        Mock::new("a", true),
        Mock::new("b", true),
        Mock::new("c", true),
    );
    let r = router(&p, &[(&a, 1), (&b, 1), (&c, 2)])
        .without_health_checks()
        .build()
        .unwrap();
    let reader = r.reader();
    for _ in 0..4_000 {
        reader.query(&select()).await.unwrap();
    }
    for _ in 0..100 {
        r.execute(&Statement::new("UPDATE t SET x = 1"))
            .await
            .unwrap();
        r.query(&select()).await.unwrap();
        reader
            .execute(&Statement::new("UPDATE t SET x = 1"))
            .await
            .unwrap();
    }
    // Expected 1000, 1000, 2000; the bounds are about six standard deviations.
    assert!((820..1180).contains(&a.reads()), "a {}", a.reads());
    assert!((820..1180).contains(&b.reads()), "b {}", b.reads());
    assert!((1790..2210).contains(&c.reads()), "c {}", c.reads());
    assert_eq!(
        p.reads(),
        100,
        "only the router's own queries reach the primary"
    );
    assert_eq!(p.writes(), 200);
    assert_eq!(a.writes() + b.writes() + c.writes(), 0);
    let stats = r.stats();
    assert_eq!(stats[0].routed, 300);
    assert_eq!(stats.iter().skip(1).map(|s| s.routed).sum::<u64>(), 4_000);
}

/// The intent rides on the statement: a read-only mark sends the router's
/// own `query`, `query_stream` and `run` to replicas, and nothing else.
#[tokio::test]
async fn statements_marked_read_only_go_to_replicas() {
    let p = Mock::new("p", false);
    let a = Mock::new("a", true);
    let r = router(&p, &[(&a, 1)])
        .without_health_checks()
        .build()
        .unwrap();
    for _ in 0..10 {
        r.query(&select().read_only(true)).await.unwrap();
        drop(r.query_stream(&select().read_only(true)).await.unwrap());
        r.run(&select().read_only(true)).await.unwrap();
        r.query(&select()).await.unwrap();
    }
    assert_eq!(a.reads(), 30, "marked reads reach the replica");
    assert_eq!(p.reads(), 10, "unmarked reads stay on the primary");
    r.execute(&Statement::new("UPDATE t SET x = 1").read_only(true))
        .await
        .unwrap();
    assert_eq!(
        (p.writes(), a.writes()),
        (1, 0),
        "execute is never routed to a replica"
    );
}

#[tokio::test]
async fn a_slow_replica_gets_fewer_reads() {
    let p = Mock::new("p", false);
    let (slow, fast) = (Mock::new("slow", true), Mock::new("fast", true));
    *slow.delay.lock() = Duration::from_millis(20);
    *fast.delay.lock() = Duration::from_millis(1);
    let r = router(&p, &[(&slow, 1), (&fast, 1)])
        .without_health_checks()
        .build()
        .unwrap();
    let reader = r.reader();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let reader = reader.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..40 {
                reader.query(&select()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(slow.reads() + fast.reads(), 320);
    assert!(
        fast.reads() > 3 * slow.reads(),
        "fast {} slow {}",
        fast.reads(),
        slow.reads()
    );
}

#[tokio::test]
async fn read_only_transactions_go_to_replicas_and_read_write_ones_to_the_primary() {
    let p = Mock::new("p", false);
    let a = Mock::new("a", true);
    let r = router(&p, &[(&a, 1)])
        .without_health_checks()
        .build()
        .unwrap();
    let ro = TxOptions {
        read_only: true,
        ..TxOptions::default()
    };
    assert!(r.begin_with(ro).await.is_err()); // the mock counts, then refuses
    assert!(r.begin().await.is_err());
    assert_eq!(a.txs.load(Ordering::Relaxed), 1);
    assert_eq!(p.txs.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn reads_move_on_from_a_down_replica_and_its_breaker_opens() {
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    let r = router(&p, &[(&a, 1), (&b, 1)])
        .without_health_checks()
        .build()
        .unwrap();
    a.down.store(true, Ordering::Relaxed);
    let reader = r.reader();
    for _ in 0..100 {
        reader.query(&select()).await.unwrap();
    }
    assert_eq!(b.reads(), 100);
    assert_eq!(r.stats()[1].breaker, BreakerState::Open);
    // Every replica down: the primary serves.
    b.down.store(true, Ordering::Relaxed);
    for _ in 0..10 {
        reader.query(&select()).await.unwrap();
    }
    assert_eq!(p.reads(), 10);
}

#[tokio::test]
async fn lagging_or_paused_replicas_are_ejected_and_readmitted() {
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    let r = router(&p, &[(&a, 1), (&b, 1)])
        .max_lag(Duration::from_millis(50))
        .check_interval(Duration::from_secs(3600)) // checks run by hand
        .build()
        .unwrap();
    r.check_now().await;
    assert!(r.stats().iter().all(|s| !s.ejected), "{:?}", r.stats());

    // The primary moves on; a follows, b does not.
    p.set_lsn(0x200);
    a.set_lsn(0x200);
    r.check_now().await;
    assert!(!r.stats()[2].ejected, "behind for less than the bound");
    tokio::time::sleep(Duration::from_millis(80)).await;
    r.check_now().await;
    let s = r.stats();
    assert!(!s[1].ejected);
    assert!(s[2].ejected);
    assert_eq!(s[2].reason, Some("lag over the bound"));
    assert!(s[2].lag.unwrap() >= Duration::from_millis(50));
    for _ in 0..50 {
        r.reader().query(&select()).await.unwrap();
    }
    assert_eq!((a.reads(), b.reads()), (50, 0));

    // b catches up: readmitted after two good checks.
    b.set_lsn(0x200);
    r.check_now().await;
    assert!(r.stats()[2].ejected);
    r.check_now().await;
    assert!(!r.stats()[2].ejected);
    assert_eq!(r.stats()[2].ejections, 1);

    // Paused replay ejects at once, whatever the lag.
    a.paused.store(true, Ordering::Relaxed);
    r.check_now().await;
    assert_eq!(
        r.stats()[1].reason,
        Some("replication is not applying changes")
    );
    // A failing check ejects too; with both out, reads go to the primary.
    b.down.store(true, Ordering::Relaxed);
    r.check_now().await;
    assert!(r.stats()[2].ejected);
    r.reader().query(&select()).await.unwrap();
    assert_eq!(p.reads(), 1);
}

#[tokio::test]
async fn reads_at_a_token_go_where_it_was_replayed() {
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    let r = router(&p, &[(&a, 1), (&b, 1)])
        .check_interval(Duration::from_secs(3600))
        .read_your_writes(ReadYourWrites::Primary)
        .build()
        .unwrap();
    p.set_lsn(0x300);
    a.set_lsn(0x300);
    r.check_now().await;
    let token = r.token().await.unwrap();
    assert_eq!(token, ConsistencyToken::Lsn(0x300));
    let token: ConsistencyToken = token.to_string().parse().unwrap();
    for _ in 0..20 {
        r.reader_at(token.clone()).query(&select()).await.unwrap();
    }
    assert_eq!((a.reads(), b.reads(), p.reads()), (20, 0, 0));
    // Nobody has 0x400: the Primary policy sends it to the primary.
    r.reader_at(ConsistencyToken::Lsn(0x400))
        .query(&select())
        .await
        .unwrap();
    assert_eq!(p.reads(), 1);
}

#[tokio::test]
async fn a_read_at_a_token_waits_for_a_replica_then_falls_back_by_policy() {
    let p = Mock::new("p", false);
    let a = Mock::new("a", true);
    let build = |policy| {
        router(&p, &[(&a, 1)])
            .check_interval(Duration::from_secs(3600))
            .read_your_writes(policy)
            .build()
            .unwrap()
    };
    let r = build(ReadYourWrites::WaitThenPrimary(Duration::from_secs(2)));
    let a2 = a.clone();
    let bump = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        a2.set_lsn(0x500);
    });
    r.reader_at(ConsistencyToken::Lsn(0x500))
        .query(&select())
        .await
        .unwrap();
    bump.await.unwrap();
    assert_eq!(
        (a.reads(), p.reads()),
        (1, 0),
        "served by the replica after waiting"
    );

    let r = build(ReadYourWrites::WaitThenPrimary(Duration::from_millis(30)));
    r.reader_at(ConsistencyToken::Lsn(0x600))
        .query(&select())
        .await
        .unwrap();
    assert_eq!(p.reads(), 1, "timed out: the primary serves");

    let r = build(ReadYourWrites::WaitThenFail(Duration::from_millis(30)));
    let e = r
        .reader_at(ConsistencyToken::Lsn(0x600))
        .query(&select())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn a_session_reads_its_own_writes() {
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    let r = router(&p, &[(&a, 1), (&b, 1)])
        .check_interval(Duration::from_secs(3600))
        .read_your_writes(ReadYourWrites::Primary)
        .build()
        .unwrap();
    let s = r.session();
    s.query(&select()).await.unwrap();
    assert_eq!(p.reads(), 0, "no write yet: a replica serves");
    p.set_lsn(0x700);
    s.execute(&Statement::new("INSERT INTO t VALUES (1)"))
        .await
        .unwrap();
    assert_eq!(s.token(), Some(ConsistencyToken::Lsn(0x700)));
    s.query(&select()).await.unwrap();
    assert_eq!(p.reads(), 1, "no replica has the write yet");
    b.set_lsn(0x700);
    r.check_now().await;
    for _ in 0..10 {
        s.query(&select()).await.unwrap();
    }
    assert!(
        b.reads() >= 10 && a.reads() + b.reads() == 11,
        "a {} b {}",
        a.reads(),
        b.reads()
    );
    assert_eq!(p.reads(), 1);
}

#[test]
fn a_router_needs_a_primary_and_one_engine() {
    let e = Router::builder().build().unwrap_err();
    assert!(e.to_string().contains("needs a primary"), "{e}");
}

#[tokio::test]
async fn a_shard_map_sends_a_key_to_its_shard_and_scatters_on_request() {
    use covet_router::{ShardKey, ShardMap};
    let mocks: Vec<_> = (0..3).map(|i| Mock::new(&format!("s{i}"), false)).collect();
    let map = ShardMap::new(
        mocks
            .iter()
            .map(|m| router(m, &[]).without_health_checks().build().unwrap())
            .collect(),
    )
    .unwrap();
    for k in 0..300_i64 {
        let want = ShardKey::Int(k).shard_of(3);
        assert_eq!(map.shard_of(k), want);
        map.shard(k)
            .execute(&Statement::new("INSERT"))
            .await
            .unwrap();
    }
    let per: Vec<u64> = mocks.iter().map(|m| m.writes()).collect();
    assert_eq!(per.iter().sum::<u64>(), 300);
    assert!(per.iter().all(|n| (70..130).contains(n)), "{per:?}");
    let all = map.scatter_query(&select()).await.unwrap();
    assert_eq!(all.len(), 3, "one row from each shard");
    assert!(ShardMap::new(Vec::new()).is_err());
}

#[tokio::test]
async fn with_failover_writes_follow_the_writable_target() {
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    let r = router(&p, &[(&a, 1), (&b, 1)])
        .check_interval(Duration::from_secs(3600))
        .failover(true)
        .build()
        .unwrap();
    r.check_now().await;
    assert_eq!(r.failovers(), 0, "the first target is writable");
    // p is demoted, b promoted. A write before the checks notice is
    // refused as read-only, marked as safe to retry.
    p.in_recovery.store(true, Ordering::Relaxed);
    b.in_recovery.store(false, Ordering::Relaxed);
    let e = r.execute(&Statement::new("INSERT")).await.unwrap_err();
    assert_eq!(e.retry_class(), covet_core::RetryClass::Reconnect, "{e}");
    r.check_now().await;
    assert_eq!(r.failovers(), 1);
    r.execute(&Statement::new("INSERT")).await.unwrap();
    assert_eq!((p.writes(), b.writes()), (0, 1));
    let roles: Vec<_> = r.stats().iter().map(|s| s.role).collect();
    assert_eq!(roles, [Role::Replica, Role::Replica, Role::Primary]);
    // Reads now go to p and a, never to the new primary b.
    for _ in 0..20 {
        r.reader().query(&select()).await.unwrap();
    }
    assert_eq!(b.reads(), 0);

    // Without failover the first target stays the primary.
    let fixed = router(&p, &[(&b, 1)])
        .check_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    fixed.check_now().await;
    assert_eq!(fixed.failovers(), 0);
    let e = fixed.execute(&Statement::new("INSERT")).await.unwrap_err();
    assert_ne!(
        e.retry_class(),
        covet_core::RetryClass::Reconnect,
        "no failover: not retried"
    );
    p.in_recovery.store(false, Ordering::Relaxed);
    fixed.execute(&Statement::new("INSERT")).await.unwrap();
    assert_eq!(p.writes(), 1);
}
