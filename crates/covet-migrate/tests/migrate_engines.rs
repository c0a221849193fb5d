//! The runner against real servers: PostgreSQL and MariaDB from
//! `COVET_PG_URL` / `COVET_MYSQL_URL` (skipped with a printed reason when
//! unset, a failure when `COVET_REQUIRE_DB=1`) and SQLite in a temporary
//! file. One database per engine for the whole binary: every scenario uses
//! its own migrations table and table names, so they cannot see each other.
//!
//! `child_runner` is not a test of its own: the killed-runner scenario
//! starts this test binary again with it selected, as a runner process to
//! kill mid-migration.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use covet_core::{Adapter, DatabaseUrl, Engine, ErrorKind, Statement};
use covet_migrate::{
    Event, MigrateError, MigrateOptions, Migrations, Migrator, RustFuture, State, Transaction,
};

mod support;
use support::{create_db, drop_db, server_url};

fn files(list: &[(&str, String)]) -> Migrations {
    let pairs: Vec<(&str, &str)> = list.iter().map(|(n, t)| (*n, t.as_str())).collect();
    Migrations::from_files(&pairs).unwrap()
}

fn options(table: &str) -> MigrateOptions {
    let mut o = MigrateOptions::default();
    o.table = table.into();
    o.lock_wait = Duration::from_secs(30);
    o
}

/// SQL that keeps the server busy for about `secs` seconds.
fn slow(engine: Engine, secs: u32) -> String {
    match engine {
        Engine::Postgres => format!("SELECT pg_sleep({secs})"),
        Engine::MySql => format!("SELECT SLEEP({secs})"),
        // SQLite has no sleep: a recursive count, long enough.
        _ => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {}) SELECT count(*) FROM c",
            u64::from(secs) * 4_000_000
        ),
    }
}

fn drop_index(engine: Engine, index: &str, table: &str) -> String {
    if engine == Engine::MySql {
        format!("DROP INDEX {index} ON {table}")
    } else {
        format!("DROP INDEX {index}")
    }
}

async fn exists(db: &dyn Adapter, table: &str) -> bool {
    db.schema().await.unwrap().table(table).is_some()
}

async fn states(m: &Migrator) -> Vec<(u64, State)> {
    m.status()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.version, r.state))
        .collect()
}

async fn scenarios(url: DatabaseUrl) {
    let engine = url.engine();
    let db = covet::connect(&url).await.unwrap();
    up_down_status_and_irreversible(&url, db.as_ref()).await;
    edited_missing_and_out_of_order(&url).await;
    two_runners_at_once(&url, engine).await;
    bounded_lock_wait(&url, engine).await;
    killed_mid_migration(&url, engine, db.as_ref()).await;
    if engine != Engine::Sqlite {
        lock_timeout_and_retry(&url, engine, db.as_ref()).await;
        lost_lock_stops_the_run(&url, engine, db.as_ref()).await;
    }
    verify_catches_a_wrong_down(&url, engine).await;
    rust_data_migration(&url, db.as_ref()).await;
    if engine == Engine::Postgres {
        readme_rename_walkthrough(&url).await;
    }
    db.close().await;
}

async fn up_down_status_and_irreversible(url: &DatabaseUrl, db: &dyn Adapter) {
    let set = files(&[
        (
            "0001_a.up.sql",
            "CREATE TABLE ud_a (id INT PRIMARY KEY);".into(),
        ),
        ("0001_a.down.sql", "DROP TABLE ud_a;".into()),
        (
            "0002_b.up.sql",
            "CREATE TABLE ud_b (id INT PRIMARY KEY);".into(),
        ),
        ("0002_b.down.sql", "DROP TABLE ud_b;".into()),
        (
            "0003_c.up.sql",
            "-- covet:irreversible\nCREATE TABLE ud_c (id INT);".into(),
        ),
    ]);
    let m = Migrator::new(url.clone(), set).options(options("mig_ud"));
    let r = m.up_to(2).await.unwrap();
    assert_eq!(r.applied, [1, 2]);
    assert!(exists(db, "ud_b").await);
    assert_eq!(
        states(&m).await,
        [
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Pending)
        ]
    );
    let r = m.down(None).await.unwrap();
    assert_eq!(r.reverted, [2]);
    assert!(!exists(db, "ud_b").await);
    assert_eq!(m.up().await.unwrap().applied, [2, 3]);
    // Down refuses before touching anything and names the irreversible one.
    let e = m.down(Some(0)).await.unwrap_err();
    assert!(
        matches!(e, MigrateError::Irreversible { version: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("3 (c)"), "{e}");
    assert!(exists(db, "ud_b").await, "nothing reverted");
    assert!(m.up().await.unwrap().applied.is_empty());

    // A migration outside a transaction (PostgreSQL: CREATE INDEX
    // CONCURRENTLY, which refuses to run inside one), up and down.
    let engine = url.engine();
    let concurrently = if engine == Engine::Postgres {
        "CONCURRENTLY "
    } else {
        ""
    };
    let mut list: Vec<(&str, String)> = vec![
        (
            "0001_a.up.sql",
            "CREATE TABLE ud_a (id INT PRIMARY KEY);".into(),
        ),
        ("0001_a.down.sql", "DROP TABLE ud_a;".into()),
        (
            "0002_b.up.sql",
            "CREATE TABLE ud_b (id INT PRIMARY KEY);".into(),
        ),
        ("0002_b.down.sql", "DROP TABLE ud_b;".into()),
        (
            "0003_c.up.sql",
            "-- covet:irreversible\nCREATE TABLE ud_c (id INT);".into(),
        ),
    ];
    list.push((
        "0004_idx.up.sql",
        format!("-- covet:no-transaction\nCREATE INDEX {concurrently}ud_c_id ON ud_c (id);"),
    ));
    list.push((
        "0004_idx.down.sql",
        format!(
            "-- covet:no-transaction\n{};",
            drop_index(engine, "ud_c_id", "ud_c")
        ),
    ));
    let m = Migrator::new(url.clone(), files(&list)).options(options("mig_ud"));
    assert_eq!(m.up().await.unwrap().applied, [4]);
    let has_index = |s: covet_core::Schema| {
        s.table("ud_c")
            .is_some_and(|t| t.indexes.iter().any(|i| i.name == "ud_c_id"))
    };
    assert!(has_index(db.schema().await.unwrap()));
    assert_eq!(states(&m).await.last(), Some(&(4, State::Applied)));
    assert_eq!(m.down(None).await.unwrap().reverted, [4]);
    assert!(!has_index(db.schema().await.unwrap()));
    assert_eq!(states(&m).await.last(), Some(&(4, State::Pending)));
}

async fn edited_missing_and_out_of_order(url: &DatabaseUrl) {
    let one = (
        "0001_a.up.sql",
        "-- covet:irreversible\nCREATE TABLE ed_a (id INT);".to_owned(),
    );
    let three = (
        "0003_c.up.sql",
        "-- covet:irreversible\nCREATE TABLE ed_c (id INT);".to_owned(),
    );
    let m =
        Migrator::new(url.clone(), files(&[one.clone(), three.clone()])).options(options("mig_ed"));
    assert_eq!(m.up().await.unwrap().applied, [1, 3]);

    let edited = (
        "0001_a.up.sql",
        "-- covet:irreversible\nCREATE TABLE ed_a (id BIGINT);".to_owned(),
    );
    let m2 = Migrator::new(url.clone(), files(&[edited.clone(), three.clone()]))
        .options(options("mig_ed"));
    let e = m2.up().await.unwrap_err();
    let applied = covet_migrate::checksum(&one.1);
    let now = covet_migrate::checksum(&edited.1);
    assert!(matches!(e, MigrateError::Changed { version: 1, .. }), "{e}");
    assert!(
        e.to_string().contains(&applied) && e.to_string().contains(&now),
        "{e}"
    );
    assert_eq!(states(&m2).await[0], (1, State::Changed));

    let m3 =
        Migrator::new(url.clone(), files(std::slice::from_ref(&three))).options(options("mig_ed"));
    let e = m3.up().await.unwrap_err();
    assert!(matches!(e, MigrateError::Missing { version: 1, .. }), "{e}");

    let two = (
        "0002_b.up.sql",
        "-- covet:irreversible\nCREATE TABLE ed_b (id INT);".to_owned(),
    );
    let m4 = Migrator::new(url.clone(), files(&[one, two, three])).options(options("mig_ed"));
    let e = m4.up().await.unwrap_err();
    assert!(
        matches!(
            e,
            MigrateError::OutOfOrder {
                version: 2,
                latest: 3,
                ..
            }
        ),
        "{e}"
    );
    let mut o = options("mig_ed");
    o.allow_out_of_order = true;
    assert_eq!(m4.options(o).up().await.unwrap().applied, [2]);
}

async fn two_runners_at_once(url: &DatabaseUrl, engine: Engine) {
    let set = files(&[
        ("0001_a.up.sql", "CREATE TABLE two_a (id INT);".into()),
        ("0001_a.down.sql", "DROP TABLE two_a;".into()),
        (
            "0002_b.up.sql",
            "-- covet:irreversible\nCREATE TABLE two_b (id INT);".into(),
        ),
    ]);
    // Whichever runner gets the lock holds it, inside migration 2, until
    // the other reports that it waits: the overlap is certain, not timed.
    let (told, hear) = std::sync::mpsc::channel::<()>();
    let hear = Arc::new(Mutex::new(hear));
    let waits = Arc::new(Mutex::new(Vec::new()));
    let runner = |who: &'static str| {
        let waits = waits.clone();
        let told = told.clone();
        let hear = hear.clone();
        Migrator::new(url.clone(), set.clone())
            .options(options("mig_two"))
            .on_event(move |e| match e {
                Event::Waiting { holder } => {
                    waits.lock().unwrap().push((who, holder.clone()));
                    let _ = told.send(());
                }
                Event::Started { version: 2, .. } => tokio::task::block_in_place(|| {
                    let _ = hear.lock().unwrap().recv_timeout(Duration::from_secs(20));
                }),
                _ => {}
            })
    };
    // Separate tasks: the holder blocks its own task in the hook, and the
    // other runner must go on meanwhile.
    let (a, b) = (runner("a"), runner("b"));
    let a = tokio::spawn(async move { a.up().await });
    let b = tokio::spawn(async move { b.up().await });
    let (ra, rb) = (a.await.unwrap().unwrap(), b.await.unwrap().unwrap());
    let mut applied = [ra.applied.clone(), rb.applied.clone()];
    applied.sort();
    assert_eq!(applied, [vec![], vec![1, 2]], "exactly one runner applies");
    let waiter = if ra.applied.is_empty() { &ra } else { &rb };
    assert!(waiter.lock_waited > Duration::ZERO, "{waiter:?}");
    let waits = waits.lock().unwrap();
    assert_eq!(waits.len(), 1, "{waits:?}");
    let holder = &waits[0].1;
    match engine {
        Engine::Postgres => assert!(
            holder.contains("pid") && holder.contains("covet-migrate lock"),
            "{holder}"
        ),
        Engine::MySql => assert!(holder.contains("held by connection"), "{holder}"),
        _ => assert!(holder.contains("SQLite"), "{holder}"),
    }
}

/// A runner that cannot get the lock within `lock_wait` gives up with an
/// error naming the holder, and touches nothing.
async fn bounded_lock_wait(url: &DatabaseUrl, engine: Engine) {
    let set = files(&[(
        "0001_a.up.sql",
        "-- covet:irreversible\nCREATE TABLE bw_a (id INT);".into(),
    )]);
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    let (started, mut is_started) = tokio::sync::mpsc::unbounded_channel::<()>();
    let holder = Migrator::new(url.clone(), set.clone())
        .options(options("mig_bw"))
        .on_event(move |e| {
            if let Event::Started { .. } = e {
                let _ = started.send(());
                tokio::task::block_in_place(|| {
                    let _ = held.lock().unwrap().recv_timeout(Duration::from_secs(20));
                });
            }
        });
    let holder = tokio::spawn(async move { holder.up().await });
    is_started.recv().await.unwrap();
    let mut o = options("mig_bw");
    o.lock_wait = Duration::from_millis(300);
    let t0 = Instant::now();
    let e = Migrator::new(url.clone(), set)
        .options(o)
        .up()
        .await
        .unwrap_err();
    let waited = t0.elapsed();
    release.send(()).unwrap();
    assert_eq!(holder.await.unwrap().unwrap().applied, [1]);
    let MigrateError::Locked { holder, .. } = &e else {
        panic!("expected Locked, got {e}");
    };
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let want = match engine {
        Engine::Postgres => "application_name 'covet-migrate lock'",
        Engine::MySql => "held by connection",
        _ => "SQLite",
    };
    assert!(holder.contains(want), "{e}");
}

/// The session holding the lock dies mid-run (killed on the server): the
/// runner notices before the next migration and stops.
async fn lost_lock_stops_the_run(url: &DatabaseUrl, engine: Engine, db: &dyn Adapter) {
    let set = files(&[
        (
            "0001_a.up.sql",
            "-- covet:irreversible\nCREATE TABLE ll_a (id INT);".into(),
        ),
        (
            "0002_b.up.sql",
            "-- covet:irreversible\nCREATE TABLE ll_b (id INT);".into(),
        ),
    ]);
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Mutex::new(held);
    let (started, mut is_started) = tokio::sync::mpsc::unbounded_channel::<()>();
    let m = Migrator::new(url.clone(), set)
        .options(options("mig_ll"))
        .on_event(move |e| {
            if let Event::Started { version: 1, .. } = e {
                let _ = started.send(());
                tokio::task::block_in_place(|| {
                    let _ = held.lock().unwrap().recv_timeout(Duration::from_secs(20));
                });
            }
        });
    let run = tokio::spawn(async move { m.up().await });
    is_started.recv().await.unwrap();
    let kill = if engine == Engine::Postgres {
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'covet-migrate lock' AND datname = current_database()".to_owned()
    } else {
        let name = format!("covet_migrate.{}.mig_ll", url.database().unwrap());
        let rows = db
            .query(&Statement::new("SELECT IS_USED_LOCK($1)").bind(name.as_str()))
            .await
            .unwrap();
        let id: i64 = rows.iter().next().unwrap().get(0).unwrap();
        format!("KILL {id}")
    };
    db.execute(&Statement::new(kill)).await.unwrap();
    release.send(()).unwrap();
    let e = run.await.unwrap().unwrap_err();
    assert!(matches!(e, MigrateError::LockLost), "{e}");
    assert!(exists(db, "ll_a").await && !exists(db, "ll_b").await);
}

async fn killed_mid_migration(url: &DatabaseUrl, engine: Engine, db: &dyn Adapter) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("0001_a.up.sql", "CREATE TABLE kill_a (id INT);");
    write("0001_a.down.sql", "DROP TABLE kill_a;");
    write(
        "0002_b.up.sql",
        &format!(
            "CREATE TABLE kill_b (id INT);\nINSERT INTO kill_a VALUES (1);\n{};",
            slow(engine, 60)
        ),
    );
    write("0002_b.down.sql", "DROP TABLE kill_b;");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_runner", "--exact", "--nocapture", "--test-threads=1"])
        .env("COVET_MIGRATE_CHILD_URL", url.expose())
        .env("COVET_MIGRATE_CHILD_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the child reports migration 2")
            .unwrap();
        if line == "STARTED 2" {
            break;
        }
    }
    // Kill it while the slow statement runs on the server.
    if engine != Engine::Sqlite {
        let q = if engine == Engine::Postgres {
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'"
        } else {
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'"
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while db
            .query(&Statement::new(q))
            .await
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .get::<i64>(0)
            .unwrap()
            == 0
        {
            assert!(
                Instant::now() < deadline,
                "the slow statement never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server would notice the dead client only when the sleep ends:
    // end the orphaned session now, as a restart or a timeout would.
    match engine {
        Engine::Postgres => {
            db.query(&Statement::new(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'",
            ))
            .await
            .unwrap();
        }
        Engine::MySql => {
            let rows = db
                .query(&Statement::new(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'",
                ))
                .await
                .unwrap();
            for r in rows.iter() {
                let id: i64 = r.get(0).unwrap();
                let _ = db.execute(&Statement::new(format!("KILL {id}"))).await;
            }
        }
        _ => {}
    }
    let set = Migrations::from_dir(dir.path()).unwrap();
    let m = Migrator::new(url.clone(), set).options(options("mig_kill"));
    match engine {
        Engine::MySql => {
            // DDL commits as it goes: the dirty flag is what is left, and
            // it blocks the next run with the way out.
            assert_eq!(states(&m).await, [(1, State::Applied), (2, State::Dirty)]);
            assert!(exists(db, "kill_b").await);
            assert_eq!(count(db, "kill_a").await, 1);
            let e = m.up().await.unwrap_err();
            assert!(matches!(e, MigrateError::Dirty { version: 2, .. }), "{e}");
            assert!(e.to_string().contains("covet migrate resolve 2"), "{e}");
            // A person undoes what ran, then says so.
            db.execute(&Statement::new("DROP TABLE kill_b"))
                .await
                .unwrap();
            db.execute(&Statement::new("DELETE FROM kill_a"))
                .await
                .unwrap();
            m.resolve(2, false).await.unwrap();
            assert_eq!(states(&m).await, [(1, State::Applied), (2, State::Pending)]);
        }
        Engine::Postgres => {
            assert_eq!(states(&m).await, [(1, State::Applied), (2, State::Pending)]);
            assert!(
                !exists(db, "kill_b").await,
                "nothing of migration 2 applied"
            );
            assert_eq!(count(db, "kill_a").await, 0);
        }
        _ => {
            // A SQLite run is one write transaction (the lock): a runner
            // that dies leaves nothing of its run.
            assert_eq!(states(&m).await, [(1, State::Pending), (2, State::Pending)]);
            assert!(!exists(db, "kill_a").await && !exists(db, "kill_b").await);
        }
    }
    // The next run applies what is pending (a fast migration 2 this time).
    std::fs::write(
        dir.path().join("0002_b.up.sql"),
        "CREATE TABLE kill_b (id INT);",
    )
    .unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let m = Migrator::new(url.clone(), set).options(options("mig_kill"));
    assert!(m.up().await.unwrap().applied.contains(&2));
}

async fn count(db: &dyn Adapter, table: &str) -> i64 {
    let rows = db
        .query(&Statement::new(format!("SELECT count(*) FROM {table}")))
        .await
        .unwrap();
    rows.iter().next().unwrap().get(0).unwrap()
}

/// The killed-runner scenario's runner process (does nothing when not
/// started by it).
#[tokio::test]
async fn child_runner() {
    let (Ok(url), Ok(dir)) = (
        std::env::var("COVET_MIGRATE_CHILD_URL"),
        std::env::var("COVET_MIGRATE_CHILD_DIR"),
    ) else {
        return;
    };
    let set = Migrations::from_dir(Path::new(&dir)).unwrap();
    let m = Migrator::new(DatabaseUrl::parse(&url).unwrap(), set)
        .options(options("mig_kill"))
        .on_event(|e| {
            if let Event::Started { version, .. } = e {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "STARTED {version}");
                let _ = out.flush();
            }
        });
    let _ = m.up().await;
}

async fn lock_timeout_and_retry(url: &DatabaseUrl, engine: Engine, db: &dyn Adapter) {
    db.execute(&Statement::new("CREATE TABLE lt (a INT)"))
        .await
        .unwrap();
    let set = files(&[
        ("0001_add.up.sql", "ALTER TABLE lt ADD COLUMN b INT;".into()),
        ("0001_add.down.sql", "ALTER TABLE lt DROP COLUMN b;".into()),
    ]);
    let mut o = options("mig_lt");
    o.lock_timeout = Some(if engine == Engine::MySql {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(300)
    });
    o.lock_retries = 2;
    o.retry_backoff = Duration::from_millis(50);
    let block = |db: Arc<dyn Adapter>| async move {
        let mut tx = db.begin().await.unwrap();
        let sql = if engine == Engine::Postgres {
            "LOCK TABLE lt IN ACCESS SHARE MODE"
        } else {
            "SELECT * FROM lt"
        };
        tx.execute(&Statement::new(sql)).await.unwrap();
        tx
    };
    let other = covet::connect(url).await.unwrap();

    // Held throughout: the first try and two retries time out, then it fails.
    let held = block(other.clone()).await;
    let retries = Arc::new(Mutex::new(0));
    let count = retries.clone();
    let m = Migrator::new(url.clone(), set.clone())
        .options(o.clone())
        .on_event(move |e| {
            if matches!(e, Event::Retrying { .. }) {
                *count.lock().unwrap() += 1;
            }
        });
    let e = m.up().await.unwrap_err();
    match &e {
        MigrateError::Failed { source, .. } => {
            assert_eq!(source.kind(), ErrorKind::LockTimeout, "{e}");
        }
        other => panic!("expected a lock timeout, got {other}"),
    }
    assert_eq!(*retries.lock().unwrap(), 2);
    held.rollback().await.unwrap();
    if engine == Engine::MySql {
        // Outside a transaction the runner marked it dirty; nothing ran.
        m.resolve(1, false).await.unwrap();
    }

    // Released after the first timeout: the retry succeeds.
    let held = block(other.clone()).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let m = Migrator::new(url.clone(), set)
        .options(o)
        .on_event(move |e| {
            if let Event::Retrying { attempt, .. } = e {
                let _ = tx.send(*attempt);
            }
        });
    let release = async {
        assert_eq!(rx.recv().await, Some(2));
        held.rollback().await.unwrap();
    };
    let (r, ()) = tokio::join!(m.up(), release);
    assert_eq!(r.unwrap().applied, [1]);
    other.close().await;
}

async fn verify_catches_a_wrong_down(url: &DatabaseUrl, engine: Engine) {
    let base = [
        (
            "0001_a.up.sql",
            "CREATE TABLE v_a (id INT PRIMARY KEY);".to_owned(),
        ),
        ("0001_a.down.sql", "DROP TABLE v_a;".to_owned()),
        (
            "0002_c.up.sql",
            "ALTER TABLE v_a ADD COLUMN c INT;\nCREATE INDEX v_a_c ON v_a (c);".to_owned(),
        ),
    ];
    let good = {
        let mut f = base.to_vec();
        f.push((
            "0002_c.down.sql",
            format!(
                "{};\nALTER TABLE v_a DROP COLUMN c;",
                drop_index(engine, "v_a_c", "v_a")
            ),
        ));
        files(&f)
    };
    let wrong = {
        let mut f = base.to_vec();
        f.push((
            "0002_c.down.sql",
            format!("{};", drop_index(engine, "v_a_c", "v_a")),
        ));
        files(&f)
    };
    let sources = covet_core::PasswordSources::from_env();
    let r = covet_migrate::verify(url, &sources, &good, options("mig_v"))
        .await
        .unwrap();
    assert_eq!(r.reversible, [1, 2]);
    let e = covet_migrate::verify(url, &sources, &wrong, options("mig_v"))
        .await
        .unwrap_err();
    assert!(matches!(e, MigrateError::Verify { version: 2, .. }), "{e}");
    assert!(e.to_string().contains("column v_a.c is left over"), "{e}");
}

fn seed(tx: &mut dyn Transaction) -> RustFuture<'_> {
    Box::pin(async move {
        for (id, name) in [(1, "free"), (2, "pro"), (3, "team")] {
            let s = Statement::new("INSERT INTO plans (id, name) VALUES ($1, $2)")
                .bind(id)
                .bind(name);
            tx.execute(&s).await?;
        }
        Ok(())
    })
}

fn unseed(tx: &mut dyn Transaction) -> RustFuture<'_> {
    Box::pin(async move {
        tx.execute(&Statement::new("DELETE FROM plans")).await?;
        Ok(())
    })
}

fn seed_then_fail(tx: &mut dyn Transaction) -> RustFuture<'_> {
    Box::pin(async move {
        tx.execute(&Statement::new(
            "INSERT INTO plans (id, name) VALUES (9, 'x')",
        ))
        .await?;
        tx.execute(&Statement::new("INSERT INTO no_such_table VALUES (1)"))
            .await?;
        Ok(())
    })
}

/// A Rust data migration runs in a transaction on every engine (MySQL
/// included): it applies, reverts, and a failing one leaves nothing.
async fn rust_data_migration(url: &DatabaseUrl, db: &dyn Adapter) {
    let base = files(&[
        (
            "0001_plans.up.sql",
            "CREATE TABLE plans (id INT PRIMARY KEY, name VARCHAR(20));".into(),
        ),
        ("0001_plans.down.sql", "DROP TABLE plans;".into()),
    ]);
    let set = base
        .clone()
        .with_rust(2, "seed", "r1", seed, Some(unseed))
        .unwrap();
    let m = Migrator::new(url.clone(), set).options(options("mig_rust"));
    assert_eq!(m.up().await.unwrap().applied, [1, 2]);
    assert_eq!(count(db, "plans").await, 3);
    assert_eq!(m.down(None).await.unwrap().reverted, [2]);
    assert_eq!(count(db, "plans").await, 0);
    let failing = base
        .with_rust(2, "seed", "r2", seed_then_fail, None)
        .unwrap();
    let m = Migrator::new(url.clone(), failing).options(options("mig_rust"));
    let e = m.up().await.unwrap_err();
    assert!(
        matches!(
            e,
            MigrateError::Failed {
                version: 2,
                rolled_back: true,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        count(db, "plans").await,
        0,
        "the failed migration's insert was rolled back"
    );
    assert_eq!(states(&m).await, [(1, State::Applied), (2, State::Pending)]);
}

/// The README's expand/contract rename (tests/fixtures/rename_pg) lints
/// clean and every down undoes its up.
async fn readme_rename_walkthrough(url: &DatabaseUrl) {
    let set = Migrations::from_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/rename_pg"
    ))
    .unwrap();
    let findings = covet_migrate::lint(
        Engine::Postgres,
        &set,
        covet_migrate::LintOptions::default(),
    );
    assert!(findings.is_empty(), "{findings:?}");
    let sources = covet_core::PasswordSources::from_env();
    let r = covet_migrate::verify(url, &sources, &set, options("mig_rn"))
        .await
        .unwrap();
    assert_eq!(r.irreversible, [12]);
    assert_eq!(r.reversible.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(base) = server_url("COVET_PG_URL") else {
        return;
    };
    let (url, admin, name) = create_db(&base, "covet_migrate_t").await;
    Box::pin(scenarios(url)).await;
    drop_db(admin.as_ref(), Engine::Postgres, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb() {
    let Some(base) = server_url("COVET_MYSQL_URL") else {
        return;
    };
    let (url, admin, name) = create_db(&base, "covet_migrate_t").await;
    Box::pin(scenarios(url)).await;
    drop_db(admin.as_ref(), Engine::MySql, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("m.db").display())).unwrap();
    Box::pin(scenarios(url)).await;
}
