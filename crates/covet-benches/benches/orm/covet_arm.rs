//! covet-orm: the derives in `models.rs`, QuerySets, `bulk_create`,
//! `select_related` and `prefetch`, over the plain adapter `covet::connect`
//! returns (one connection, no layers).
//!
//! covet-orm has no LEFT JOIN and no nested prefetch yet (issue 11), so
//! `medium` loads the black-haired users with `prefetch` (two queries, the
//! same users and posts), and `associations` runs `prefetch` for the posts
//! and groups the comments under them by hand (three queries).

use std::collections::HashMap;
use std::sync::Arc;

use covet_core::Adapter;
use covet_orm::ModelExt;

use crate::models::{Comment, Nested, Post, StdPost, StdUser, User, bulk_std_user, insert_user};
use crate::{Arm, BoxFut, Res, Target, Work};

pub(crate) struct CovetArm {
    db: Arc<dyn Adapter>,
}

impl CovetArm {
    pub(crate) async fn connect(t: &Target) -> Res<Self> {
        Ok(Self {
            db: covet::connect(t.covet.clone()).await?,
        })
    }

    async fn associations(&self) -> Res<Nested> {
        let users: Vec<(User, _)> = User::objects().prefetch(Post::USER).all(&self.db).await?;
        let post_ids: Vec<i32> = users
            .iter()
            .flat_map(|(_, ps)| ps.iter().map(|p| p.id))
            .collect();
        let comments = Comment::objects()
            .filter(Comment::POST_ID.in_(post_ids))
            .all(&self.db)
            .await?;
        let mut by_post: HashMap<i32, Vec<Comment>> = HashMap::new();
        for c in comments {
            by_post.entry(c.post_id).or_default().push(c);
        }
        Ok(users
            .into_iter()
            .map(|(u, ps)| {
                let ps = ps
                    .into_iter()
                    .map(|p| {
                        let cs = by_post.remove(&p.id).unwrap_or_default();
                        (p, cs)
                    })
                    .collect();
                (u, ps)
            })
            .collect())
    }
}

impl Arm for CovetArm {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        Box::pin(async move {
            let db = &self.db;
            Ok(match w {
                Work::Trivial(_) => std::hint::black_box(User::objects().all(db).await?).len(),
                Work::Medium { .. } => {
                    let v: Vec<(User, _)> = User::objects()
                        .filter(User::HAIR_COLOR.eq("black"))
                        .prefetch(Post::USER)
                        .all(db)
                        .await?;
                    crate::models::join_rows(std::hint::black_box(v).iter().map(|(_, p)| p.len()))
                }
                Work::Insert(n) => {
                    let rows: Vec<User> = (0..n)
                        .map(|i| {
                            let (name, hair_color) = insert_user(i);
                            User {
                                id: 0,
                                name,
                                hair_color,
                            }
                        })
                        .collect();
                    User::bulk_create(&rows, db).await? as usize
                }
                Work::Associations => {
                    crate::models::nested_count(&std::hint::black_box(self.associations().await?))
                }
                Work::Adults => std::hint::black_box(
                    StdUser::objects()
                        .filter(StdUser::AGE.gte(18))
                        .all(db)
                        .await?,
                )
                .len(),
                Work::Bulk { n, seq } => {
                    let rows: Vec<StdUser> = (0..n)
                        .map(|i| {
                            let u = bulk_std_user(seq, i);
                            StdUser {
                                id: 0,
                                name: u.name,
                                email: u.email,
                                age: u.age,
                                hair_color: u.hair_color,
                                created_at: u.created_at,
                            }
                        })
                        .collect();
                    StdUser::bulk_create(&rows, db).await? as usize
                }
                Work::Related {
                    p,
                    n_plus_one: false,
                } => std::hint::black_box(
                    StdPost::objects()
                        .order_by(StdPost::ID.asc())
                        .limit(p as u64)
                        .select_related(StdPost::USER)
                        .all(db)
                        .await?,
                )
                .len(),
                Work::Related {
                    p,
                    n_plus_one: true,
                } => {
                    let posts = StdPost::objects()
                        .order_by(StdPost::ID.asc())
                        .limit(p as u64)
                        .all(db)
                        .await?;
                    let mut out = Vec::with_capacity(posts.len());
                    for post in posts {
                        let author = StdUser::objects()
                            .filter(StdUser::ID.eq(post.user_id))
                            .get(db)
                            .await?;
                        out.push((post, author));
                    }
                    std::hint::black_box(out).len()
                }
            })
        })
    }
}
