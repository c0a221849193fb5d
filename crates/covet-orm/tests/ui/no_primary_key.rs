//! A model without a primary key is an error at the struct name.
use covet_orm::Model;

#[derive(Model)]
struct Log {
    line: String,
}

fn main() {}
