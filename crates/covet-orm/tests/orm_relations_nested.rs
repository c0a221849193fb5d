//! Nested select_related (two JOINs, one statement), nested prefetch (one
//! statement per level, IN lists chunked), prefetch with custom QuerySets,
//! the unused-prefetch report and the N+1 hint that names the relation, on
//! every engine available.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use covet_core::{Adapter, Dialect, ExecResult, Layer, Rows, Statement};
use covet_monitor::nplusone::{self, Mode, NPlusOneLayer, Scope};
use covet_orm::ddl::{create_table, drop_table};
use covet_orm::{Executor, ModelExt};
use support::{Comment, Post, PostTag, Tag, User};

const USERS: usize = 3;
const POSTS_EACH: usize = 2;
const COMMENTS_EACH: usize = 3;

async fn setup(raw: &Arc<dyn Adapter>, mode: Mode) -> Arc<dyn Adapter> {
    for _ in 0..2 {
        let _ = drop_table::<Comment, _>(raw).await;
        let _ = drop_table::<PostTag, _>(raw).await;
        let _ = drop_table::<Tag, _>(raw).await;
        let _ = drop_table::<Post, _>(raw).await;
        let _ = drop_table::<User, _>(raw).await;
    }
    create_table::<User, _>(raw).await.unwrap();
    create_table::<Post, _>(raw).await.unwrap();
    create_table::<Comment, _>(raw).await.unwrap();
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
        for j in 0..POSTS_EACH {
            let mut p = Post {
                id: 0,
                author_id: u.id,
                title: format!("post {i}.{j}"),
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
            let comments: Vec<Comment> = (0..COMMENTS_EACH)
                .map(|k| Comment {
                    id: 0,
                    post_id: p.id,
                    text: format!("comment {i}.{j}.{k}"),
                })
                .collect();
            Comment::bulk_create(&comments, raw).await.unwrap();
        }
    }
    NPlusOneLayer::new().mode(mode).layer(Arc::clone(raw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_select_related_is_one_statement() {
    for e in support::engines().await {
        let name = e.name;
        let db = setup(&e.adapter, Mode::Error).await;
        let db = &db;
        let rows = nplusone::assert_num_queries(1, async {
            Comment::objects()
                .order_by(Comment::ID)
                .select_related(Comment::POST)
                .then(Post::AUTHOR)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(rows.len(), USERS * POSTS_EACH * COMMENTS_EACH, "{name}");
        for (c, p, u) in &rows {
            assert_eq!(c.post_id, p.id, "{name}");
            assert_eq!(p.author_id, u.id, "{name}");
            assert!(c.text.starts_with(&p.title.replace("post", "comment")));
        }
        // Filters on the first model still apply, qualified by its alias.
        let one = Comment::objects()
            .filter(Comment::TEXT.eq("comment 1.0.2"))
            .select_related(Comment::POST)
            .then(Post::AUTHOR)
            .all(db)
            .await
            .unwrap();
        assert_eq!(one.len(), 1, "{name}");
        assert_eq!(one[0].2.name, "user 1", "{name}");

        // Two relations of the same model side by side.
        let pairs = nplusone::assert_num_queries(1, async {
            PostTag::objects()
                .select_related(PostTag::POST)
                .also(PostTag::TAG)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(pairs.len(), USERS * POSTS_EACH, "{name}");
        assert!(
            pairs
                .iter()
                .all(|(pt, p, t)| pt.post_id == p.id && pt.tag_id == t.id && t.name == "rust")
        );
        e.teardown().await;
    }
}

#[test]
fn nested_select_related_sql() {
    let stmt = Comment::objects()
        .filter(Comment::ID.gt(5))
        .select_related(Comment::POST)
        .then(Post::AUTHOR)
        .sql(Dialect::POSTGRES)
        .unwrap();
    assert_eq!(
        stmt.sql(),
        r#"SELECT "t0"."id", "t0"."post_id", "t0"."text", "t1"."id", "t1"."user_id", "t1"."title", "t1"."body", "t1"."created_at", "t2"."id", "t2"."name", "t2"."email", "t2"."age", "t2"."hair_color", "t2"."created_at" FROM "comments" AS "t0" INNER JOIN "posts" AS "t1" ON "t1"."id" = "t0"."post_id" INNER JOIN "users" AS "t2" ON "t2"."id" = "t1"."user_id" WHERE "t0"."id" > $1"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_prefetch_is_one_statement_per_level() {
    for e in support::engines().await {
        let name = e.name;
        let db = setup(&e.adapter, Mode::Error).await;
        let db = &db;
        let users = nplusone::assert_num_queries(3, async {
            User::objects()
                .order_by(User::ID)
                .prefetch(Post::AUTHOR)
                .then(Comment::POST)
                .all(db)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(users.len(), USERS, "{name}");
        for (u, posts) in &users {
            assert_eq!(posts.len(), POSTS_EACH, "{name}");
            for (p, comments) in posts {
                assert_eq!(p.author_id, u.id, "{name}");
                assert_eq!(comments.len(), COMMENTS_EACH, "{name}");
                assert!(comments.iter().all(|c| c.post_id == p.id), "{name}");
            }
        }

        // Custom QuerySets at both levels: filter and order.
        let filtered = nplusone::assert_num_queries(3, async {
            User::objects()
                .order_by(User::ID)
                .prefetch_with(
                    Post::AUTHOR,
                    Post::objects()
                        .filter(Post::TITLE.ne("post 0.1"))
                        .order_by(Post::ID.desc()),
                )
                .then_with(
                    Comment::POST,
                    Comment::objects()
                        .exclude(Comment::TEXT.eq("comment 0.0.1"))
                        .order_by(Comment::ID.desc()),
                )
                .all(db)
                .await
                .unwrap()
        })
        .await;
        let shape: Vec<Vec<(String, Vec<String>)>> = filtered
            .iter()
            .map(|(_, ps)| {
                ps.iter()
                    .map(|(p, cs)| (p.title.clone(), cs.iter().map(|c| c.text.clone()).collect()))
                    .collect()
            })
            .collect();
        assert_eq!(
            shape[0],
            vec![(
                "post 0.0".to_string(),
                vec!["comment 0.0.2".to_string(), "comment 0.0.0".to_string()]
            )],
            "{name}"
        );
        assert_eq!(shape[1][0].0, "post 1.1", "{name}: children ordered desc");
        assert_eq!(shape[1][0].1[0], "comment 1.1.2", "{name}");
        e.teardown().await;
    }
}

/// An executor that claims a tiny parameter limit, so every IN list of
/// a prefetch is cut into one key per statement.
struct Tiny<'a>(&'a dyn Adapter);

#[async_trait]
impl Executor for &mut Tiny<'_> {
    fn dialect(&self) -> Dialect {
        Dialect {
            max_params: 2,
            ..self.0.dialect()
        }
    }
    async fn execute(&mut self, stmt: &Statement) -> covet_core::Result<ExecResult> {
        self.0.execute(stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> covet_core::Result<Rows> {
        self.0.query(stmt).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_prefetch_chunks_keys_to_the_parameter_limit() {
    for e in support::engines().await {
        let name = e.name;
        let db = setup(&e.adapter, Mode::Log).await;
        let (users, report) = Scope::new()
            .threshold(100)
            .run(async {
                let mut tiny = Tiny(&*db);
                User::objects()
                    .prefetch(Post::AUTHOR)
                    .then(Comment::POST)
                    .all(&mut tiny)
                    .await
                    .unwrap()
            })
            .await;
        // One parent query, one per user, one per post.
        assert_eq!(
            report.total(),
            (1 + USERS + USERS * POSTS_EACH) as u64,
            "{name}: {}",
            report.listing()
        );
        let comments: usize = users
            .iter()
            .flat_map(|(_, ps)| ps.iter())
            .map(|(_, cs)| cs.len())
            .sum();
        assert_eq!(comments, USERS * POSTS_EACH * COMMENTS_EACH, "{name}");
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_prefetch_is_reported_when_dropped() {
    for e in support::engines().await {
        let name = e.name;
        let db = setup(&e.adapter, Mode::Log).await;
        let db = &db;
        let ((), report) = nplusone::scope(async {
            let users = User::objects()
                .prefetch(Post::AUTHOR)
                .all(db)
                .await
                .unwrap();
            // Only the parents are read.
            assert_eq!(users.iter().map(|(u, _)| u.age).max(), Some(22));
        })
        .await;
        let unused = report.unused_eager_loads();
        assert_eq!(unused.len(), 1, "{name}: {report:?}");
        assert_eq!(unused[0].relation, "prefetch(Post::AUTHOR)", "{name}");
        assert_eq!(unused[0].rows, (USERS * POSTS_EACH) as u64, "{name}");
        assert_eq!(
            unused[0].call_site.map(|l| l.file()),
            Some(file!()),
            "{name}"
        );

        // Read at one level, unread at the next: only the second reported.
        let ((), report) = nplusone::scope(async {
            let users = User::objects()
                .prefetch(Post::AUTHOR)
                .then(Comment::POST)
                .all(db)
                .await
                .unwrap();
            let posts: usize = users.iter().map(|(_, ps)| ps.len()).sum();
            assert_eq!(posts, USERS * POSTS_EACH);
        })
        .await;
        let unused = report.unused_eager_loads();
        assert_eq!(unused.len(), 1, "{name}: {report:?}");
        assert_eq!(unused[0].relation, "prefetch(Comment::POST)", "{name}");

        // Read: nothing reported.
        let ((), report) = nplusone::scope(async {
            let users = User::objects()
                .prefetch(Post::AUTHOR)
                .all(db)
                .await
                .unwrap();
            for (_, posts) in &users {
                for p in posts {
                    assert!(!p.title.is_empty());
                }
            }
        })
        .await;
        assert!(report.unused_eager_loads().is_empty(), "{name}");
        e.teardown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_plus_one_hint_names_the_relation() {
    for e in support::engines().await {
        let name = e.name;
        let db = setup(&e.adapter, Mode::Log).await;
        let db = &db;
        let ((), report) = nplusone::scope(async {
            for u in User::objects().all(db).await.unwrap() {
                let posts = Post::objects()
                    .filter(Post::AUTHOR_ID.eq(u.id))
                    .all(db)
                    .await
                    .unwrap();
                assert_eq!(posts.len(), POSTS_EACH);
            }
        })
        .await;
        let found = report.n_plus_one();
        assert_eq!(found.len(), 1, "{name}: {report:?}");
        assert_eq!(found[0].fix, Some("prefetch(Post::AUTHOR)"), "{name}");
        assert!(
            found[0].to_string().contains("prefetch(Post::AUTHOR)"),
            "{name}: {}",
            found[0]
        );

        // The forward loop: each post's author by primary key.
        let ((), report) = nplusone::scope(async {
            for p in Post::objects().all(db).await.unwrap() {
                User::objects()
                    .filter(User::ID.eq(p.author_id))
                    .get(db)
                    .await
                    .unwrap();
            }
        })
        .await;
        let found = report.n_plus_one();
        assert_eq!(found.len(), 1, "{name}: {report:?}");
        assert_eq!(found[0].fix, Some("select_related(Post::AUTHOR)"), "{name}");
        assert!(found[0].hint().contains("select_related(Post::AUTHOR)"));

        // A join table's foreign key: the prefetch of that relation.
        let ((), report) = nplusone::scope(async {
            for _ in 0..3 {
                PostTag::objects()
                    .filter(PostTag::POST_ID.eq(0))
                    .all(db)
                    .await
                    .unwrap();
            }
        })
        .await;
        assert_eq!(
            report.n_plus_one()[0].fix,
            Some("prefetch(PostTag::POST)"),
            "{name}"
        );
        e.teardown().await;
    }
}
