//! Diesel: the sync crate (PostgreSQL through libpq, SQLite) and
//! diesel-async (PostgreSQL through tokio-postgres, MariaDB through
//! mysql_async), with the same query code written once in a macro whose
//! only difference is the `.await`. Associations use `belonging_to` and
//! `grouped_by`, as diesel_bench does.

// Not the prelude: its RunQueryDsl would clash with diesel-async's.
use diesel::{BelongingToDsl, Connection, ExpressionMethods, GroupedBy, QueryDsl};

use crate::models::schema::{posts, std_posts, std_users, users};
use crate::models::{
    Comment, Nested, NewStdUser, NewUser, Post, StdPost, StdUser, User, bulk_std_user, insert_user,
};
use crate::{Arm, BoxFut, Res, Target, Work};

macro_rules! diesel_arm {
    ($ty:ident, $conn:ty, [$($rq:tt)*], [$($aw:tt)*]) => {
        pub(crate) struct $ty {
            conn: $conn,
        }

        impl Arm for $ty {
            fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
                Box::pin(async move {
                    use $($rq)* as _;
                    let c = &mut self.conn;
                    Ok(match w {
                        Work::Trivial(_) => {
                            let v = users::table.load::<User>(c)$($aw)*?;
                            std::hint::black_box(v).len()
                        }
                        Work::Medium { .. } => {
                            let v = users::table
                                .left_join(posts::table)
                                .filter(users::hair_color.eq("black"))
                                .load::<(User, Option<Post>)>(c)$($aw)*?;
                            std::hint::black_box(v).len()
                        }
                        Work::Insert(n) => {
                            let rows: Vec<NewUser> = (0..n)
                                .map(|i| {
                                    let (name, hair_color) = insert_user(i);
                                    NewUser { name, hair_color }
                                })
                                .collect();
                            diesel::insert_into(users::table).values(&rows).execute(c)$($aw)*?
                        }
                        Work::Associations => {
                            let users = users::table.load::<User>(c)$($aw)*?;
                            let posts = Post::belonging_to(&users).load::<Post>(c)$($aw)*?;
                            let comments = Comment::belonging_to(&posts).load::<Comment>(c)$($aw)*?;
                            let comments = comments.grouped_by(&posts);
                            let posts = posts.into_iter().zip(comments).grouped_by(&users);
                            let v: Nested = users.into_iter().zip(posts).collect();
                            crate::models::nested_count(&std::hint::black_box(v))
                        }
                        Work::Adults => {
                            let v = std_users::table
                                .filter(std_users::age.ge(18))
                                .load::<StdUser>(c)$($aw)*?;
                            std::hint::black_box(v).len()
                        }
                        Work::Bulk { n, seq } => {
                            let rows: Vec<NewStdUser> = (0..n).map(|i| bulk_std_user(seq, i)).collect();
                            diesel::insert_into(std_users::table).values(&rows).execute(c)$($aw)*?
                        }
                        Work::Related { p, n_plus_one: false } => {
                            let v = std_posts::table
                                .inner_join(std_users::table)
                                .order(std_posts::id.asc())
                                .limit(p as i64)
                                .load::<(StdPost, StdUser)>(c)$($aw)*?;
                            std::hint::black_box(v).len()
                        }
                        Work::Related { p, n_plus_one: true } => {
                            let posts = std_posts::table
                                .order(std_posts::id.asc())
                                .limit(p as i64)
                                .load::<StdPost>(c)$($aw)*?;
                            let mut out = Vec::with_capacity(posts.len());
                            for post in posts {
                                let u = std_users::table.find(post.user_id).first::<StdUser>(c)$($aw)*?;
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

diesel_arm!(DieselPg, diesel::PgConnection, [diesel::RunQueryDsl], []);
diesel_arm!(
    DieselLite,
    diesel::SqliteConnection,
    [diesel::RunQueryDsl],
    []
);
diesel_arm!(
    DieselAsyncPg,
    diesel_async::AsyncPgConnection,
    [diesel_async::RunQueryDsl],
    [.await]
);
diesel_arm!(
    DieselAsyncMy,
    diesel_async::AsyncMysqlConnection,
    [diesel_async::RunQueryDsl],
    [.await]
);

/// diesel (sync, libpq) on PostgreSQL.
pub(crate) fn sync_pg(t: &Target) -> Res<Box<dyn Arm>> {
    Ok(Box::new(DieselPg {
        conn: diesel::PgConnection::establish(&t.plain)?,
    }))
}

/// diesel (sync) on SQLite.
pub(crate) fn sync_lite(t: &Target) -> Res<Box<dyn Arm>> {
    use diesel::RunQueryDsl;
    let mut conn = diesel::SqliteConnection::establish(t.plain.trim_start_matches("sqlite://"))?;
    diesel::sql_query("PRAGMA busy_timeout = 5000").execute(&mut conn)?;
    Ok(Box::new(DieselLite { conn }))
}

/// diesel-async on PostgreSQL.
pub(crate) async fn async_pg(t: &Target) -> Res<Box<dyn Arm>> {
    use diesel_async::AsyncConnection;
    Ok(Box::new(DieselAsyncPg {
        conn: diesel_async::AsyncPgConnection::establish(&t.plain).await?,
    }))
}

/// diesel-async on MariaDB.
pub(crate) async fn async_my(t: &Target) -> Res<Box<dyn Arm>> {
    use diesel_async::AsyncConnection;
    Ok(Box::new(DieselAsyncMy {
        conn: diesel_async::AsyncMysqlConnection::establish(&t.plain).await?,
    }))
}
