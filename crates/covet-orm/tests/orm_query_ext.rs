//! only/defer, group_by + annotate, bulk_update, bulk_create_returning,
//! update_or_create under concurrency and transaction retry on
//! serialization failure, on every engine.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::NaiveDateTime;
use covet_core::{Dialect, IsolationLevel, TxOptions};
use covet_orm::ddl::{create_table, drop_table};
use covet_orm::{Agg, Db, Model, ModelExt, OrmError, TextColumn, transaction_with_retry};
use covet_resilience::retry::RetryPolicy;
use support::User;

fn when() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2024, 5, 6)
        .unwrap()
        .and_hms_opt(7, 8, 9)
        .unwrap()
}

fn user(i: i32, hair: &str) -> User {
    User {
        id: 0,
        name: format!("user {i}"),
        email: format!("u{i}@example.com"),
        age: 20 + i,
        hair_color: Some(hair.into()),
        created_at: when(),
    }
}

async fn fresh_users(a: &dyn covet_core::Adapter, n: i32) -> Vec<User> {
    drop_table::<User, _>(a).await.unwrap();
    create_table::<User, _>(a).await.unwrap();
    let colors = ["black", "brown", "red"];
    let users: Vec<User> = (0..n).map(|i| user(i, colors[i as usize % 3])).collect();
    User::bulk_create(&users, a).await.unwrap();
    User::objects().order_by(User::ID).all(a).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_and_defer_refuse_unselected_fields() {
    for e in support::engines().await {
        let name = e.name;
        let a = &*e.adapter;
        let users = fresh_users(a, 3).await;

        let only = User::objects()
            .order_by(User::ID)
            .only(&[User::NAME.into(), User::AGE.into()]);
        let stmt = only.sql(a.dialect()).unwrap();
        assert!(!stmt.sql().contains("email"), "{name}: {}", stmt.sql());
        let rows = only.all(a).await.unwrap();
        assert_eq!(rows.len(), 3, "{name}");
        // The primary key is always selected.
        assert_eq!(rows[0].get(User::ID).unwrap(), users[0].id, "{name}");
        assert_eq!(rows[1].get(User::NAME).unwrap(), users[1].name, "{name}");
        assert_eq!(rows[2].get(User::AGE).unwrap(), users[2].age, "{name}");
        let err = rows[0].get(User::EMAIL).unwrap_err();
        assert!(
            matches!(
                err,
                OrmError::Deferred {
                    model: "User",
                    field: "email"
                }
            ),
            "{name}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("User.email was deferred"), "{name}: {msg}");
        assert!(!rows[0].is_loaded(User::EMAIL), "{name}");
        assert!(matches!(
            rows[0].clone().into_model(),
            Err(OrmError::Deferred { .. })
        ));

        let deferred = User::objects()
            .filter(User::ID.eq(users[1].id))
            .defer(&[User::EMAIL.into(), User::ID.into()]);
        let p = deferred.first(a).await.unwrap().unwrap();
        assert_eq!(p.get(User::ID).unwrap(), users[1].id, "{name}");
        assert_eq!(p.get(User::HAIR_COLOR).unwrap(), users[1].hair_color);
        assert_eq!(p.get_by_name::<String>("name").unwrap(), users[1].name);
        assert!(matches!(
            p.get_by_name::<String>("email"),
            Err(OrmError::Deferred { field: "email", .. })
        ));

        // Nothing deferred: the whole model.
        let all = User::objects()
            .filter(User::ID.eq(users[2].id))
            .defer(&[])
            .first(a)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all.into_model().unwrap(), users[2], "{name}");

        // Names at run time are checked against the model.
        let p = User::objects()
            .only_names(&["email"])
            .unwrap()
            .all(a)
            .await
            .unwrap();
        assert_eq!(p.len(), 3);
        assert!(matches!(
            User::objects().only_names(&["password"]),
            Err(OrmError::UnknownField { .. })
        ));
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_by_with_annotations_matches_rust() {
    for e in support::engines().await {
        let name = e.name;
        let a = &*e.adapter;
        let users = fresh_users(a, 10).await;

        let rows = User::objects()
            .filter(User::AGE.gte(21))
            .group_by(&[User::HAIR_COLOR.into()])
            .annotate("n", Agg::count())
            .annotate("sum", Agg::sum(User::AGE))
            .annotate("avg", Agg::avg(User::AGE))
            .annotate("min", Agg::min(User::AGE))
            .annotate("max", Agg::max(User::AGE))
            .order_by_key(User::HAIR_COLOR, false)
            .all(a)
            .await
            .unwrap();
        let mut expect: Vec<(String, Vec<i32>)> = Vec::new();
        for u in users.iter().filter(|u| u.age >= 21) {
            let hair = u.hair_color.clone().unwrap();
            match expect.iter_mut().find(|(h, _)| *h == hair) {
                Some((_, ages)) => ages.push(u.age),
                None => expect.push((hair, vec![u.age])),
            }
        }
        expect.sort();
        assert_eq!(rows.len(), expect.len(), "{name}");
        for (row, (hair, ages)) in rows.iter().zip(&expect) {
            assert_eq!(row.key(User::HAIR_COLOR).unwrap().as_ref(), Some(hair));
            assert_eq!(row.get::<i64>("n").unwrap(), ages.len() as i64, "{name}");
            let sum: i64 = ages.iter().map(|&a| i64::from(a)).sum();
            assert_eq!(row.get::<i64>("sum").unwrap(), sum, "{name}");
            assert_eq!(row.agg(Agg::sum(User::AGE)).unwrap(), Some(sum), "{name}");
            let avg = row.get::<f64>("avg").unwrap();
            assert!(
                (avg - sum as f64 / ages.len() as f64).abs() < 1e-9,
                "{name}"
            );
            assert_eq!(row.get::<i32>("min").unwrap(), *ages.iter().min().unwrap());
            assert_eq!(
                row.agg(Agg::max(User::AGE)).unwrap(),
                ages.iter().max().copied()
            );
            assert!(row.key(User::AGE).is_err(), "{name}: AGE is not a key");
            assert!(row.get::<i64>("nope").is_err());
        }

        // The dynamic form, ordered by an annotation.
        let dynamic = User::objects()
            .group_by_names(&["hair_color"])
            .unwrap()
            .annotate_name("n", "count", None)
            .unwrap()
            .annotate_name("oldest", "MAX", Some("age"))
            .unwrap()
            .order_by_annotation("-oldest")
            .unwrap()
            .all(a)
            .await
            .unwrap();
        let oldest: Vec<i32> = dynamic.iter().map(|r| r.get("oldest").unwrap()).collect();
        assert_eq!(oldest, vec![29, 28, 27], "{name}");
        let n: i64 = dynamic.iter().map(|r| r.get::<i64>("n").unwrap()).sum();
        assert_eq!(n, 10, "{name}");
        assert!(User::objects().group_by_names(&["secret"]).is_err());
        assert!(
            User::objects()
                .group_by(&[])
                .annotate_name("x", "median", Some("age"))
                .is_err()
        );
        assert!(
            User::objects()
                .group_by(&[])
                .annotate_name("x", "sum", Some("name"))
                .is_err()
        );
        e.teardown().await;
    }
}

#[test]
fn group_by_sql_has_no_annotation_names_and_only_placeholders() {
    let q = User::objects()
        .filter(User::NAME.eq("x'; DROP TABLE users; --"))
        .limit(3)
        .group_by(&[User::AGE.into()])
        .annotate("n\"; DROP", Agg::count())
        .order_by_annotation("-n\"; DROP")
        .unwrap();
    let stmt = q.sql(Dialect::POSTGRES).unwrap();
    assert_eq!(
        stmt.sql(),
        r#"SELECT "age", CAST(COUNT(*) AS BIGINT) FROM "users" WHERE "name" = $1 GROUP BY "age" ORDER BY CAST(COUNT(*) AS BIGINT) DESC LIMIT $2"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_update_writes_fields_by_key() {
    for e in support::engines().await {
        let name = e.name;
        let a = &*e.adapter;
        let mut users = fresh_users(a, 6).await;
        for u in &mut users[..4] {
            u.age += 100;
            u.name = format!("renamed {}", u.id);
            u.email = "not written".into();
        }
        let n = User::bulk_update(&users[..4], &[User::AGE.into(), User::NAME.into()], a)
            .await
            .unwrap();
        assert_eq!(n, 4, "{name}");
        let back = User::objects().order_by(User::ID).all(a).await.unwrap();
        for (b, u) in back.iter().zip(&users).take(4) {
            assert_eq!((b.age, &b.name), (u.age, &u.name), "{name}");
            assert_ne!(b.email, "not written", "{name}");
        }
        assert_eq!(back[4].age, 24, "{name}");
        // NULLs too.
        users[5].hair_color = None;
        User::bulk_update(&users[5..], &[User::HAIR_COLOR.into()], a)
            .await
            .unwrap();
        let b = User::objects()
            .filter(User::ID.eq(users[5].id))
            .get(a)
            .await
            .unwrap();
        assert_eq!(b.hair_color, None, "{name}");
        assert!(matches!(
            User::bulk_update(&users, &[User::ID.into()], a).await,
            Err(OrmError::Unsupported(_))
        ));
        e.teardown().await;
    }
}

#[test]
fn bulk_update_is_chunked_by_the_parameter_limit() {
    let users: Vec<User> = (0..10)
        .map(|i| User {
            id: i64::from(i) + 1,
            ..user(i, "x")
        })
        .collect();
    // 2 fields: 5 parameters per row; 12 parameters fit 2 rows.
    let tight = Dialect {
        max_params: 12,
        ..Dialect::SQLITE
    };
    let stmts =
        covet_orm::bulk_update_sql(&users, &[User::AGE.into(), User::NAME.into()], tight).unwrap();
    assert_eq!(stmts.len(), 5);
    assert!(stmts.iter().all(|s| s.params().len() <= 12));
    let pg =
        covet_orm::bulk_update_sql(&users[..1], &[User::AGE.into()], Dialect::POSTGRES).unwrap();
    assert_eq!(
        pg[0].sql(),
        r#"UPDATE "users" SET "age" = CASE "id" WHEN $1 THEN CAST($2 AS INTEGER) ELSE "age" END WHERE "id" IN ($3)"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_create_returning_sets_generated_keys() {
    for e in support::engines().await {
        let name = e.name;
        let db = Db::new(e.adapter.clone()).await.unwrap();
        drop_table::<User, _>(&db).await.unwrap();
        create_table::<User, _>(&db).await.unwrap();
        let mut first = vec![user(100, "x")];
        User::bulk_create_returning(&mut first, &db).await.unwrap();
        let mut users: Vec<User> = (0..25).map(|i| user(i, "black")).collect();
        let n = User::bulk_create_returning(&mut users, &db).await.unwrap();
        assert_eq!(n, 25, "{name}");
        for u in &users {
            assert!(u.id > first[0].id, "{name}");
            let back = User::objects()
                .filter(User::ID.eq(u.id))
                .get(&db)
                .await
                .unwrap();
            assert_eq!(&back, u, "{name}: key matched to the wrong row");
        }
        if name == "mysql" {
            // Without Db's RETURNING detection, MySQL's path refuses
            // before writing.
            let mut more = vec![user(200, "y")];
            let r = User::bulk_create_returning(&mut more, &*e.adapter).await;
            assert!(matches!(r, Err(OrmError::Unsupported(_))), "{r:?}");
            assert_eq!(User::objects().count(&db).await.unwrap(), 26);
        }
        e.teardown().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "counters")]
struct Counter {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(max_length = 50, unique)]
    name: String,
    hits: i32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_or_create_is_race_safe() {
    for e in support::engines().await {
        let name = e.name;
        let a = e.adapter.clone();
        drop_table::<Counter, _>(&a).await.unwrap();
        create_table::<Counter, _>(&a).await.unwrap();

        // Sequential: create, then update.
        let q = Counter::objects().filter(Counter::NAME.eq("solo"));
        let make = || Counter {
            id: 0,
            name: "solo".into(),
            hits: 1,
        };
        let set = [Counter::HITS.set(Counter::HITS.plus(1))];
        let (c, created) = q.update_or_create(&a, &set, make).await.unwrap();
        assert!(created && c.hits == 1, "{name}");
        let (c, created) = q.update_or_create(&a, &set, make).await.unwrap();
        assert!(!created && c.hits == 2, "{name}");

        // Two tasks racing on the same new keys: one creates, the other
        // updates; neither sees the unique violation.
        let created_count = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let a = a.clone();
            let created_count = created_count.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..8 {
                    let key = format!("race {k}");
                    let q = Counter::objects().filter(Counter::NAME.eq(key.as_str()));
                    let set = [Counter::HITS.set(Counter::HITS.plus(1))];
                    let (_, created) = q
                        .update_or_create(&a, &set, || Counter {
                            id: 0,
                            name: key.clone(),
                            hits: 1,
                        })
                        .await
                        .expect("update_or_create under a race");
                    if created {
                        created_count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(created_count.load(Ordering::Relaxed), 8, "{name}");
        let rows = Counter::objects()
            .filter(Counter::NAME.starts_with("race "))
            .all(&a)
            .await
            .unwrap();
        assert_eq!(rows.len(), 8, "{name}");
        assert!(rows.iter().all(|c| c.hits == 2), "{name}: {rows:?}");
        e.teardown().await;
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "doctors")]
struct Doctor {
    #[covet(primary_key)]
    id: i64,
    on_call: bool,
}

/// Write skew under SERIALIZABLE: each task reads that two doctors are on
/// call, then takes itself off call. PostgreSQL fails one of them with
/// 40001; the retried closure then sees one doctor left and stays on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_closure_survives_a_serialization_failure() {
    for e in support::engines().await {
        if e.name != "postgres" {
            e.teardown().await;
            continue;
        }
        let a = e.adapter.clone();
        drop_table::<Doctor, _>(&a).await.unwrap();
        create_table::<Doctor, _>(&a).await.unwrap();
        let both = [1, 2].map(|id| Doctor { id, on_call: true });
        Doctor::bulk_create(&both, &a).await.unwrap();

        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let attempts = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for me in [1_i64, 2] {
            let (a, barrier, attempts) = (a.clone(), barrier.clone(), attempts.clone());
            tasks.push(tokio::spawn(async move {
                let policy = RetryPolicy::builder().max_attempts(5).build().unwrap();
                let options = TxOptions {
                    isolation: Some(IsolationLevel::Serializable),
                    read_only: false,
                };
                let mut mine = 0;
                transaction_with_retry(&*a, &policy, options, |tx| {
                    mine += 1;
                    attempts.fetch_add(1, Ordering::Relaxed);
                    let first = mine == 1;
                    let barrier = barrier.clone();
                    Box::pin(async move {
                        let on = Doctor::objects()
                            .filter(Doctor::ON_CALL.eq(true))
                            .count(&mut *tx)
                            .await?;
                        if first {
                            barrier.wait().await;
                        }
                        if on >= 2 {
                            Doctor::objects()
                                .filter(Doctor::ID.eq(me))
                                .update(&mut *tx, &[Doctor::ON_CALL.set(false)])
                                .await?;
                        }
                        Ok(on)
                    })
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("the retried closure succeeds");
        }
        assert_eq!(attempts.load(Ordering::Relaxed), 3, "one task ran twice");
        let on = Doctor::objects()
            .filter(Doctor::ON_CALL.eq(true))
            .count(&a)
            .await
            .unwrap();
        assert_eq!(on, 1, "exactly one doctor stays on call");
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_closure_returns_its_own_errors_unretried() {
    for e in support::engines().await {
        let name = e.name;
        let a = e.adapter.clone();
        let policy = RetryPolicy::default();
        let runs = AtomicU32::new(0);
        let r: Result<(), OrmError> =
            transaction_with_retry(&*a, &policy, TxOptions::default(), |_tx| {
                runs.fetch_add(1, Ordering::Relaxed);
                Box::pin(async move { Err(OrmError::Unsupported("mine".into())) })
            })
            .await;
        assert!(
            matches!(r, Err(OrmError::Unsupported(m)) if m == "mine"),
            "{name}"
        );
        assert_eq!(runs.load(Ordering::Relaxed), 1, "{name}");
        e.teardown().await;
    }
}
