//! The standard workload (users, posts, comments, tags, post_tags) as
//! models, run against an in-memory SQLite database: create the tables,
//! load a small deterministic data set, and run the queries the benchmarks
//! time. `cargo run -p covet-orm --example workload`; also run by the
//! `workload_example` test.
// The fields are the workload's columns, described in the shared workload
// definition; a doc line on each would repeat the column name.
#![allow(missing_docs)]

use std::sync::Arc;

use chrono::NaiveDateTime;
use covet_adapter_sqlite::SqliteAdapter;
use covet_core::Adapter;
use covet_orm::{Model, ModelExt, ddl};

/// `users`: index on age, unique email.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "users")]
pub struct User {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 100)]
    pub name: String,
    #[covet(max_length = 255, unique)]
    pub email: String,
    #[covet(index)]
    pub age: i32,
    #[covet(max_length = 50)]
    pub hair_color: Option<String>,
    pub created_at: NaiveDateTime,
}

/// `posts`, each by one user.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "posts")]
pub struct Post {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = User, column = "user_id", index)]
    pub author_id: i64,
    #[covet(max_length = 200)]
    pub title: String,
    pub body: Option<String>,
    pub created_at: NaiveDateTime,
}

/// `comments`, each on one post.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "comments")]
pub struct Comment {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = Post, index)]
    pub post_id: i64,
    pub text: String,
}

/// `tags`, unique names.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tags")]
pub struct Tag {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 50, unique)]
    pub name: String,
}

/// `post_tags`, the many-to-many join table with a composite key.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "post_tags")]
pub struct PostTag {
    #[covet(primary_key, belongs_to = Post)]
    pub post_id: i64,
    #[covet(primary_key, belongs_to = Tag)]
    pub tag_id: i64,
}

/// What the run found, for the test to check.
#[derive(Debug, PartialEq)]
pub struct Summary {
    pub adults: usize,
    pub posts_with_authors: usize,
    pub comments_of_last_user: usize,
    pub tags_of_posts: usize,
}

/// Builds the schema, loads `users` users (user i has i mod 4 posts, two
/// comments a post, three tags a post), and runs the workload's queries.
pub async fn run(users: i32) -> Result<Summary, Box<dyn std::error::Error>> {
    let db: Arc<dyn Adapter> = Arc::new(SqliteAdapter::connect(&"sqlite::memory:".parse()?).await?);
    ddl::create_table::<User, _>(&db).await?;
    ddl::create_table::<Post, _>(&db).await?;
    ddl::create_table::<Comment, _>(&db).await?;
    ddl::create_table::<Tag, _>(&db).await?;
    ddl::create_table::<PostTag, _>(&db).await?;

    let t0 = chrono::DateTime::from_timestamp(1_700_000_000, 0)
        .ok_or("timestamp")?
        .naive_utc();
    let colors = ["black", "brown", "blond", "red"];
    let people: Vec<User> = (0..users)
        .map(|i| User {
            id: 0,
            name: format!("User {i}"),
            email: format!("user{i}@example.com"),
            age: 10 + i % 71,
            hair_color: (i % 5 != 0).then(|| colors[(i % 4) as usize].to_owned()),
            created_at: t0,
        })
        .collect();
    User::bulk_create(&people, &db).await?;
    let mut tags = Vec::new();
    for name in ["rust", "sql", "orm"] {
        let mut t = Tag {
            id: 0,
            name: name.into(),
        };
        t.insert(&db).await?;
        tags.push(t);
    }
    for (n, u) in User::objects()
        .order_by(User::ID)
        .all(&db)
        .await?
        .into_iter()
        .enumerate()
    {
        for p in 0..n % 4 {
            let mut post = Post {
                id: 0,
                author_id: u.id,
                title: format!("Post {p} by {}", u.name),
                body: Some("body".repeat(50)),
                created_at: t0,
            };
            post.insert(&db).await?;
            let comments = [0, 1].map(|c| Comment {
                id: 0,
                post_id: post.id,
                text: format!("comment {c}"),
            });
            Comment::bulk_create(&comments, &db).await?;
            let links: Vec<PostTag> = tags
                .iter()
                .map(|t| PostTag {
                    post_id: post.id,
                    tag_id: t.id,
                })
                .collect();
            PostTag::bulk_create(&links, &db).await?;
        }
    }

    // The original plan's query: adults.
    let adults = User::objects().filter(User::AGE.gte(18)).all(&db).await?;
    // Posts with their author by one JOIN, not one query per post.
    let posts = Post::objects()
        .select_related(Post::AUTHOR)
        .all(&db)
        .await?;
    // Many-to-many: every post with its tags, through post_tags, in two
    // queries.
    let tagged = Post::objects()
        .prefetch_through(PostTag::POST, PostTag::TAG)
        .all(&db)
        .await?;
    let tags_of_posts = tagged.iter().map(|(_, tags)| tags.len()).sum();
    // A dynamic filter across two relations.
    let last = User::objects().order_by(User::ID.desc()).first(&db).await?;
    let comments_of_last_user = match last {
        Some(u) => {
            Comment::objects()
                .filter_lookup("post__author__email", u.email.as_str())?
                .count(&db)
                .await?
        }
        None => 0,
    };
    Ok(Summary {
        adults: adults.len(),
        posts_with_authors: posts.len(),
        comments_of_last_user: usize::try_from(comments_of_last_user)?,
        tags_of_posts,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let s = run(200).await?;
    println!(
        "{} adults, {} posts loaded with their authors, {} comments on the last user's posts, \
         {} tags on all posts",
        s.adults, s.posts_with_authors, s.comments_of_last_user, s.tags_of_posts
    );
    Ok(())
}
