//! mysql_async with prepared statements (its statement cache keeps one per
//! SQL text): the floor on MariaDB.

use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Params, Value};

use crate::models::{Comment, Post, StdPost, StdUser, User, bulk_std_user, insert_user, nest};
use crate::{Arm, BoxFut, Res, Target, Work};

pub(crate) struct RawMy {
    conn: Conn,
}

type StdUserRow = (i64, String, String, i32, Option<String>, NaiveDateTime);

fn std_user(r: StdUserRow) -> StdUser {
    StdUser {
        id: r.0,
        name: r.1,
        email: r.2,
        age: r.3,
        hair_color: r.4,
        created_at: r.5,
    }
}

/// `(?, ?), (?, ?), ...`
fn values(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

fn in_list(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

impl RawMy {
    pub(crate) async fn connect(t: &Target) -> Res<Self> {
        Ok(Self {
            conn: Conn::new(Opts::from_url(&t.plain)?).await?,
        })
    }
}

impl Arm for RawMy {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        Box::pin(async move {
            let c = &mut self.conn;
            Ok(match w {
                Work::Trivial(_) => {
                    let v: Vec<User> = c
                        .exec_map(
                            "SELECT id, name, hair_color FROM users",
                            (),
                            |(id, name, hair_color)| User {
                                id,
                                name,
                                hair_color,
                            },
                        )
                        .await?;
                    std::hint::black_box(v).len()
                }
                Work::Medium { .. } => {
                    type R = (
                        i32,
                        String,
                        Option<String>,
                        Option<i32>,
                        Option<i32>,
                        Option<String>,
                        Option<String>,
                    );
                    let v: Vec<(User, Option<Post>)> = c
                        .exec_map(
                            "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body \
                             FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = ?",
                            ("black",),
                            |r: R| {
                                let post = match (r.3, r.4, r.5) {
                                    (Some(id), Some(user_id), Some(title)) => Some(Post { id, user_id, title, body: r.6 }),
                                    _ => None,
                                };
                                (User { id: r.0, name: r.1, hair_color: r.2 }, post)
                            },
                        )
                        .await?;
                    std::hint::black_box(v).len()
                }
                Work::Insert(n) => {
                    let mut params = Vec::with_capacity(n * 2);
                    for i in 0..n {
                        let (name, hair) = insert_user(i);
                        params.push(Value::from(name));
                        params.push(Value::from(hair));
                    }
                    let sql = format!(
                        "INSERT INTO users (name, hair_color) VALUES {}",
                        values(n, 2)
                    );
                    c.exec_drop(sql, Params::Positional(params)).await?;
                    c.affected_rows() as usize
                }
                Work::Associations => {
                    let users: Vec<User> = c
                        .exec_map(
                            "SELECT id, name, hair_color FROM users",
                            (),
                            |(id, name, hair_color)| User {
                                id,
                                name,
                                hair_color,
                            },
                        )
                        .await?;
                    let ids: Vec<Value> = users.iter().map(|u| Value::from(u.id)).collect();
                    let sql = format!(
                        "SELECT id, user_id, title, body FROM posts WHERE user_id IN ({})",
                        in_list(ids.len())
                    );
                    let posts: Vec<Post> = c
                        .exec_map(
                            sql,
                            Params::Positional(ids),
                            |(id, user_id, title, body)| Post {
                                id,
                                user_id,
                                title,
                                body,
                            },
                        )
                        .await?;
                    let ids: Vec<Value> = posts.iter().map(|p| Value::from(p.id)).collect();
                    let sql = format!(
                        "SELECT id, post_id, text FROM comments WHERE post_id IN ({})",
                        in_list(ids.len())
                    );
                    let comments: Vec<Comment> = c
                        .exec_map(sql, Params::Positional(ids), |(id, post_id, text)| {
                            Comment { id, post_id, text }
                        })
                        .await?;
                    crate::models::nested_count(&std::hint::black_box(nest(users, posts, comments)))
                }
                Work::Adults => {
                    let v: Vec<StdUser> = c
                        .exec_map(
                            "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE age >= ?",
                            (18,),
                            std_user,
                        )
                        .await?;
                    std::hint::black_box(v).len()
                }
                Work::Bulk { n, seq } => {
                    let mut params = Vec::with_capacity(n * 5);
                    for i in 0..n {
                        let u = bulk_std_user(seq, i);
                        params.extend([
                            Value::from(u.name),
                            Value::from(u.email),
                            Value::from(u.age),
                            Value::from(u.hair_color),
                            Value::from(u.created_at),
                        ]);
                    }
                    let sql = format!(
                        "INSERT INTO std_users (name, email, age, hair_color, created_at) VALUES {}",
                        values(n, 5)
                    );
                    c.exec_drop(sql, Params::Positional(params)).await?;
                    c.affected_rows() as usize
                }
                Work::Related {
                    p,
                    n_plus_one: false,
                } => {
                    let rows: Vec<mysql_async::Row> = c
                        .exec(
                            "SELECT p.id, p.user_id, p.title, p.body, p.created_at, \
                             u.id, u.name, u.email, u.age, u.hair_color, u.created_at \
                             FROM std_posts p JOIN std_users u ON u.id = p.user_id ORDER BY p.id LIMIT ?",
                            (p as u64,),
                        )
                        .await?;
                    let mut v = Vec::with_capacity(rows.len());
                    for mut r in rows {
                        let post = StdPost {
                            id: take(&mut r, 0)?,
                            user_id: take(&mut r, 1)?,
                            title: take(&mut r, 2)?,
                            body: take(&mut r, 3)?,
                            created_at: take(&mut r, 4)?,
                        };
                        let user = StdUser {
                            id: take(&mut r, 5)?,
                            name: take(&mut r, 6)?,
                            email: take(&mut r, 7)?,
                            age: take(&mut r, 8)?,
                            hair_color: take(&mut r, 9)?,
                            created_at: take(&mut r, 10)?,
                        };
                        v.push((post, user));
                    }
                    std::hint::black_box(v).len()
                }
                Work::Related {
                    p,
                    n_plus_one: true,
                } => {
                    let posts: Vec<StdPost> = c
                        .exec_map(
                            "SELECT id, user_id, title, body, created_at FROM std_posts ORDER BY id LIMIT ?",
                            (p as u64,),
                            |(id, user_id, title, body, created_at)| StdPost {
                                id,
                                user_id,
                                title,
                                body,
                                created_at,
                            },
                        )
                        .await?;
                    let mut out = Vec::with_capacity(posts.len());
                    for post in posts {
                        let r: Option<StdUserRow> = c
                            .exec_first(
                                "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE id = ?",
                                (post.user_id,),
                            )
                            .await?;
                        out.push((post, std_user(r.ok_or("author missing")?)));
                    }
                    std::hint::black_box(out).len()
                }
            })
        })
    }
}

/// Column `i` of a row, converted (a row of 11 columns has no tuple
/// `FromRow`).
fn take<T: mysql_async::prelude::FromValue>(r: &mut mysql_async::Row, i: usize) -> Res<T> {
    match r.take_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(format!("column {i}: {e}").into()),
        None => Err(format!("column {i} missing").into()),
    }
}
