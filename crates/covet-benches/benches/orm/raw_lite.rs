//! rusqlite with cached prepared statements, called inline (no thread
//! hop): the floor on SQLite.

use rusqlite::{Connection, Row, ToSql, params_from_iter};

use crate::models::{Comment, Post, StdPost, StdUser, User, bulk_std_user, insert_user, nest};
use crate::{Arm, BoxFut, Res, Target, Work};

pub(crate) struct RawLite {
    conn: Connection,
}

fn user(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        hair_color: r.get(2)?,
    })
}

fn post(r: &Row<'_>, o: usize) -> rusqlite::Result<Post> {
    Ok(Post {
        id: r.get(o)?,
        user_id: r.get(o + 1)?,
        title: r.get(o + 2)?,
        body: r.get(o + 3)?,
    })
}

fn std_user(r: &Row<'_>, o: usize) -> rusqlite::Result<StdUser> {
    Ok(StdUser {
        id: r.get(o)?,
        name: r.get(o + 1)?,
        email: r.get(o + 2)?,
        age: r.get(o + 3)?,
        hair_color: r.get(o + 4)?,
        created_at: r.get(o + 5)?,
    })
}

fn std_post(r: &Row<'_>) -> rusqlite::Result<StdPost> {
    Ok(StdPost {
        id: r.get(0)?,
        user_id: r.get(1)?,
        title: r.get(2)?,
        body: r.get(3)?,
        created_at: r.get(4)?,
    })
}

fn values(rows: usize, cols: usize) -> String {
    let one = format!("({})", vec!["?"; cols].join(", "));
    vec![one; rows].join(", ")
}

fn in_list(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

impl RawLite {
    pub(crate) fn connect(t: &Target) -> Res<Self> {
        let path = t.plain.trim_start_matches("sqlite://");
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    fn run_sync(&self, w: Work) -> Res<usize> {
        let c = &self.conn;
        Ok(match w {
            Work::Trivial(_) => {
                let mut st = c.prepare_cached("SELECT id, name, hair_color FROM users")?;
                let v = st
                    .query_map([], user)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                std::hint::black_box(v).len()
            }
            Work::Medium { .. } => {
                let mut st = c.prepare_cached(
                    "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body \
                     FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = ?",
                )?;
                let v = st
                    .query_map(["black"], |r| {
                        let p = match r.get::<_, Option<i32>>(3)? {
                            Some(_) => Some(post(r, 3)?),
                            None => None,
                        };
                        Ok((user(r)?, p))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                std::hint::black_box(v).len()
            }
            Work::Insert(n) => {
                let rows: Vec<_> = (0..n).map(insert_user).collect();
                let params = rows
                    .iter()
                    .flat_map(|(name, hair)| [name as &dyn ToSql, hair as &dyn ToSql]);
                let sql = format!(
                    "INSERT INTO users (name, hair_color) VALUES {}",
                    values(n, 2)
                );
                c.prepare_cached(&sql)?.execute(params_from_iter(params))?
            }
            Work::Associations => {
                let users = c
                    .prepare_cached("SELECT id, name, hair_color FROM users")?
                    .query_map([], user)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let sql = format!(
                    "SELECT id, user_id, title, body FROM posts WHERE user_id IN ({})",
                    in_list(users.len())
                );
                let posts = c
                    .prepare_cached(&sql)?
                    .query_map(params_from_iter(users.iter().map(|u| u.id)), |r| post(r, 0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let sql = format!(
                    "SELECT id, post_id, text FROM comments WHERE post_id IN ({})",
                    in_list(posts.len())
                );
                let comments = c
                    .prepare_cached(&sql)?
                    .query_map(params_from_iter(posts.iter().map(|p| p.id)), |r| {
                        Ok(Comment {
                            id: r.get(0)?,
                            post_id: r.get(1)?,
                            text: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                crate::models::nested_count(&std::hint::black_box(nest(users, posts, comments)))
            }
            Work::Adults => {
                let v = c
                    .prepare_cached(
                        "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE age >= ?",
                    )?
                    .query_map([18], |r| std_user(r, 0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                std::hint::black_box(v).len()
            }
            Work::Bulk { n, seq } => {
                let rows: Vec<_> = (0..n).map(|i| bulk_std_user(seq, i)).collect();
                let params = rows.iter().flat_map(|u| {
                    [
                        &u.name as &dyn ToSql,
                        &u.email,
                        &u.age,
                        &u.hair_color,
                        &u.created_at,
                    ]
                });
                let sql = format!(
                    "INSERT INTO std_users (name, email, age, hair_color, created_at) VALUES {}",
                    values(n, 5)
                );
                c.prepare_cached(&sql)?.execute(params_from_iter(params))?
            }
            Work::Related {
                p,
                n_plus_one: false,
            } => {
                let v = c
                    .prepare_cached(
                        "SELECT p.id, p.user_id, p.title, p.body, p.created_at, \
                         u.id, u.name, u.email, u.age, u.hair_color, u.created_at \
                         FROM std_posts p JOIN std_users u ON u.id = p.user_id ORDER BY p.id LIMIT ?",
                    )?
                    .query_map([p as i64], |r| Ok((std_post(r)?, std_user(r, 5)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                std::hint::black_box(v).len()
            }
            Work::Related {
                p,
                n_plus_one: true,
            } => {
                let posts = c
                    .prepare_cached(
                        "SELECT id, user_id, title, body, created_at FROM std_posts ORDER BY id LIMIT ?",
                    )?
                    .query_map([p as i64], std_post)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut by_id = c.prepare_cached(
                    "SELECT id, name, email, age, hair_color, created_at FROM std_users WHERE id = ?",
                )?;
                let mut out = Vec::with_capacity(posts.len());
                for post in posts {
                    let u = by_id.query_row([post.user_id], |r| std_user(r, 0))?;
                    out.push((post, u));
                }
                std::hint::black_box(out).len()
            }
        })
    }
}

impl Arm for RawLite {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        // rusqlite::Connection is Send but not Sync, so the future may hold
        // `&mut self` but the work runs before the first (and only) poll ends.
        Box::pin(async move { self.run_sync(w) })
    }
}
