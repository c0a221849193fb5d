//! The generated SQL, per dialect, as exact strings: quoting, `$n`
//! placeholders, LIMIT/OFFSET, RETURNING, lookups and DDL.

mod support;

use covet_core::{Dialect, Value};
use covet_orm::ddl::{create_table_sql, drop_table_sql};
use covet_orm::{ModelExt, OrmError, TextColumn, insert_sql};
use support::{Post, PostTag, User};

const PG: Dialect = Dialect::POSTGRES;
const MY: Dialect = Dialect::MYSQL;
const LITE: Dialect = Dialect::SQLITE;

#[test]
fn select_all_columns_in_field_order() {
    let q = User::objects();
    assert_eq!(
        q.sql(PG).sql(),
        r#"SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users""#
    );
    assert_eq!(
        q.sql(MY).sql(),
        "SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users`"
    );
}

#[test]
fn typed_filters_bind_values() {
    let q = User::objects()
        .filter(User::AGE.gte(18).and(User::HAIR_COLOR.is_not_null()))
        .exclude(User::NAME.eq("bob").or(User::AGE.between(30, 40)))
        .order_by(User::AGE.desc())
        .order_by(User::ID)
        .limit(10)
        .offset(20);
    let s = q.sql(PG);
    assert_eq!(
        s.sql(),
        r#"SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users" WHERE (("age" >= $1) AND ("hair_color" IS NOT NULL)) AND (NOT (("name" = $2) OR ("age" BETWEEN $3 AND $4))) ORDER BY "age" DESC, "id" ASC LIMIT $5 OFFSET $6"#
    );
    assert_eq!(
        s.params(),
        &[
            Value::I32(18),
            Value::Text("bob".into()),
            Value::I32(30),
            Value::I32(40),
            Value::I64(10),
            Value::I64(20)
        ]
    );
    assert!(s.is_idempotent());
}

#[test]
fn not_in_and_column_comparisons() {
    let q = User::objects().filter(!User::ID.in_([1, 2, 3]).and(User::NAME.ne(User::EMAIL)));
    let s = q.sql(LITE);
    assert_eq!(
        s.sql(),
        r#"SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users" WHERE NOT (("id" IN ($1, $2, $3)) AND ("name" <> "email"))"#
    );
    let empty = User::objects().filter(User::ID.in_(Vec::<i64>::new()));
    assert!(empty.sql(PG).sql().ends_with("WHERE 1 = 0"));
}

#[test]
fn column_arithmetic_in_filters_and_updates() {
    let q = User::objects().filter(User::AGE.gt(User::AGE.minus(1).times(2)));
    assert!(
        q.sql(PG)
            .sql()
            .ends_with(r#"WHERE "age" > (("age" - $1) * $2)"#)
    );
    let u = q
        .update_sql(MY, &[User::AGE.set(User::AGE.plus(1))])
        .unwrap();
    assert_eq!(
        u.sql(),
        "UPDATE `users` SET `age` = (`age` + $1) WHERE `age` > ((`age` - $2) * $3)"
    );
    assert_eq!(u.params(), &[Value::I32(1), Value::I32(1), Value::I32(2)]);
}

#[test]
fn nullable_eq_none_is_is_null() {
    let q = User::objects().filter(User::HAIR_COLOR.eq(None::<String>));
    assert!(q.sql(PG).sql().ends_with(r#"WHERE "hair_color" IS NULL"#));
    assert!(q.sql(PG).params().is_empty());
    let q = User::objects().filter(User::HAIR_COLOR.eq("red"));
    assert!(q.sql(PG).sql().ends_with(r#"WHERE "hair_color" = $1"#));
}

/// Records the statements it is given and returns no rows.
struct Recorder {
    dialect: Dialect,
    sql: Vec<String>,
}

#[async_trait::async_trait]
impl covet_orm::Executor for Recorder {
    fn dialect(&self) -> Dialect {
        self.dialect
    }
    async fn execute(
        &mut self,
        stmt: &covet_core::Statement,
    ) -> covet_core::Result<covet_core::ExecResult> {
        self.sql.push(stmt.sql().to_owned());
        Ok(covet_core::ExecResult::default())
    }
    async fn query(
        &mut self,
        stmt: &covet_core::Statement,
    ) -> covet_core::Result<covet_core::Rows> {
        self.sql.push(stmt.sql().to_owned());
        Ok(covet_core::Rows::default())
    }
}

#[tokio::test]
async fn first_orders_by_primary_key_when_unordered() {
    let mut rec = Recorder {
        dialect: PG,
        sql: Vec::new(),
    };
    assert!(
        support::PostTag::objects()
            .first(&mut rec)
            .await
            .unwrap()
            .is_none()
    );
    User::objects()
        .order_by(User::AGE.desc())
        .first(&mut rec)
        .await
        .unwrap();
    assert!(
        rec.sql[0].ends_with(r#"ORDER BY "post_id" ASC, "tag_id" ASC LIMIT $1"#),
        "{}",
        rec.sql[0]
    );
    assert!(
        rec.sql[1].ends_with(r#"ORDER BY "age" DESC LIMIT $1"#),
        "{}",
        rec.sql[1]
    );
}

#[test]
fn offset_without_limit_per_dialect() {
    let q = User::objects().offset(5);
    assert!(q.sql(PG).sql().ends_with(r#"FROM "users" OFFSET $1"#));
    assert!(
        q.sql(MY)
            .sql()
            .ends_with("FROM `users` LIMIT 18446744073709551615 OFFSET $1")
    );
    assert!(
        q.sql(LITE)
            .sql()
            .ends_with(r#"FROM "users" LIMIT -1 OFFSET $1"#)
    );
}

#[test]
fn text_matches_are_case_sensitive_on_every_engine() {
    let q = User::objects().filter(User::NAME.contains("a%b_c!"));
    let pg = q.sql(PG);
    assert!(
        pg.sql().ends_with(r#"WHERE "name" LIKE $1 ESCAPE '!'"#),
        "{}",
        pg.sql()
    );
    assert_eq!(pg.params(), &[Value::Text("%a!%b!_c!!%".into())]);
    let my = q.sql(MY);
    assert!(my.sql().ends_with("WHERE `name` LIKE BINARY $1 ESCAPE '!'"));
    let lite = User::objects()
        .filter(User::NAME.starts_with("a*?["))
        .sql(LITE);
    assert!(lite.sql().ends_with(r#"WHERE "name" GLOB $1"#));
    assert_eq!(lite.params(), &[Value::Text("a[*][?][[]*".into())]);
    let i = User::objects().filter(User::NAME.icontains("Bo")).sql(PG);
    assert!(
        i.sql()
            .ends_with(r#"WHERE LOWER("name") LIKE LOWER($1) ESCAPE '!'"#)
    );
}

#[test]
fn count_exists_update_delete() {
    let q = User::objects().filter(User::AGE.gt(18));
    assert_eq!(
        q.count_sql(PG).sql(),
        r#"SELECT COUNT(*) FROM "users" WHERE "age" > $1"#
    );
    assert_eq!(
        q.clone().limit(3).count_sql(MY).sql(),
        "SELECT COUNT(*) FROM (SELECT 1 FROM `users` WHERE `age` > $1 LIMIT $2) AS `covet_count`"
    );
    let u = q
        .update_sql(
            PG,
            &[User::AGE.set(30), User::HAIR_COLOR.set(None::<String>)],
        )
        .unwrap();
    assert_eq!(
        u.sql(),
        r#"UPDATE "users" SET "age" = $1, "hair_color" = $2 WHERE "age" > $3"#
    );
    assert_eq!(
        q.delete_sql(LITE).unwrap().sql(),
        r#"DELETE FROM "users" WHERE "age" > $1"#
    );
    assert!(matches!(
        q.clone().limit(1).delete_sql(PG),
        Err(OrmError::Unsupported(_))
    ));
    let d = q.clone().distinct();
    assert!(
        d.sql(PG)
            .sql()
            .starts_with(r#"SELECT DISTINCT "id", "name""#)
    );
    assert_eq!(
        support::PostTag::objects().distinct().count_sql(LITE).sql(),
        r#"SELECT COUNT(*) FROM (SELECT DISTINCT "post_id", "tag_id" FROM "post_tags") AS "covet_count""#
    );
}

fn user() -> User {
    User {
        id: 0,
        name: "Ann".into(),
        email: "ann@example.com".into(),
        age: 30,
        hair_color: None,
        created_at: chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap(),
    }
}

#[test]
fn insert_omits_the_auto_key_and_returns_it_where_supported() {
    let u = user();
    assert_eq!(
        insert_sql(&u, PG, true).sql(),
        r#"INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") VALUES ($1, $2, $3, $4, $5) RETURNING "id""#
    );
    assert_eq!(
        insert_sql(&u, MY, false).sql(),
        "INSERT INTO `users` (`name`, `email`, `age`, `hair_color`, `created_at`) VALUES ($1, $2, $3, $4, $5)"
    );
    assert_eq!(insert_sql(&u, PG, true).params()[3], Value::Null);
    let pt = PostTag {
        post_id: 1,
        tag_id: 2,
    };
    assert_eq!(
        insert_sql(&pt, LITE, true).sql(),
        r#"INSERT INTO "post_tags" ("post_id", "tag_id") VALUES ($1, $2)"#
    );
    assert_eq!(
        covet_orm::save_sql(&u, PG).unwrap().sql(),
        r#"UPDATE "users" SET "name" = $1, "email" = $2, "age" = $3, "hair_color" = $4, "created_at" = $5 WHERE "id" = $6"#
    );
    assert_eq!(
        covet_orm::delete_sql(&pt, MY).sql(),
        "DELETE FROM `post_tags` WHERE `post_id` = $1 AND `tag_id` = $2"
    );
    assert!(matches!(
        covet_orm::save_sql(&pt, PG),
        Err(OrmError::Unsupported(_))
    ));
}

#[test]
fn bulk_insert_chunks_by_the_parameter_limit() {
    let users: Vec<User> = (0..20_000).map(|_| user()).collect();
    // 5 parameters a row: SQLite's 32,766 allows 6,553 rows, capped at 1,000.
    let stmts = covet_orm::bulk_insert_sql(&users, LITE);
    assert_eq!(stmts.len(), 20);
    assert!(stmts.iter().all(|s| s.params().len() <= LITE.max_params));
    let small = Dialect {
        max_params: 12,
        ..Dialect::POSTGRES
    };
    let stmts = covet_orm::bulk_insert_sql(&users[..5], small);
    assert_eq!(stmts.len(), 3);
    assert_eq!(
        stmts[0].sql(),
        r#"INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)"#
    );
}

#[test]
fn upsert_per_dialect() {
    let u = user();
    let pg = covet_orm::upsert_sql(&u, PG, &[User::EMAIL.into()]).unwrap();
    assert_eq!(
        pg.sql(),
        r#"INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") VALUES ($1, $2, $3, $4, $5) ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age", "hair_color" = EXCLUDED."hair_color", "created_at" = EXCLUDED."created_at""#
    );
    let my = covet_orm::upsert_sql(&u, MY, &[User::EMAIL.into()]).unwrap();
    assert!(my.sql().ends_with(
        "ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`), `hair_color` = VALUES(`hair_color`), `created_at` = VALUES(`created_at`)"
    ));
    let pt = PostTag {
        post_id: 1,
        tag_id: 2,
    };
    let keys = [PostTag::POST_ID.into(), PostTag::TAG_ID.into()];
    assert!(
        covet_orm::upsert_sql(&pt, LITE, &keys)
            .unwrap()
            .sql()
            .ends_with(r#"ON CONFLICT ("post_id", "tag_id") DO NOTHING"#)
    );
    assert!(
        covet_orm::upsert_sql(&pt, MY, &keys)
            .unwrap()
            .sql()
            .ends_with("ON DUPLICATE KEY UPDATE `post_id` = `post_id`")
    );
    assert!(covet_orm::upsert_sql(&u, PG, &[User::ID.into()]).is_err());
    assert!(covet_orm::upsert_sql(&u, PG, &[]).is_err());
}

#[test]
fn bulk_insert_chunks_by_statement_size() {
    // 1 MiB names: four fit under the 4 MiB cut, so ten rows need three
    // statements; a single row bigger than the cut still gets one.
    let mut big = user();
    big.name = "x".repeat(1 << 20);
    let users = vec![big.clone(); 10];
    let stmts = covet_orm::bulk_insert_sql(&users, PG);
    let rows: Vec<usize> = stmts.iter().map(|s| s.params().len() / 5).collect();
    assert_eq!(rows, [3, 3, 3, 1]);
    big.name = "x".repeat(5 << 20);
    assert_eq!(covet_orm::bulk_insert_sql(&[big.clone(), big], PG).len(), 2);
    assert!(covet_orm::bulk_insert_sql::<User>(&[], PG).is_empty());
}

#[test]
fn dynamic_lookups() {
    let q = User::objects()
        .filter_lookup("age__gte", 18)
        .unwrap()
        .filter_lookup("name__istartswith_not_a_lookup", "x");
    match q {
        Err(OrmError::UnknownLookup { lookup, valid, .. }) => {
            assert_eq!(lookup, "istartswith_not_a_lookup");
            assert!(valid.contains("icontains"));
        }
        other => panic!("expected UnknownLookup, got {other:?}"),
    }
    let q = User::objects()
        .filter_lookup("age__in", [1, 2])
        .unwrap()
        .filter_lookup("id__range", (5, 9))
        .unwrap()
        .filter_lookup("hair_color__isnull", true)
        .unwrap()
        .filter_lookup("email", "a@b.c")
        .unwrap()
        .filter_lookup("name__iexact", "ANN")
        .unwrap();
    let s = q.sql(PG);
    assert!(s.sql().ends_with(
        r#"WHERE ("age" IN ($1, $2)) AND ("id" BETWEEN $3 AND $4) AND ("hair_color" IS NULL) AND ("email" = $5) AND (LOWER("name") = LOWER($6))"#
    ), "{}", s.sql());
    // The value is converted to the column's type (i32 literal, BIGINT id).
    assert_eq!(s.params()[2], Value::I64(5));

    let e = User::objects()
        .filter_lookup("password__exact", "x")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"User has no field "password"; its fields are: id, name, email, age, hair_color, created_at"#
    );
    let e = User::objects()
        .filter_lookup("age__gte", "old")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "User.age__gte: a text value cannot be compared with a i32 column"
    );
    let e = User::objects()
        .filter_lookup("age__contains", "1")
        .unwrap_err();
    assert!(e.to_string().contains("applies to text columns"), "{e}");
    // Field names resolve to the column: Post.author_id is stored as user_id.
    let s = Post::objects()
        .filter_lookup("author_id", 3_i64)
        .unwrap()
        .sql(MY);
    assert!(s.sql().ends_with("WHERE `user_id` = $1"));
}

#[test]
fn lookups_across_belongs_to_relations() {
    let q = support::Comment::objects()
        .filter_lookup("post__author__age__gte", 18)
        .unwrap()
        .filter_lookup("post__title", "Hi")
        .unwrap();
    let s = q.sql(PG);
    assert!(
        s.sql().ends_with(
            r#"WHERE ("post_id" IN (SELECT "id" FROM "posts" WHERE "user_id" IN (SELECT "id" FROM "users" WHERE "age" >= $1))) AND ("post_id" IN (SELECT "id" FROM "posts" WHERE "title" = $2))"#
        ),
        "{}",
        s.sql()
    );
    assert_eq!(s.params(), &[Value::I32(18), Value::Text("Hi".into())]);
    let e = Post::objects()
        .filter_lookup("author__agee__gte", 1)
        .unwrap_err();
    assert!(
        e.to_string().starts_with(r#"User has no field "agee""#),
        "{e}"
    );
    let e = Post::objects().filter_lookup("writer__age", 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"Post has no field "writer"; its fields are: id, author_id, title, body, created_at, author__<field of User>"#
    );
}

#[test]
fn select_related_joins_and_qualifies() {
    let q = Post::objects()
        .filter(
            Post::TITLE
                .contains("a")
                .and(Post::AUTHOR_ID.in_select(User::ID, User::AGE.gt(1))),
        )
        .order_by(Post::ID.desc())
        .limit(5)
        .select_related(Post::AUTHOR);
    let s = q.sql(PG).unwrap();
    assert_eq!(
        s.sql(),
        r#"SELECT "t0"."id", "t0"."user_id", "t0"."title", "t0"."body", "t0"."created_at", "t1"."id", "t1"."name", "t1"."email", "t1"."age", "t1"."hair_color", "t1"."created_at" FROM "posts" AS "t0" INNER JOIN "users" AS "t1" ON "t1"."id" = "t0"."user_id" WHERE ("t0"."title" LIKE $1 ESCAPE '!') AND ("t0"."user_id" IN (SELECT "id" FROM "users" WHERE "age" > $2)) ORDER BY "t0"."id" DESC LIMIT $3"#
    );
    // Comment -> Post.
    let c = support::Comment::objects().select_related(support::Comment::POST);
    assert!(c.sql(MY).unwrap().sql().contains(
        "FROM `comments` AS `t0` INNER JOIN `posts` AS `t1` ON `t1`.`id` = `t0`.`post_id`"
    ));
}

#[test]
fn string_orderings_are_checked() {
    let q = User::objects().order_by_name("-age").unwrap();
    assert!(q.sql(PG).sql().ends_with(r#"ORDER BY "age" DESC"#));
    let e = User::objects()
        .order_by_name("age; DROP TABLE users")
        .unwrap_err();
    assert!(matches!(e, OrmError::UnknownField { .. }));
}

#[test]
fn create_table_per_dialect() {
    let pg: Vec<String> = create_table_sql::<User>(PG)
        .iter()
        .map(|s| s.sql().to_owned())
        .collect();
    assert_eq!(
        pg,
        [
            r#"CREATE TABLE "users" ("id" BIGSERIAL PRIMARY KEY, "name" VARCHAR(100) NOT NULL, "email" VARCHAR(255) NOT NULL UNIQUE, "age" INTEGER NOT NULL, "hair_color" VARCHAR(50), "created_at" TIMESTAMP NOT NULL)"#,
            r#"CREATE INDEX "idx_users_age" ON "users" ("age")"#,
        ]
    );
    let my = create_table_sql::<Post>(MY);
    assert_eq!(
        my[0].sql(),
        "CREATE TABLE `posts` (`id` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, `user_id` BIGINT NOT NULL, `title` VARCHAR(200) NOT NULL, `body` LONGTEXT, `created_at` DATETIME(6) NOT NULL, FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))"
    );
    let lite = create_table_sql::<PostTag>(LITE);
    assert_eq!(
        lite[0].sql(),
        r#"CREATE TABLE "post_tags" ("post_id" BIGINT NOT NULL, "tag_id" BIGINT NOT NULL, PRIMARY KEY ("post_id", "tag_id"), FOREIGN KEY ("post_id") REFERENCES "posts" ("id"), FOREIGN KEY ("tag_id") REFERENCES "tags" ("id"))"#
    );
    assert_eq!(
        create_table_sql::<User>(LITE)[0].sql().split(", ").next(),
        Some(r#"CREATE TABLE "users" ("id" INTEGER PRIMARY KEY AUTOINCREMENT"#)
    );
    assert_eq!(
        drop_table_sql::<User>(MY).sql(),
        "DROP TABLE IF EXISTS `users`"
    );
}

#[test]
fn metadata_records_relations() {
    let meta = <Post as covet_orm::Model>::meta();
    let fk = meta.columns[1].references.expect("belongs_to recorded");
    assert_eq!(fk.model, "User");
    assert_eq!((fk.meta)().table, "users");
    assert_eq!(meta.auto_key, Some(0));
    assert_eq!(<PostTag as covet_orm::Model>::meta().primary_key, &[0, 1]);
}
