//! A filter built from one model's columns cannot filter another model.
use covet_orm::{Model, ModelExt};

#[derive(Model)]
struct User {
    #[covet(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Post {
    #[covet(primary_key)]
    id: i64,
}

fn main() {
    let _ = Post::objects().filter(User::ID.eq(1));
}
