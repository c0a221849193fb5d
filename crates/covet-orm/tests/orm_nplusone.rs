//! Relation loading runs the expected number of statements (asserted with
//! the budget API of `covet_monitor::nplusone`), and the N+1 loop is
//! reported with the user's call site in log and error modes (and not when
//! the relation was prefetched), on every engine available.

mod support;

use std::panic::Location;
use std::sync::Arc;

use covet_core::{Adapter, Layer};
use covet_monitor::nplusone::{self, Budget, Mode, NPlusOneError, NPlusOneLayer};
use covet_orm::ddl::{create_table, drop_table};
use covet_orm::{ModelExt, OrmError};
use support::{Post, PostTag, Tag, User};

const USERS: usize = 4;

/// Creates and fills the tables through `raw` (not counted), returns
/// the adapter wrapped in the detector.
async fn setup(raw: &Arc<dyn Adapter>, mode: Mode) -> Arc<dyn Adapter> {
    for _ in 0..2 {
        // Leftovers from an earlier failed run on the same database.
        let _ = drop_table::<PostTag, _>(raw).await;
        let _ = drop_table::<Tag, _>(raw).await;
        let _ = drop_table::<Post, _>(raw).await;
        let _ = drop_table::<User, _>(raw).await;
    }
    create_table::<User, _>(raw).await.unwrap();
    create_table::<Post, _>(raw).await.unwrap();
    create_table::<Tag, _>(raw).await.unwrap();
    create_table::<PostTag, _>(raw).await.unwrap();
    let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
        .unwrap()
        .and_hms_opt(3, 4, 5)
        .unwrap();
    let mut tag = Tag {
        id: 0,
        name: "rust".into(),
    };
    tag.insert(raw).await.unwrap();
    for i in 0..USERS {
        let mut u = User {
            id: 0,
            name: format!("user {i}"),
            email: format!("u{i}@example.com"),
            age: 20 + i as i32,
            hair_color: None,
            created_at: at,
        };
        u.insert(raw).await.unwrap();
        let mut p = Post {
            id: 0,
            author_id: u.id,
            title: format!("post {i}"),
            body: None,
            created_at: at,
        };
        p.insert(raw).await.unwrap();
        PostTag {
            post_id: p.id,
            tag_id: tag.id,
        }
        .insert(raw)
        .await
        .unwrap();
    }
    NPlusOneLayer::new().mode(mode).layer(Arc::clone(raw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relation_loading_runs_the_expected_statements() {
    for e in support::engines().await {
        let db = setup(&e.adapter, Mode::Error).await;
        let db = &db;
        let joined = nplusone::assert_num_queries(1, async {
            Post::objects()
                .select_related(Post::AUTHOR)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(joined.len(), USERS, "{}", e.name);

        // One statement per level: the users, then their posts.
        let users = nplusone::assert_num_queries(2, async {
            User::objects()
                .prefetch(Post::AUTHOR)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert!(
            users.iter().all(|(_, posts)| posts.len() == 1),
            "{}",
            e.name
        );

        // Through the join table: posts, then tags with the join.
        let tagged = nplusone::assert_num_queries(2, async {
            Post::objects()
                .prefetch_through(PostTag::POST, PostTag::TAG)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert!(tagged.iter().all(|(_, tags)| tags.len() == 1), "{}", e.name);

        // Reading the prefetched relation in a loop is no N+1.
        let ((), report) = nplusone::scope(async {
            let users = User::objects()
                .prefetch(Post::AUTHOR)
                .all(db)
                .await
                .unwrap();
            let titles: usize = users.iter().map(|(_, p)| p.len()).sum();
            assert_eq!(titles, USERS);
        })
        .await;
        assert!(report.n_plus_one().is_empty(), "{}: {report:?}", e.name);
        assert_eq!(report.total(), 2, "{}", e.name);

        // The scale check: prefetch does not grow with the number of rows.
        nplusone::check_constant_queries(1, USERS, |n| async move {
            let users = User::objects()
                .limit(n as u64)
                .prefetch(Post::AUTHOR)
                .all(db)
                .await
                .unwrap();
            assert_eq!(users.len(), n);
        })
        .await
        .unwrap();
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_n_plus_one_loop_is_refused_in_error_mode_at_the_users_line() {
    for e in support::engines().await {
        let db = setup(&e.adapter, Mode::Error).await;
        let db = &db;
        let mut line = 0;
        let (results, report) = nplusone::scope(async {
            let posts = Post::objects().all(db).await.unwrap();
            let mut results = Vec::new();
            for p in &posts {
                let q = User::objects().filter(User::ID.eq(p.author_id));
                #[rustfmt::skip]
                let r = { line = line!(); q.get(db).await };
                results.push(r);
            }
            results
        })
        .await;
        assert!(results[0].is_ok() && results[1].is_ok(), "{}", e.name);
        let Err(OrmError::Db(err)) = &results[2] else {
            panic!(
                "{}: the third query should be refused: {:?}",
                e.name, results[2]
            );
        };
        let found = NPlusOneError::find(err).expect("an N+1 report");
        let site = found.call_site.expect("the ORM sets the call site");
        assert_eq!(site.line(), line, "{}", e.name);
        assert!(site.file().ends_with("orm_nplusone.rs"), "{}", site.file());
        // SQLite's fingerprint hides double-quoted names (SQLite may read
        // them as string literals), so the table shows on the others only.
        if e.name != "sqlite" {
            assert!(
                found.fingerprint.contains("users"),
                "{}: {}",
                e.name,
                found.fingerprint
            );
        }
        assert!(
            found.fingerprint.starts_with("select "),
            "{}",
            found.fingerprint
        );
        assert_eq!(report.n_plus_one().len(), 1, "{}", e.name);
        assert_eq!(report.n_plus_one()[0].count, USERS as u64, "{}", e.name);
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_n_plus_one_loop_is_logged_in_log_mode_and_concurrent_queries_count() {
    for e in support::engines().await {
        let db = setup(&e.adapter, Mode::Log).await;
        let db = &db;
        let mut line = 0;
        let (names, report) = nplusone::scope(async {
            let posts = Post::objects().all(db).await.unwrap();
            let mut names = Vec::new();
            for p in &posts {
                #[rustfmt::skip]
                let u = { line = line!(); User::objects().filter(User::ID.eq(p.author_id)).first(db).await };
                names.push(u.unwrap().unwrap().name);
            }
            names
        })
        .await;
        assert_eq!(names.len(), USERS, "log mode lets every query run");
        let found = &report.n_plus_one()[0];
        assert_eq!(
            found.call_site.map(Location::line),
            Some(line),
            "{}",
            e.name
        );
        assert_eq!(found.count, USERS as u64);

        // The same from concurrent futures (join_all): counted all the same.
        let ((), report) = nplusone::scope(async {
            let posts = Post::objects().all(db).await.unwrap();
            let futs = posts.iter().map(|p| async move {
                User::objects()
                    .filter(User::ID.eq(p.author_id))
                    .count(db)
                    .await
            });
            for n in futures_util::future::join_all(futs).await {
                assert_eq!(n.unwrap(), 1);
            }
        })
        .await;
        assert_eq!(report.n_plus_one().len(), 1, "{}", e.name);
        assert_eq!(report.n_plus_one()[0].count, USERS as u64, "{}", e.name);
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_budget_names_the_statements_not_their_values() {
    let e = support::sqlite_only().await;
    let db = setup(&e.adapter, Mode::Off).await;
    let db = &db;
    let err = Budget::new()
        .max(2)
        .check(async {
            let posts = Post::objects().all(db).await.unwrap();
            for p in &posts {
                User::objects()
                    .filter(User::EMAIL.eq(format!("secret{}@example.com", p.id)))
                    .count(db)
                    .await
                    .unwrap();
            }
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("expected at most 2 statements, {} ran", USERS + 1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("{USERS} x select count(*)")),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
    e.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_in_a_loop_carry_the_users_call_site() {
    let e = support::sqlite_only().await;
    let db = setup(&e.adapter, Mode::Log).await;
    let db = &db;
    let mut line = 0;
    let ((), report) = nplusone::scope(async {
        for mut u in User::objects().all(db).await.unwrap() {
            u.age += 1;
            #[rustfmt::skip]
            let saved = { line = line!(); u.save(db).await };
            saved.unwrap();
        }
    })
    .await;
    let found = &report.n_plus_one()[0];
    assert_eq!(found.call_site.map(Location::line), Some(line));
    assert_eq!(found.count, USERS as u64);
    e.teardown().await;
}
