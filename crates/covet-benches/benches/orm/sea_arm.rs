//! SeaORM 2 over its sqlx pool held at one connection (statement logging
//! off): `find`, `find_also_related` for the LEFT JOINs, `insert_many`, and
//! the loader (`load_many` twice) for associations.

use sea_orm::{
    ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait, LoaderTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::models::sea::{comment, post, std_post, std_user, user};
use crate::models::{bulk_std_user, insert_user};
use crate::{Arm, BoxFut, Res, Target, Work};

pub(crate) struct SeaArm {
    db: DatabaseConnection,
}

/// SeaORM on any of the three engines.
pub(crate) async fn connect(t: &Target) -> Res<Box<dyn Arm>> {
    let mut opt = ConnectOptions::new(t.plain.clone());
    opt.max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Ok(Box::new(SeaArm {
        db: Database::connect(opt).await?,
    }))
}

type Nested = Vec<(user::Model, Vec<(post::Model, Vec<comment::Model>)>)>;

impl SeaArm {
    async fn associations(&self) -> Res<Nested> {
        let db = &self.db;
        let users = user::Entity::find().all(db).await?;
        let posts = users.load_many(post::Entity, db).await?;
        let lens: Vec<usize> = posts.iter().map(Vec::len).collect();
        let flat: Vec<post::Model> = posts.into_iter().flatten().collect();
        let comments = flat.load_many(comment::Entity, db).await?;
        let mut it = flat.into_iter().zip(comments);
        Ok(users
            .into_iter()
            .zip(lens)
            .map(|(u, n)| (u, it.by_ref().take(n).collect()))
            .collect())
    }
}

impl Arm for SeaArm {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        Box::pin(async move {
            let db = &self.db;
            Ok(match w {
                Work::Trivial(_) => std::hint::black_box(user::Entity::find().all(db).await?).len(),
                Work::Medium { .. } => std::hint::black_box(
                    user::Entity::find()
                        .filter(user::Column::HairColor.eq("black"))
                        .find_also_related(post::Entity)
                        .all(db)
                        .await?,
                )
                .len(),
                Work::Insert(n) => {
                    let rows = (0..n).map(|i| {
                        let (name, hair_color) = insert_user(i);
                        user::ActiveModel {
                            name: Set(name),
                            hair_color: Set(hair_color),
                            ..Default::default()
                        }
                    });
                    user::Entity::insert_many(rows)
                        .exec_without_returning(db)
                        .await? as usize
                }
                Work::Associations => {
                    let v = std::hint::black_box(self.associations().await?);
                    v.iter()
                        .map(|(_, ps)| 1 + ps.iter().map(|(_, cs)| 1 + cs.len()).sum::<usize>())
                        .sum()
                }
                Work::Adults => std::hint::black_box(
                    std_user::Entity::find()
                        .filter(std_user::Column::Age.gte(18))
                        .all(db)
                        .await?,
                )
                .len(),
                Work::Bulk { n, seq } => {
                    let rows = (0..n).map(|i| {
                        let u = bulk_std_user(seq, i);
                        std_user::ActiveModel {
                            name: Set(u.name),
                            email: Set(u.email),
                            age: Set(u.age),
                            hair_color: Set(u.hair_color),
                            created_at: Set(u.created_at),
                            ..Default::default()
                        }
                    });
                    std_user::Entity::insert_many(rows)
                        .exec_without_returning(db)
                        .await? as usize
                }
                Work::Related {
                    p,
                    n_plus_one: false,
                } => std::hint::black_box(
                    std_post::Entity::find()
                        .order_by_asc(std_post::Column::Id)
                        .limit(p as u64)
                        .find_also_related(std_user::Entity)
                        .all(db)
                        .await?,
                )
                .len(),
                Work::Related {
                    p,
                    n_plus_one: true,
                } => {
                    let posts = std_post::Entity::find()
                        .order_by_asc(std_post::Column::Id)
                        .limit(p as u64)
                        .all(db)
                        .await?;
                    let mut out = Vec::with_capacity(posts.len());
                    for post in posts {
                        let u = std_user::Entity::find_by_id(post.user_id)
                            .one(db)
                            .await?
                            .ok_or("author missing")?;
                        out.push((post, u));
                    }
                    std::hint::black_box(out).len()
                }
            })
        })
    }
}
