//! Differential: random filter trees (and / or / not over comparisons,
//! IN, BETWEEN, IS NULL and text matches), orderings, limits and offsets
//! over a fixed set of users give the same rows on every engine as a Rust
//! evaluation with SQL's three-valued logic.

mod support;

use covet_orm::ddl::{create_table, drop_table};
use covet_orm::{Expr, ModelExt, QuerySet, TextColumn};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::User;

const COLORS: [&str; 4] = ["black", "brown", "blond", "red"];

fn users() -> Vec<User> {
    (1..=40)
        .map(|i: i64| User {
            id: i,
            name: format!("user {i}"),
            email: format!("u{i}@example.com"),
            age: i32::try_from(10 + (i * 37) % 71).unwrap(),
            hair_color: (i % 5 != 0).then(|| COLORS[(i % 4) as usize].to_owned()),
            created_at: chrono::DateTime::from_timestamp(1_700_000_000 + i, 0)
                .unwrap()
                .naive_utc(),
        })
        .collect()
}

/// A filter as data, so it can be both rendered and evaluated.
#[derive(Debug, Clone)]
enum F {
    AgeCmp(u8, i32),
    AgeIn(Vec<i32>),
    AgeBetween(i32, i32),
    HairEq(&'static str),
    HairNull(bool),
    HairContains(&'static str),
    HairStarts(&'static str),
    NameIContains(&'static str),
    And(Box<F>, Box<F>),
    Or(Box<F>, Box<F>),
    Not(Box<F>),
}

fn leaf() -> impl Strategy<Value = F> {
    let frag = prop::sample::select(vec!["bl", "r", "own", "e", "x", "B"]);
    prop_oneof![
        (0u8..6, 0i32..90).prop_map(|(op, v)| F::AgeCmp(op, v)),
        prop::collection::vec(0i32..90, 0..4).prop_map(F::AgeIn),
        (0i32..90, 0i32..90).prop_map(|(a, b)| F::AgeBetween(a, b)),
        prop::sample::select(COLORS.to_vec()).prop_map(F::HairEq),
        any::<bool>().prop_map(F::HairNull),
        frag.clone().prop_map(F::HairContains),
        frag.clone().prop_map(F::HairStarts),
        prop::sample::select(vec!["USER 1", "r 3", "x"]).prop_map(F::NameIContains),
    ]
}

fn tree() -> impl Strategy<Value = F> {
    leaf().prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| F::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| F::Not(Box::new(a))),
        ]
    })
}

fn expr(f: &F) -> Expr<User> {
    match f {
        F::AgeCmp(op, v) => match op {
            0 => User::AGE.eq(*v),
            1 => User::AGE.ne(*v),
            2 => User::AGE.lt(*v),
            3 => User::AGE.lte(*v),
            4 => User::AGE.gt(*v),
            _ => User::AGE.gte(*v),
        },
        F::AgeIn(vs) => User::AGE.in_(vs.clone()),
        F::AgeBetween(a, b) => User::AGE.between(*a, *b),
        F::HairEq(c) => User::HAIR_COLOR.eq(*c),
        F::HairNull(true) => User::HAIR_COLOR.is_null(),
        F::HairNull(false) => User::HAIR_COLOR.is_not_null(),
        F::HairContains(s) => User::HAIR_COLOR.contains(s),
        F::HairStarts(s) => User::HAIR_COLOR.starts_with(s),
        F::NameIContains(s) => User::NAME.icontains(s),
        F::And(a, b) => expr(a).and(expr(b)),
        F::Or(a, b) => expr(a).or(expr(b)),
        F::Not(a) => !expr(a),
    }
}

/// SQL's three-valued logic: `None` is UNKNOWN.
fn eval(f: &F, u: &User) -> Option<bool> {
    let hair = u.hair_color.as_deref();
    match f {
        F::AgeCmp(op, v) => Some(match op {
            0 => u.age == *v,
            1 => u.age != *v,
            2 => u.age < *v,
            3 => u.age <= *v,
            4 => u.age > *v,
            _ => u.age >= *v,
        }),
        F::AgeIn(vs) => Some(vs.contains(&u.age)),
        F::AgeBetween(a, b) => Some(*a <= u.age && u.age <= *b),
        F::HairEq(c) => hair.map(|h| h == *c),
        F::HairNull(null) => Some(hair.is_none() == *null),
        F::HairContains(s) => hair.map(|h| h.contains(s)),
        F::HairStarts(s) => hair.map(|h| h.starts_with(s)),
        F::NameIContains(s) => Some(u.name.to_lowercase().contains(&s.to_lowercase())),
        F::And(a, b) => match (eval(a, u), eval(b, u)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        F::Or(a, b) => match (eval(a, u), eval(b, u)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        F::Not(a) => eval(a, u).map(|b| !b),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_agree_with_rust_on_every_engine() {
    let data = users();
    let engines = support::engines().await;
    for e in &engines {
        let a = &*e.adapter;
        drop_table::<User, _>(a).await.unwrap();
        create_table::<User, _>(a).await.unwrap();
        User::bulk_create(&data, a).await.unwrap();
    }
    let handle = tokio::runtime::Handle::current();
    let strategy = (
        tree(),
        any::<bool>(),
        proptest::option::of(0u64..10),
        proptest::option::of(0u64..10),
    );
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(f, desc, limit, offset)| {
            let mut want: Vec<&User> = data.iter().filter(|u| eval(&f, u) == Some(true)).collect();
            if desc {
                want.reverse();
            }
            let want: Vec<i64> = want
                .into_iter()
                .skip(offset.unwrap_or(0) as usize)
                .take(limit.map_or(usize::MAX, |l| l as usize))
                .map(|u| u.id)
                .collect();
            let mut q: QuerySet<User> = User::objects().filter(expr(&f)).order_by(if desc {
                User::ID.desc()
            } else {
                User::ID.asc()
            });
            if let Some(l) = limit {
                q = q.limit(l);
            }
            if let Some(o) = offset {
                q = q.offset(o);
            }
            for e in &engines {
                let got: Vec<i64> = handle
                    .block_on(q.all(&*e.adapter))
                    .map_err(|err| TestCaseError::fail(format!("{}: {err}", e.name)))?
                    .into_iter()
                    .map(|u| u.id)
                    .collect();
                prop_assert_eq!(&got, &want, "{} with {:?}", e.name, f);
                let n = handle.block_on(q.count(&*e.adapter)).unwrap();
                prop_assert_eq!(n as usize, want.len(), "{} count", e.name);
            }
            Ok(())
        })
    });
    for e in engines {
        e.teardown().await;
    }
    if let Err(e) = result {
        panic!("{e}");
    }
}
