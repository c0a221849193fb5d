//! tokio-postgres with prepared statements (cached per SQL text): the floor
//! on PostgreSQL.

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::models::{Comment, Post, StdPost, StdUser, User, bulk_std_user, insert_user, nest};
use crate::{Arm, BoxFut, Res, Target, Work};

pub(crate) struct RawPg {
    client: Client,
    stmts: HashMap<String, Statement>,
}

const STD_USER: &str = "id, name, email, age, hair_color, created_at";

fn user(r: &Row) -> Res<User> {
    Ok(User {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        hair_color: r.try_get(2)?,
    })
}

fn post(r: &Row, o: usize) -> Res<Post> {
    Ok(Post {
        id: r.try_get(o)?,
        user_id: r.try_get(o + 1)?,
        title: r.try_get(o + 2)?,
        body: r.try_get(o + 3)?,
    })
}

fn std_user(r: &Row, o: usize) -> Res<StdUser> {
    Ok(StdUser {
        id: r.try_get(o)?,
        name: r.try_get(o + 1)?,
        email: r.try_get(o + 2)?,
        age: r.try_get(o + 3)?,
        hair_color: r.try_get(o + 4)?,
        created_at: r.try_get(o + 5)?,
    })
}

fn std_post(r: &Row) -> Res<StdPost> {
    Ok(StdPost {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        title: r.try_get(2)?,
        body: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

/// `($1, $2), ($3, $4), ...`: `rows` tuples of `cols` placeholders.
fn values(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let ph: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", ph.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl RawPg {
    pub(crate) async fn connect(t: &Target) -> Res<Self> {
        let (client, conn) = t
            .plain
            .parse::<tokio_postgres::Config>()?
            .connect(NoTls)
            .await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            client,
            stmts: HashMap::new(),
        })
    }

    async fn stmt(&mut self, sql: &str) -> Res<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.stmts.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Res<Vec<Row>> {
        let s = self.stmt(sql).await?;
        Ok(self.client.query(&s, params).await?)
    }
}

impl Arm for RawPg {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        Box::pin(async move {
            Ok(match w {
                Work::Trivial(_) => {
                    let rows = self
                        .query("SELECT id, name, hair_color FROM users", &[])
                        .await?;
                    let v = rows.iter().map(user).collect::<Res<Vec<_>>>()?;
                    std::hint::black_box(v).len()
                }
                Work::Medium { .. } => {
                    let rows = self
                        .query(
                            "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body \
                             FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = $1",
                            &[&"black"],
                        )
                        .await?;
                    let mut v: Vec<(User, Option<Post>)> = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let p = match r.try_get::<_, Option<i32>>(3)? {
                            Some(_) => Some(post(r, 3)?),
                            None => None,
                        };
                        v.push((user(r)?, p));
                    }
                    std::hint::black_box(v).len()
                }
                Work::Insert(n) => {
                    let rows: Vec<(String, Option<String>)> = (0..n).map(insert_user).collect();
                    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(n * 2);
                    for (name, hair) in &rows {
                        params.push(name);
                        params.push(hair);
                    }
                    let sql = format!(
                        "INSERT INTO users (name, hair_color) VALUES {}",
                        values(n, 2)
                    );
                    let s = self.stmt(&sql).await?;
                    self.client.execute(&s, &params).await? as usize
                }
                Work::Associations => {
                    let rows = self
                        .query("SELECT id, name, hair_color FROM users", &[])
                        .await?;
                    let users = rows.iter().map(user).collect::<Res<Vec<_>>>()?;
                    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
                    let rows = self
                        .query(
                            "SELECT id, user_id, title, body FROM posts WHERE user_id = ANY($1)",
                            &[&ids],
                        )
                        .await?;
                    let posts = rows.iter().map(|r| post(r, 0)).collect::<Res<Vec<_>>>()?;
                    let ids: Vec<i32> = posts.iter().map(|p| p.id).collect();
                    let rows = self
                        .query(
                            "SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)",
                            &[&ids],
                        )
                        .await?;
                    let comments = rows
                        .iter()
                        .map(|r| {
                            Ok(Comment {
                                id: r.try_get(0)?,
                                post_id: r.try_get(1)?,
                                text: r.try_get(2)?,
                            })
                        })
                        .collect::<Res<Vec<_>>>()?;
                    crate::models::nested_count(&std::hint::black_box(nest(users, posts, comments)))
                }
                Work::Adults => {
                    let sql = format!("SELECT {STD_USER} FROM std_users WHERE age >= $1");
                    let rows = self.query(&sql, &[&18_i32]).await?;
                    let v = rows
                        .iter()
                        .map(|r| std_user(r, 0))
                        .collect::<Res<Vec<_>>>()?;
                    std::hint::black_box(v).len()
                }
                Work::Bulk { n, seq } => {
                    let rows: Vec<_> = (0..n).map(|i| bulk_std_user(seq, i)).collect();
                    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(n * 5);
                    for u in &rows {
                        params.extend([
                            &u.name as &(dyn ToSql + Sync),
                            &u.email,
                            &u.age,
                            &u.hair_color,
                            &u.created_at,
                        ]);
                    }
                    let sql = format!(
                        "INSERT INTO std_users (name, email, age, hair_color, created_at) VALUES {}",
                        values(n, 5)
                    );
                    let s = self.stmt(&sql).await?;
                    self.client.execute(&s, &params).await? as usize
                }
                Work::Related {
                    p,
                    n_plus_one: false,
                } => {
                    let rows = self
                        .query(
                            "SELECT p.id, p.user_id, p.title, p.body, p.created_at, \
                             u.id, u.name, u.email, u.age, u.hair_color, u.created_at \
                             FROM std_posts p JOIN std_users u ON u.id = p.user_id ORDER BY p.id LIMIT $1",
                            &[&(p as i64)],
                        )
                        .await?;
                    let v = rows
                        .iter()
                        .map(|r| Ok((std_post(r)?, std_user(r, 5)?)))
                        .collect::<Res<Vec<_>>>()?;
                    std::hint::black_box(v).len()
                }
                Work::Related {
                    p,
                    n_plus_one: true,
                } => {
                    let rows = self
                        .query(
                            "SELECT id, user_id, title, body, created_at FROM std_posts ORDER BY id LIMIT $1",
                            &[&(p as i64)],
                        )
                        .await?;
                    let posts = rows.iter().map(std_post).collect::<Res<Vec<_>>>()?;
                    let by_id = self
                        .stmt(&format!("SELECT {STD_USER} FROM std_users WHERE id = $1"))
                        .await?;
                    let mut out = Vec::with_capacity(posts.len());
                    for post in posts {
                        let r = self.client.query_one(&by_id, &[&post.user_id]).await?;
                        out.push((post, std_user(&r, 0)?));
                    }
                    std::hint::black_box(out).len()
                }
            })
        })
    }
}
