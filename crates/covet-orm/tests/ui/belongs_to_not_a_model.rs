//! `belongs_to` must name a model; the error points at the path.
use covet_orm::Model;

struct NotAModel;

#[derive(Model)]
struct Post {
    #[covet(primary_key)]
    id: i64,
    #[covet(belongs_to = NotAModel)]
    author_id: i64,
}

fn main() {}
