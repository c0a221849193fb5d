//! An i32 column compared with a string does not compile.
use covet_orm::Model;

#[derive(Model)]
struct User {
    #[covet(primary_key)]
    id: i64,
    age: i32,
}

fn main() {
    let _ = User::AGE.gte("eighteen");
    let _ = User::AGE.eq(User::ID);
}
