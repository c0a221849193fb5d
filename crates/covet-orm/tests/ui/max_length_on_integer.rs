//! `max_length` on a non-text field is an error at the field's type.
use covet_orm::Model;

#[derive(Model)]
struct User {
    #[covet(primary_key)]
    id: i64,
    #[covet(max_length = 10)]
    age: i32,
}

fn main() {}
