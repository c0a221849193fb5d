//! Hostile strings in every value position never reach the SQL text and
//! never change its shape; names that are not model fields are refused by
//! the dynamic APIs.

mod support;

use covet_core::{Dialect, Statement, Value};
use covet_orm::{Agg, ModelExt, OrmError, QuerySet, TextColumn};
use proptest::prelude::*;
use support::{Post, User};

const DIALECTS: [Dialect; 3] = [Dialect::POSTGRES, Dialect::MYSQL, Dialect::SQLITE];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("`".to_owned()),
        Just("'; DROP TABLE users; --".to_owned()),
        Just("\\'; DROP TABLE users; --".to_owned()),
        Just("/* comment */".to_owned()),
        Just("\0".to_owned()),
        Just("$1".to_owned()),
        Just("?".to_owned()),
        Just("%_!*[".to_owned()),
        // Homoglyphs: fullwidth apostrophe and semicolon, Cyrillic a.
        Just("\u{ff07}\u{ff1b} DROP \u{0430}".to_owned()),
        "\\PC{0,24}",
        any::<String>(),
    ]
}

/// Every query that takes a string value, built with `s`.
fn queries(s: &str) -> Vec<QuerySet<User>> {
    vec![
        User::objects().filter(User::NAME.eq(s)),
        User::objects().filter(User::NAME.ne(s).or(User::EMAIL.lt(s))),
        User::objects().exclude(User::HAIR_COLOR.eq(s)),
        User::objects().filter(User::NAME.in_([s, s])),
        User::objects().filter(User::NAME.between(s, s)),
        User::objects().filter(User::NAME.like(s)),
        User::objects().filter(User::NAME.contains(s)),
        User::objects().filter(User::NAME.starts_with(s)),
        User::objects().filter(User::NAME.ends_with(s)),
        User::objects().filter(User::NAME.iexact(s)),
        User::objects().filter(User::HAIR_COLOR.icontains(s)),
        User::objects().filter_lookup("name__exact", s).unwrap(),
        User::objects()
            .filter_lookup("email__icontains", s)
            .unwrap(),
        User::objects()
            .filter_lookup("name__in", vec![s, s])
            .unwrap(),
        User::objects()
            .filter_lookup("name__range", (s, s))
            .unwrap(),
    ]
}

fn user(s: &str) -> User {
    User {
        id: 1,
        name: s.to_owned(),
        email: s.to_owned(),
        age: 1,
        hair_color: Some(s.to_owned()),
        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
    }
}

/// Every statement the ORM writes for a model holding `s`.
fn statements(s: &str, d: Dialect) -> Vec<Statement> {
    let mut out: Vec<Statement> = queries(s).iter().map(|q| q.sql(d)).collect();
    out.extend(queries(s).iter().map(|q| q.count_sql(d)));
    out.push(
        User::objects()
            .filter(User::NAME.eq(s))
            .update_sql(d, &[User::EMAIL.set(s)])
            .unwrap(),
    );
    out.push(
        User::objects()
            .filter(User::NAME.eq(s))
            .delete_sql(d)
            .unwrap(),
    );
    out.push(
        support::Comment::objects()
            .filter_lookup("post__author__name__icontains", s)
            .unwrap()
            .sql(d),
    );
    // Annotation names (hostile here) stay on the Rust side.
    out.push(
        User::objects()
            .filter(User::NAME.eq(s))
            .group_by(&[User::AGE.into()])
            .annotate(s, Agg::count())
            .annotate_name(&format!("{s}2"), "sum", Some("age"))
            .unwrap()
            .order_by_annotation(&format!("-{s}"))
            .unwrap()
            .sql(d)
            .unwrap(),
    );
    out.push(
        User::objects()
            .filter(User::NAME.eq(s))
            .only(&[User::EMAIL.into()])
            .sql(d)
            .unwrap(),
    );
    out.push(
        support::Comment::objects()
            .filter(support::Comment::TEXT.eq(s))
            .select_related(support::Comment::POST)
            .then(Post::AUTHOR)
            .sql(d)
            .unwrap(),
    );
    let u = user(s);
    out.extend(
        covet_orm::bulk_update_sql(
            &[u.clone(), u.clone()],
            &[User::NAME.into(), User::EMAIL.into()],
            d,
        )
        .unwrap(),
    );
    out.push(covet_orm::insert_sql(&u, d, true));
    out.push(covet_orm::save_sql(&u, d).unwrap());
    out.extend(covet_orm::bulk_insert_sql(&[u.clone(), u], d));
    out
}

fn unknown_field<T>(r: &Result<T, OrmError>) -> bool {
    matches!(r, Err(OrmError::UnknownField { .. }))
}

fn has_text_param(stmt: &Statement) -> bool {
    stmt.params()
        .iter()
        .any(|v| matches!(v, Value::Text(t) if !t.is_empty()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The SQL for a hostile value equals the SQL for a plain one, the
    /// value travels only as a parameter, and the parameter count is the
    /// same.
    #[test]
    fn values_never_reach_sql_text(s in hostile()) {
        for d in DIALECTS {
            let plain = statements("x", d);
            let evil = statements(&s, d);
            prop_assert_eq!(plain.len(), evil.len());
            for (p, e) in plain.iter().zip(&evil) {
                prop_assert_eq!(p.sql(), e.sql());
                prop_assert_eq!(p.params().len(), e.params().len());
                prop_assert!(has_text_param(e) || s.is_empty());
            }
        }
    }

    /// A name that is not a field (whatever it contains) is refused by
    /// filter_lookup, exclude_lookup and order_by_name, with a typed error.
    #[test]
    fn unknown_names_are_refused(s in hostile()) {
        let fields = ["id", "name", "email", "age", "hair_color", "created_at"];
        prop_assume!(!fields.contains(&s.as_str()));
        prop_assume!(!fields.iter().any(|f| s.strip_prefix('-') == Some(*f)));
        prop_assume!(!fields.iter().any(|f| s.starts_with(&format!("{f}__"))));
        let refused = |r: Result<QuerySet<User>, OrmError>| matches!(
            r,
            Err(OrmError::UnknownField { .. } | OrmError::UnknownLookup { .. } | OrmError::Unsupported(_))
        );
        prop_assert!(refused(User::objects().filter_lookup(&s, 1)));
        prop_assert!(refused(User::objects().exclude_lookup(&s, 1)));
        prop_assert!(refused(User::objects().order_by_name(&s)));
        let desc = format!("-{}", s);
        prop_assert!(refused(User::objects().order_by_name(&desc)));
        // only / defer / group_by / aggregates by name.
        prop_assert!(unknown_field(&User::objects().only_names(&[&s])));
        prop_assert!(unknown_field(&User::objects().defer_names(&[&s])));
        prop_assert!(unknown_field(&User::objects().group_by_names(&[&s])));
        let g = User::objects().group_by(&[User::AGE.into()]);
        prop_assert!(g.clone().annotate_name("n", "sum", Some(&s)).is_err());
        let funcs = ["count", "sum", "avg", "min", "max"];
        prop_assume!(!funcs.contains(&s.to_ascii_lowercase().as_str()));
        prop_assert!(g.clone().annotate_name("n", &s, Some("age")).is_err());
        prop_assert!(g.order_by_annotation(&s).is_err());
        // A real field with a hostile lookup name.
        let lookups = ["exact", "iexact", "gt", "gte", "lt", "lte", "in", "contains",
            "icontains", "startswith", "endswith", "isnull", "range"];
        prop_assume!(!lookups.contains(&s.as_str()));
        let r = Post::objects().filter_lookup(&format!("title__{s}"), "x");
        prop_assert!(r.is_err());
    }

    /// Debug output of filters, querysets, lookup arguments, assignments
    /// and statements never shows a bound value.
    #[test]
    fn debug_never_shows_values(pre in hostile(), n in any::<u32>()) {
        let secret = format!("{pre}S3CR3T{n}");
        let marker = format!("S3CR3T{n}");
        let e = User::NAME.eq(secret.as_str()).or(User::EMAIL.contains(&secret));
        let q = User::objects()
            .filter(e.clone())
            .filter_lookup("email__in", vec![secret.clone()])
            .unwrap();
        let arg = covet_orm::lookup::IntoLookupArg::into_lookup_arg((secret.clone(), secret.clone()));
        let assign = User::NAME.set(secret.clone());
        let u = user(&secret);
        let shown = format!(
            "{e:?} {q:?} {arg:?} {assign:?} {:?} {:?} {:?}",
            q.sql(Dialect::POSTGRES),
            covet_orm::insert_sql(&u, Dialect::MYSQL, false),
            User::objects().filter_lookup("age__gte", secret.as_str()).map(|_| ()),
        );
        prop_assert!(!shown.contains(&marker), "{}", shown);
    }
}
