//! `auto_increment` needs an integer key.
use covet_orm::Model;

#[derive(Model)]
struct Tag {
    #[covet(primary_key, auto_increment)]
    name: String,
}

fn main() {}
