//! An empty column name is an error at the string.
use covet_orm::Model;

#[derive(Model)]
struct User {
    #[covet(primary_key, column = "")]
    id: i64,
}

fn main() {}
