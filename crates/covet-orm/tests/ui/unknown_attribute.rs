//! A misspelled field attribute is an error at the attribute.
use covet_orm::Model;

#[derive(Model)]
struct User {
    #[covet(primary_key)]
    id: i64,
    #[covet(uniqe)]
    email: String,
}

fn main() {}
