-- Generated from templates (see README.md); one statement per line.
select "id", "name", "email", "age", "hair_color", "created_at" from "users"
SELECT "id", "name", "email", "age", "hair_color", "created_at"  FROM "users"   WHERE (("age" >= 5) AND ("hair_color" IS NOT NULL)) AND (NOT (("name" = 'blond') OR ("age" BETWEEN 94771 AND 2))) ORDER BY "age" DESC, "id" ASC LIMIT 0 OFFSET 1000
SELECT "id", "name", "email", "age", "hair_color", "created_at"  FROM "users"   WHERE (("age" >= 5) AND ("hair_color" IS NOT NULL)) AND (NOT (("name" = 'carol') OR ("age" BETWEEN 99 AND 75134))) ORDER BY "age" DESC, "id" ASC LIMIT 5 OFFSET 18
select "id", "name", "email", "age", "hair_color", "created_at" from "users" where NOT (("id" IN (42, 7)) and ("name" <> "email"))
/* app:90 */ SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users" WHERE NOT (("id" IN (0)) AND ("name" <> "email"))
SELECT COUNT(*)  FROM "users"   WHERE "age" > 1
SELECT COUNT(*) FROM "users" WHERE "age" > 99
select COUNT(*) from "users" where "age" > 2
select COUNT(*) from (select 1 from "users" where "age" > 18 limit 0) AS "covet_count"
SELECT COUNT(*)  FROM (SELECT 1 FROM "users"   WHERE "age" > 18 LIMIT 99) AS "covet_count"
SELECT COUNT(*) FROM (SELECT 1 FROM "users" WHERE "age" > 100 LIMIT 59856) AS "covet_count"
UPDATE "users" SET "age" = 18, "hair_color" = 'bob'   WHERE "age" > 13316
UPDATE "users" SET "age" = 18, "hair_color" = 'hello world'   WHERE "age" > 0
UPDATE "users" SET "age" = ("age" + 18)   WHERE "age" > (("age" - 7) * 5)
UPDATE "users" SET "age" = ("age" + 18) WHERE "age" > (("age" - 0) * 1000)
DELETE FROM "users" WHERE "age" > 0
DELETE FROM "users" WHERE "age" > 99
DELETE FROM "users" WHERE "age" > 42
SELECT COUNT(*) FROM (SELECT DISTINCT "post_id", "tag_id" FROM "post_tags") AS "covet_count" -- req 799
INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") values ('black', 'red', 2, 'hello world', now()) RETURNING "id"
INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") VALUES ('blond', 'brown', 1000, 'blond', now()) RETURNING "id"
UPDATE "users" set "name" = 'x', "email" = 'black', "age" = 90885, "hair_color" = 'x' where "id" = 7
UPDATE "users" SET "name" = 'black', "email" = 'x', "age" = 42, "hair_color" = 'blond'   WHERE "id" = 12345
/* app:76 */ UPDATE "users" SET "name" = 'bob', "email" = 'bob', "age" = 18, "hair_color" = 'hello world' WHERE "id" = 1000
DELETE FROM "post_tags" WHERE "post_id" = 2 AND "tag_id" = 2
DELETE  FROM "post_tags"   WHERE "post_id" = 1000 AND "tag_id" = 2
/* app:8 */ DELETE FROM "post_tags" WHERE "post_id" = 100 AND "tag_id" = 1000
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ('alice', 'u10@example.com', 0, now()), ('black', 'u11@example.com', 12345, now()), ('bob', 'u12@example.com', 18, now())
/* app:78 */ INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ('bob', 'u13@example.com', 12345, now()), ('carol', 'u14@example.com', 12345, now()), ('hello world', 'u15@example.com', 7, now())
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ('bob', 'u16@example.com', 99, now()), ('carol', 'u17@example.com', 42, now()) -- req 581
INSERT INTO "users" ("name", "email", "age", "created_at") values ('bob', 'black', 1, now()) ON CONFLICT ("email") DO UPDATE set "name" = EXCLUDED."name", "age" = EXCLUDED."age"
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ('red', 'bob', 18, now()) ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age"
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ('carol', 'black', 42, now()) ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age"
select "t0"."id", "t0"."user_id", "t0"."title", "t1"."id", "t1"."name" from "posts" AS "t0" INNER JOIN "users" AS "t1" ON "t1"."id" = "t0"."user_id" where ("t0"."title" LIKE 'O''Reilly' ESCAPE '!') and ("t0"."user_id" IN (select "id" from "users" where "age" > 42)) order by "t0"."id" DESC limit 100 -- req 926
SELECT "t0"."id", "t0"."user_id", "t0"."title", "t1"."id", "t1"."name" FROM "posts" AS "t0" INNER JOIN "users" AS "t1" ON "t1"."id" = "t0"."user_id" WHERE ("t0"."title" LIKE 'O''Reilly' ESCAPE '!') AND ("t0"."user_id" IN (SELECT "id" FROM "users" WHERE "age" > 42)) ORDER BY "t0"."id" DESC LIMIT 7 -- req 978
SELECT "t0"."id", "t0"."user_id", "t0"."title", "t1"."id", "t1"."name" FROM "posts" AS "t0" INNER JOIN "users" AS "t1" ON "t1"."id" = "t0"."user_id" WHERE ("t0"."title" LIKE 'bob' ESCAPE '!') AND ("t0"."user_id" IN (SELECT "id" FROM "users" WHERE "age" > 1)) ORDER BY "t0"."id" DESC LIMIT 18
SELECT "id", "post_id", "text" FROM "comments" WHERE "post_id" IN (12345, 1)
SELECT "id", "post_id", "text" FROM "comments" WHERE "post_id" IN (1, 1000, 1, 1, 100, 1)
SELECT "id", "post_id", "text" FROM "comments" WHERE "post_id" IN (99, 0, 5, 99, 1000)
SELECT "post_id", "tag_id" FROM "post_tags" WHERE "post_id" IN (7, 1000, 7, 99)
/* app:15 */ SELECT "post_id", "tag_id" FROM "post_tags" WHERE "post_id" IN (0, 5, 2, 2)
SELECT "post_id", "tag_id" FROM "post_tags" WHERE "post_id" IN (42, 99, 0, 5, 7, 2, 2) -- req 488
