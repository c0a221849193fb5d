//! sqlx on one connection per engine: `query_as` into the `FromRow`
//! derives (tuples for joins), `QueryBuilder` for multi-row inserts and IN
//! lists, and its per-connection statement cache. One macro writes the
//! same code for the three engines; only the placeholder differs.

use chrono::NaiveDateTime;
use sqlx::{Connection, QueryBuilder};

use crate::models::{Comment, Post, StdPost, StdUser, User, bulk_std_user, insert_user, nest};
use crate::{Arm, BoxFut, Res, Target, Work};

/// The statements that take a placeholder, spelled for one engine (sqlx
/// 0.9 takes only `&'static str` as SQL text, or an audited wrapper).
struct Sqls {
    medium: &'static str,
    adults: &'static str,
    join: &'static str,
    posts: &'static str,
    by_id: &'static str,
}

macro_rules! sqls {
    ($ph:literal) => {
        Sqls {
            medium: concat!(
                "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body ",
                "FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = ",
                $ph
            ),
            adults: concat!(
                "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE age >= ",
                $ph
            ),
            join: concat!(
                "SELECT p.id, p.user_id, p.title, p.body, p.created_at, ",
                "u.id, u.name, u.email, u.age, u.hair_color, u.created_at ",
                "FROM std_posts p JOIN std_users u ON u.id = p.user_id ORDER BY p.id LIMIT ",
                $ph
            ),
            posts: concat!(
                "SELECT id, user_id, title, body, created_at FROM std_posts ORDER BY id LIMIT ",
                $ph
            ),
            by_id: concat!(
                "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE id = ",
                $ph
            ),
        }
    };
}

const DOLLAR: Sqls = sqls!("$1");
const QMARK: Sqls = sqls!("?");

type MediumRow = (
    i32,
    String,
    Option<String>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<String>,
);

type JoinRow = (
    i64,
    i64,
    String,
    Option<String>,
    NaiveDateTime,
    i64,
    String,
    String,
    i32,
    Option<String>,
    NaiveDateTime,
);

macro_rules! sqlx_arm {
    ($ty:ident, $conn:ty, $db:ty) => {
        pub(crate) struct $ty {
            conn: $conn,
            sql: &'static Sqls,
        }

        impl Arm for $ty {
            fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
                Box::pin(async move {
                    let c = &mut self.conn;
                    let sql = self.sql;
                    Ok(match w {
                        Work::Trivial(_) => {
                            let v: Vec<User> =
                                sqlx::query_as("SELECT id, name, hair_color FROM users")
                                    .fetch_all(&mut *c)
                                    .await?;
                            std::hint::black_box(v).len()
                        }
                        Work::Medium { .. } => {
                            let rows: Vec<MediumRow> = sqlx::query_as(sql.medium)
                                .bind("black")
                                .fetch_all(&mut *c)
                                .await?;
                            let v: Vec<(User, Option<Post>)> = rows
                                .into_iter()
                                .map(|r| {
                                    let post = match (r.3, r.4, r.5) {
                                        (Some(id), Some(user_id), Some(title)) => Some(Post {
                                            id,
                                            user_id,
                                            title,
                                            body: r.6,
                                        }),
                                        _ => None,
                                    };
                                    (
                                        User {
                                            id: r.0,
                                            name: r.1,
                                            hair_color: r.2,
                                        },
                                        post,
                                    )
                                })
                                .collect();
                            std::hint::black_box(v).len()
                        }
                        Work::Insert(n) => {
                            let mut qb =
                                QueryBuilder::<$db>::new("INSERT INTO users (name, hair_color) ");
                            qb.push_values((0..n).map(insert_user), |mut b, (name, hair)| {
                                b.push_bind(name).push_bind(hair);
                            });
                            qb.build().execute(&mut *c).await?.rows_affected() as usize
                        }
                        Work::Associations => {
                            let users: Vec<User> =
                                sqlx::query_as("SELECT id, name, hair_color FROM users")
                                    .fetch_all(&mut *c)
                                    .await?;
                            let mut qb = QueryBuilder::<$db>::new(
                                "SELECT id, user_id, title, body FROM posts WHERE user_id IN (",
                            );
                            let mut ids = qb.separated(", ");
                            for u in &users {
                                ids.push_bind(u.id);
                            }
                            ids.push_unseparated(")");
                            let posts: Vec<Post> = qb.build_query_as().fetch_all(&mut *c).await?;
                            let mut qb = QueryBuilder::<$db>::new(
                                "SELECT id, post_id, text FROM comments WHERE post_id IN (",
                            );
                            let mut ids = qb.separated(", ");
                            for p in &posts {
                                ids.push_bind(p.id);
                            }
                            ids.push_unseparated(")");
                            let comments: Vec<Comment> =
                                qb.build_query_as().fetch_all(&mut *c).await?;
                            crate::models::nested_count(&std::hint::black_box(nest(
                                users, posts, comments,
                            )))
                        }
                        Work::Adults => {
                            let v: Vec<StdUser> = sqlx::query_as(sql.adults)
                                .bind(18_i32)
                                .fetch_all(&mut *c)
                                .await?;
                            std::hint::black_box(v).len()
                        }
                        Work::Bulk { n, seq } => {
                            let mut qb = QueryBuilder::<$db>::new(
                                "INSERT INTO std_users (name, email, age, hair_color, created_at) ",
                            );
                            qb.push_values((0..n).map(|i| bulk_std_user(seq, i)), |mut b, u| {
                                b.push_bind(u.name)
                                    .push_bind(u.email)
                                    .push_bind(u.age)
                                    .push_bind(u.hair_color)
                                    .push_bind(u.created_at);
                            });
                            qb.build().execute(&mut *c).await?.rows_affected() as usize
                        }
                        Work::Related {
                            p,
                            n_plus_one: false,
                        } => {
                            let rows: Vec<JoinRow> = sqlx::query_as(sql.join)
                                .bind(p as i64)
                                .fetch_all(&mut *c)
                                .await?;
                            let v: Vec<(StdPost, StdUser)> = rows
                                .into_iter()
                                .map(|r| {
                                    (
                                        StdPost {
                                            id: r.0,
                                            user_id: r.1,
                                            title: r.2,
                                            body: r.3,
                                            created_at: r.4,
                                        },
                                        StdUser {
                                            id: r.5,
                                            name: r.6,
                                            email: r.7,
                                            age: r.8,
                                            hair_color: r.9,
                                            created_at: r.10,
                                        },
                                    )
                                })
                                .collect();
                            std::hint::black_box(v).len()
                        }
                        Work::Related {
                            p,
                            n_plus_one: true,
                        } => {
                            let posts: Vec<StdPost> = sqlx::query_as(sql.posts)
                                .bind(p as i64)
                                .fetch_all(&mut *c)
                                .await?;
                            let mut out = Vec::with_capacity(posts.len());
                            for post in posts {
                                let u: StdUser = sqlx::query_as(sql.by_id)
                                    .bind(post.user_id)
                                    .fetch_one(&mut *c)
                                    .await?;
                                out.push((post, u));
                            }
                            std::hint::black_box(out).len()
                        }
                    })
                })
            }
        }
    };
}

sqlx_arm!(SqlxPg, sqlx::PgConnection, sqlx::Postgres);
sqlx_arm!(SqlxMy, sqlx::MySqlConnection, sqlx::MySql);
sqlx_arm!(SqlxLite, sqlx::SqliteConnection, sqlx::Sqlite);

/// sqlx on PostgreSQL.
pub(crate) async fn pg(t: &Target) -> Res<Box<dyn Arm>> {
    Ok(Box::new(SqlxPg {
        conn: sqlx::PgConnection::connect(&t.plain).await?,
        sql: &DOLLAR,
    }))
}

/// sqlx on MariaDB (no TLS, like every other arm).
pub(crate) async fn my(t: &Target) -> Res<Box<dyn Arm>> {
    Ok(Box::new(SqlxMy {
        conn: sqlx::MySqlConnection::connect(&format!("{}?ssl-mode=disabled", t.plain)).await?,
        sql: &QMARK,
    }))
}

/// sqlx on SQLite.
pub(crate) async fn lite(t: &Target) -> Res<Box<dyn Arm>> {
    Ok(Box::new(SqlxLite {
        conn: sqlx::SqliteConnection::connect(&t.plain).await?,
        sql: &QMARK,
    }))
}
