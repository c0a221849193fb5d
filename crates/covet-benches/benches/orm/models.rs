//! The models every Rust arm loads into: one struct per table carrying the
//! covet-orm, Diesel and sqlx derives at once (so every arm builds the same
//! owned values), and SeaORM's entities, which must be their own types.

use chrono::NaiveDateTime;
use diesel::{Associations, Identifiable, Insertable, Queryable, Selectable};

/// Diesel's view of the tables (created by `data.rs` with plain SQL).
pub(crate) mod schema {
    diesel::table! {
        users (id) {
            id -> Integer,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }
    diesel::table! {
        posts (id) {
            id -> Integer,
            user_id -> Integer,
            title -> Text,
            body -> Nullable<Text>,
        }
    }
    diesel::table! {
        comments (id) {
            id -> Integer,
            post_id -> Integer,
            text -> Text,
        }
    }
    diesel::table! {
        std_users (id) {
            id -> BigInt,
            name -> Text,
            email -> Text,
            age -> Integer,
            hair_color -> Nullable<Text>,
            created_at -> Timestamp,
        }
    }
    diesel::table! {
        std_posts (id) {
            id -> BigInt,
            user_id -> BigInt,
            title -> Text,
            body -> Nullable<Text>,
            created_at -> Timestamp,
        }
    }
    diesel::joinable!(posts -> users (user_id));
    diesel::joinable!(comments -> posts (post_id));
    diesel::joinable!(std_posts -> std_users (user_id));
    diesel::allow_tables_to_appear_in_same_query!(users, posts, comments);
    diesel::allow_tables_to_appear_in_same_query!(std_users, std_posts);
}

/// diesel_bench's `users`.
#[derive(
    Debug, Clone, PartialEq, covet_orm::Model, Queryable, Selectable, Identifiable, sqlx::FromRow,
)]
#[covet(table = "users")]
#[diesel(table_name = schema::users)]
pub(crate) struct User {
    #[covet(primary_key, auto_increment)]
    pub(crate) id: i32,
    pub(crate) name: String,
    pub(crate) hair_color: Option<String>,
}

/// diesel_bench's `posts`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    covet_orm::Model,
    Queryable,
    Selectable,
    Identifiable,
    Associations,
    sqlx::FromRow,
)]
#[covet(table = "posts")]
#[diesel(table_name = schema::posts, belongs_to(User))]
pub(crate) struct Post {
    #[covet(primary_key, auto_increment)]
    pub(crate) id: i32,
    #[covet(belongs_to = User)]
    pub(crate) user_id: i32,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
}

/// diesel_bench's `comments`.
#[derive(
    Debug,
    Clone,
    PartialEq,
    covet_orm::Model,
    Queryable,
    Selectable,
    Identifiable,
    Associations,
    sqlx::FromRow,
)]
#[covet(table = "comments")]
#[diesel(table_name = schema::comments, belongs_to(Post))]
pub(crate) struct Comment {
    #[covet(primary_key, auto_increment)]
    pub(crate) id: i32,
    #[covet(belongs_to = Post)]
    pub(crate) post_id: i32,
    pub(crate) text: String,
}

/// The standard workload's `users` (../shared/workload.md), as `std_users`.
#[derive(Debug, Clone, PartialEq, covet_orm::Model, Queryable, Selectable, sqlx::FromRow)]
#[covet(table = "std_users")]
#[diesel(table_name = schema::std_users)]
pub(crate) struct StdUser {
    #[covet(primary_key, auto_increment)]
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) age: i32,
    pub(crate) hair_color: Option<String>,
    pub(crate) created_at: NaiveDateTime,
}

/// The standard workload's `posts`, as `std_posts`.
#[derive(Debug, Clone, PartialEq, covet_orm::Model, Queryable, Selectable, sqlx::FromRow)]
#[covet(table = "std_posts")]
#[diesel(table_name = schema::std_posts)]
pub(crate) struct StdPost {
    #[covet(primary_key, auto_increment)]
    pub(crate) id: i64,
    #[covet(belongs_to = StdUser)]
    pub(crate) user_id: i64,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) created_at: NaiveDateTime,
}

/// Diesel's insert shape for `users` (the id is generated).
#[derive(Insertable)]
#[diesel(table_name = schema::users, treat_none_as_default_value = false)]
pub(crate) struct NewUser {
    pub(crate) name: String,
    pub(crate) hair_color: Option<String>,
}

/// Diesel's insert shape for `std_users`.
#[derive(Insertable)]
#[diesel(table_name = schema::std_users, treat_none_as_default_value = false)]
pub(crate) struct NewStdUser {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) age: i32,
    pub(crate) hair_color: Option<String>,
    pub(crate) created_at: NaiveDateTime,
}

/// The users of the `insert` workload: `User {i}`, hair colour
/// `hair_color`, as diesel_bench writes them.
pub(crate) fn insert_user(i: usize) -> (String, Option<String>) {
    (format!("User {i}"), Some("hair_color".to_owned()))
}

/// Row `i` of a bulk insert of the standard users; `seq` keeps the unique
/// emails apart across repetitions.
pub(crate) fn bulk_std_user(seq: u64, i: usize) -> NewStdUser {
    const COLORS: [&str; 4] = ["black", "brown", "blond", "red"];
    NewStdUser {
        name: format!("bulk {seq} {i}"),
        email: format!("bulk{seq}_{i}@example.com"),
        age: 10 + (i % 71) as i32,
        hair_color: (!i.is_multiple_of(5)).then(|| COLORS[i % 4].to_owned()),
        created_at: created_at(),
    }
}

/// The timestamp every bulk-inserted user gets.
pub(crate) fn created_at() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("valid date")
}

/// Nested result of the associations workload.
pub(crate) type Nested = Vec<(User, Vec<(Post, Vec<Comment>)>)>;

/// Groups posts under users and comments under posts, keeping the order
/// each list was loaded in (what the raw and sqlx arms do by hand).
pub(crate) fn nest(users: Vec<User>, posts: Vec<Post>, comments: Vec<Comment>) -> Nested {
    use std::collections::HashMap;
    let post_at: HashMap<i32, usize> = posts.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let mut per_post: Vec<Vec<Comment>> = posts.iter().map(|_| Vec::new()).collect();
    for c in comments {
        if let Some(&i) = post_at.get(&c.post_id) {
            per_post[i].push(c);
        }
    }
    let user_at: HashMap<i32, usize> = users.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    let mut out: Nested = users.into_iter().map(|u| (u, Vec::new())).collect();
    for (p, cs) in posts.into_iter().zip(per_post) {
        if let Some(&i) = user_at.get(&p.user_id) {
            out[i].1.push((p, cs));
        }
    }
    out
}

/// Items in a nested result: users, posts and comments.
pub(crate) fn nested_count(v: &Nested) -> usize {
    v.iter()
        .map(|(_, ps)| 1 + ps.iter().map(|(_, cs)| 1 + cs.len()).sum::<usize>())
        .sum()
}

/// Rows a `users LEFT JOIN posts` returns for these users and posts: one
/// per post, one for a user without any.
pub(crate) fn join_rows(per_user: impl Iterator<Item = usize>) -> usize {
    per_user.map(|n| n.max(1)).sum()
}

/// SeaORM's entities for the same tables.
#[allow(unreachable_pub, missing_docs)]
pub(crate) mod sea {
    /// `users`
    pub mod user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::post::Entity")]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `posts`
    pub mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub user_id: i32,
            pub title: String,
            pub body: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::user::Entity",
                from = "Column::UserId",
                to = "super::user::Column::Id"
            )]
            User,
            #[sea_orm(has_many = "super::comment::Entity")]
            Comment,
        }

        impl Related<super::user::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::User.def()
            }
        }

        impl Related<super::comment::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Comment.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `comments`
    pub mod comment {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "comments")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub post_id: i32,
            pub text: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::post::Entity",
                from = "Column::PostId",
                to = "super::post::Column::Id"
            )]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `std_users`
    pub mod std_user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "std_users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub name: String,
            pub email: String,
            pub age: i32,
            pub hair_color: Option<String>,
            pub created_at: DateTime,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::std_post::Entity")]
            Post,
        }

        impl Related<super::std_post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `std_posts`
    pub mod std_post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "std_posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub user_id: i64,
            pub title: String,
            pub body: Option<String>,
            pub created_at: DateTime,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::std_user::Entity",
                from = "Column::UserId",
                to = "super::std_user::Column::Id"
            )]
            User,
        }

        impl Related<super::std_user::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::User.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}
