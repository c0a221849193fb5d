#!/usr/bin/env python3
"""Regenerates the fingerprint corpus (see README.md): seeded random
literals, list lengths and cosmetics over statement templates. Run from
anywhere: python3 generate.py [OUTDIR] (default: this directory)."""
import os, sys
HERE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
import random, re, sys
R = random.Random(20261204)
SEQ = 0

def lit_s():
    words = ["alice","bob","carol","dave","x","hello world","O''Reilly","2024-01-05","black","brown","blond","red","user 42","ab%","%son"]
    return "'" + R.choice(words) + "'"
def lit_i(): return str(R.choice([0,1,2,5,7,18,42,99,100,1000,12345,R.randint(1,99999)]))
def lit_f(): return R.choice(["1.5","0.25","3.14159",".5","2e3","1.0E-2","+6e-30","-0.75"])

def cosmetic(sql, dialect):
    r = R.random()
    if r < 0.25:
        sql = sql.upper() if "'" not in sql and '"' not in sql else sql
    elif r < 0.4:
        sql = re.sub(r"\b(SELECT|FROM|WHERE|AND|ORDER BY|GROUP BY|LIMIT|VALUES|SET)\b", lambda m: m.group(0).lower(), sql)
    r = R.random()
    if r < 0.2:
        sql = sql.replace(" FROM ", "  FROM ", 1).replace(" WHERE ", "   WHERE ", 1)
    elif r < 0.3:
        sql = "/* app:%d */ " % R.randint(1, 99) + sql
    elif r < 0.38:
        sql = sql + " -- req %d" % R.randint(1, 999)
    return sql

def fill(t, dialect, listlen=None):
    def rep(m):
        k = m.group(1)
        if k == "i": return lit_i()
        if k == "s": return lit_s()
        if k == "f": return lit_f()
        if k == "n": return str(R.randint(1, 16))
        if k == "d": return "'%04d-%02d-%02d'" % (R.randint(1990, 2025), R.randint(1, 12), R.randint(1, 28))
        if k == "iv": return "'%d %s'" % (R.randint(1, 9), R.choice(["hours", "days", "minutes"]))
        if k == "list":
            n = listlen or R.randint(1, 8)
            return ", ".join(lit_i() for _ in range(n))
        if k == "slist":
            n = listlen or R.randint(1, 6)
            return ", ".join(lit_s() for _ in range(n))
        if k == "rows":
            n = R.randint(1, 4)
            global SEQ
            out = []
            for _ in range(n):
                SEQ += 1
                out.append("(%s, 'u%d@example.com', %s, %s)" % (lit_s(), SEQ, lit_i(), "NOW()" if dialect == "mysql" else "now()"))
            return ", ".join(out)
        if k == "rows2":
            n = R.randint(1, 4)
            return ",".join("(%s,%s)" % (lit_i(), lit_i()) for _ in range(n))
        raise KeyError(k)
    return re.sub(r"\{(\w+)\}", rep, t)

def emit(path, templates, dialect, per=(1, 3)):
    out = []
    for t in templates.strip().split("\n"):
        t = t.strip()
        if not t or t.startswith("#"): continue
        n = R.randint(*per) if "{" in t else 1
        for _ in range(n):
            s = fill(t, dialect)
            s = cosmetic(s, dialect)
            out.append(s)
    with open(path, "w") as f:
        f.write("-- Generated from templates (see README.md); one statement per line.\n")
        for s in out: f.write(s + "\n")
    print(path, len(out), file=sys.stderr)
    return len(out)

# ---- MySQL ----
D = os.path.join(HERE, "mysql") + "/"
sysbench = """
SELECT c FROM sbtest{n} WHERE id={i}
SELECT c FROM sbtest{n} WHERE id BETWEEN {i} AND {i}
SELECT SUM(k) FROM sbtest{n} WHERE id BETWEEN {i} AND {i}
SELECT c FROM sbtest{n} WHERE id BETWEEN {i} AND {i} ORDER BY c
SELECT DISTINCT c FROM sbtest{n} WHERE id BETWEEN {i} AND {i} ORDER BY c
UPDATE sbtest{n} SET k=k+1 WHERE id={i}
UPDATE sbtest{n} SET c='{i}-{i}-{i}-{i}' WHERE id={i}
DELETE FROM sbtest{n} WHERE id={i}
INSERT INTO sbtest{n} (id, k, c, pad) VALUES ({i}, {i}, '{i}-{i}', '{i}-{i}')
BEGIN
COMMIT
CREATE TABLE sbtest{n}(id INTEGER NOT NULL AUTO_INCREMENT, k INTEGER DEFAULT '0' NOT NULL, c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id)) ENGINE = InnoDB
CREATE INDEX k_{n} ON sbtest{n}(k)
INSERT INTO sbtest{n}(k, c, pad) VALUES{rows2}
SELECT id, k, c, pad FROM sbtest{n} WHERE k IN ({list})
SELECT count(k) FROM sbtest{n} WHERE k BETWEEN {i} AND {i} OR k BETWEEN {i} AND {i}
SELECT id, k, c, pad FROM sbtest{n} WHERE id = {i}
DROP TABLE IF EXISTS sbtest{n}
"""
workload = """
SELECT id, name, email, age FROM users WHERE age > {i} LIMIT 100
SELECT id, name, email, age FROM users WHERE age > ? LIMIT 100
INSERT INTO users (name, email, age, created_at) VALUES ({s}, {s}, {i}, NOW())
INSERT INTO users (name, email, age, created_at) VALUES (?, ?, ?, ?)
SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN {i} AND {i} + 99 GROUP BY u.id, u.name HAVING COUNT(p.id) > 10
SELECT id, name, email, age FROM users WHERE id = {i}
SELECT id, name, hair_color FROM users
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = {s}
INSERT INTO users (name, hair_color) VALUES {rows2}
SELECT id, user_id, title, body FROM posts WHERE user_id IN ({list})
SELECT id, post_id, text FROM comments WHERE post_id IN ({list})
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT {i}
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT {i}
SELECT * FROM posts WHERE user_id = {i}
"""
orm = """
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users`
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users` WHERE ((`age` >= ?) AND (`hair_color` IS NOT NULL)) AND (NOT ((`name` = ?) OR (`age` BETWEEN ? AND ?))) ORDER BY `age` DESC, `id` ASC LIMIT ? OFFSET ?
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users` WHERE ((`age` >= {i}) AND (`hair_color` IS NOT NULL)) AND (NOT ((`name` = {s}) OR (`age` BETWEEN {i} AND {i}))) ORDER BY `age` DESC, `id` ASC LIMIT {i} OFFSET {i}
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users` WHERE NOT ((`id` IN ({list})) AND (`name` <> `email`))
UPDATE `users` SET `age` = (`age` + {i}) WHERE `age` > ((`age` - {i}) * {i})
SELECT COUNT(*) FROM `users` WHERE `age` > {i}
SELECT COUNT(*) FROM (SELECT 1 FROM `users` WHERE `age` > {i} LIMIT {i}) AS `covet_count`
UPDATE `users` SET `age` = {i}, `hair_color` = {s} WHERE `age` > {i}
DELETE FROM `users` WHERE `age` > {i}
SELECT COUNT(*) FROM (SELECT DISTINCT `post_id`, `tag_id` FROM `post_tags`) AS `covet_count`
INSERT INTO `users` (`name`, `email`, `age`, `hair_color`, `created_at`) VALUES ({s}, {s}, {i}, {s}, {s})
INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES ({i}, {i})
UPDATE `users` SET `name` = {s}, `email` = {s}, `age` = {i}, `hair_color` = {s}, `created_at` = {s} WHERE `id` = {i}
DELETE FROM `post_tags` WHERE `post_id` = {i} AND `tag_id` = {i}
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES {rows}
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES {rows} ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ({s}, {s}, {i}, {s}) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES {rows2} ON DUPLICATE KEY UPDATE `post_id` = `post_id`
SELECT `t0`.`id`, `t0`.`user_id`, `t0`.`title`, `t1`.`id`, `t1`.`name` FROM `posts` AS `t0` INNER JOIN `users` AS `t1` ON `t1`.`id` = `t0`.`user_id` WHERE (`t0`.`title` LIKE {s} ESCAPE '!') AND (`t0`.`user_id` IN (SELECT `id` FROM `users` WHERE `age` > {i})) ORDER BY `t0`.`id` DESC LIMIT {i}
SELECT `id`, `post_id`, `text` FROM `comments` WHERE `post_id` IN ({list})
SELECT `post_id`, `tag_id` FROM `post_tags` WHERE `post_id` IN ({list})
"""
docs = """
SELECT VERSION(), CURRENT_DATE
SELECT SIN(PI()/4), (4+1)*5
SELECT * FROM pet WHERE name = {s}
SELECT * FROM pet WHERE birth >= {s}
SELECT * FROM pet WHERE species = {s} AND sex = {s}
SELECT * FROM pet WHERE species = {s} OR species = {s}
SELECT name, birth FROM pet ORDER BY birth DESC
SELECT name, species, birth FROM pet ORDER BY species, birth DESC
SELECT name, birth, CURDATE(), TIMESTAMPDIFF(YEAR,birth,CURDATE()) AS age FROM pet ORDER BY age
SELECT name, birth FROM pet WHERE MONTH(birth) = MONTH(DATE_ADD(CURDATE(),INTERVAL {i} MONTH))
SELECT * FROM pet WHERE name LIKE {s}
SELECT * FROM pet WHERE REGEXP_LIKE(name, {s})
SELECT owner, COUNT(*) FROM pet GROUP BY owner
SELECT species, sex, COUNT(*) FROM pet WHERE sex IS NOT NULL GROUP BY species, sex
SELECT pet.name, TIMESTAMPDIFF(YEAR,birth,date) AS age, remark FROM pet INNER JOIN event ON pet.name = event.name WHERE event.type = {s}
SELECT p1.name, p1.sex, p2.name, p2.sex, p1.species FROM pet AS p1 INNER JOIN pet AS p2 ON p1.species = p2.species AND p1.sex = {s} AND p2.sex = {s}
SELECT MAX(article) AS article FROM shop
SELECT article, dealer, price FROM shop WHERE price=(SELECT MAX(price) FROM shop)
SELECT article, MAX(price) AS price FROM shop GROUP BY article ORDER BY article
SELECT @min_price:=MIN(price),@max_price:=MAX(price) FROM shop
SELECT year,month,BIT_COUNT(BIT_OR(1<<day)) AS days FROM t1 GROUP BY year,month
INSERT INTO animals (name) VALUES ('dog'),('cat'),('penguin'),('lax'),('whale'),('ostrich')
INSERT INTO animals (grp,name) VALUES ('mammal','dog'),('mammal','cat'),('bird','penguin')
SELECT LAST_INSERT_ID()
SELECT * FROM t1 WHERE column1 = (SELECT column1 FROM t2)
SELECT s1 FROM t1 WHERE s1 > ANY (SELECT s1 FROM t2)
SELECT s1 FROM t1 WHERE s1 IN (SELECT s1 FROM t2)
SELECT DISTINCT store_type FROM stores WHERE EXISTS (SELECT * FROM cities_stores WHERE cities_stores.store_type = stores.store_type)
SELECT * FROM t1 WHERE (col1,col2) = (SELECT col3, col4 FROM t2 WHERE id = {i})
SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a WHERE t2.a IS NULL
SELECT * FROM t1 LEFT JOIN (t2, t3, t4) ON (t2.a = t1.a AND t3.b = t1.b AND t4.c = t1.c)
SELECT * FROM t1 NATURAL JOIN t2
SELECT * FROM t1 JOIN t2 USING (a)
SELECT a FROM t1 WHERE b = {i} UNION SELECT a FROM t2 WHERE b = {i}
SELECT a FROM t1 WHERE b = {i} UNION ALL SELECT a FROM t1 WHERE b = {i}
SELECT a FROM t1 WHERE b = {i} UNION ALL SELECT a FROM t1 WHERE b = {i} UNION ALL SELECT a FROM t1 WHERE b = {i}
SELECT 1 + 1 FROM DUAL
SELECT * FROM tbl LIMIT {i}
SELECT * FROM tbl LIMIT {i},{i}
SELECT * FROM tbl LIMIT {i} OFFSET {i}
SELECT * FROM tbl LIMIT {i}, 18446744073709551615
SELECT a, COUNT(b) FROM test_table GROUP BY a ORDER BY NULL
SELECT year, SUM(profit) AS profit FROM sales GROUP BY year WITH ROLLUP
SELECT year, country, product, SUM(profit) AS profit FROM sales GROUP BY year, country, product WITH ROLLUP
SELECT CONCAT(last_name,', ',first_name) AS full_name FROM mytable ORDER BY full_name
SELECT t1.name, t2.salary FROM employee AS t1, info AS t2 WHERE t1.name = t2.name
SELECT college, region, seed FROM tournament ORDER BY region, seed
SELECT college, region AS r, seed AS s FROM tournament ORDER BY r, s
SELECT * FROM t1 WHERE a = {i} FOR UPDATE
SELECT * FROM t1 WHERE a = {i} LOCK IN SHARE MODE
SELECT SQL_CALC_FOUND_ROWS * FROM tbl_name WHERE id > {i} LIMIT {i}
SELECT FOUND_ROWS()
SELECT * FROM t WHERE c = 0x4D7953514C
SELECT * FROM t WHERE c = X'4D7953514C'
SELECT * FROM t WHERE b = b'1010'
SELECT * FROM t WHERE b = 0b1010
SELECT * FROM t WHERE f = {f}
SELECT _utf8mb4'some text' COLLATE utf8mb4_danish_ci
SELECT "double quoted" FROM t WHERE name = "bob"
SELECT 'It''s', 'It\\'s', "say \\"hi\\"" FROM t
SELECT /*!40001 SQL_NO_CACHE */ * FROM t WHERE id = {i}
SELECT /*!40001 SQL_NO_CACHE */ * FROM t WHERE id = {i}
SELECT * FROM t WHERE id = {i}
SET /*!50002 GLOBAL */ max_connections = {i}
SET GLOBAL max_connections = {i}
SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t1 WHERE a = {i}
SELECT * FROM t1 # a comment
SELECT * FROM t1 WHERE a = {i} AND b IS NULL
SELECT * FROM t1 WHERE a = {i} AND b = NULL
SELECT * FROM t1 WHERE a = TRUE
SELECT * FROM t1 WHERE a = FALSE
SELECT * FROM t1 WHERE a IN ({slist})
SELECT * FROM t1 WHERE a NOT IN ({list})
SELECT * FROM t1 WHERE (a, b) IN ((1, 2), (3, 4))
SELECT * FROM users_2009 WHERE id = {i}
SELECT * FROM users_2010 WHERE id = {i}
SELECT * FROM logs_202401 WHERE created_at > {s}
SELECT * FROM logs_202402 WHERE created_at > {s}
SELECT MD5(name), SHA2(name, 256) FROM t2 WHERE id = {i}
SELECT id FROM t ORDER BY a ASC, b DESC
SELECT id FROM t ORDER BY a, b DESC
SELECT id FROM t ORDER BY a ASC
SELECT id FROM t ORDER BY a
INSERT INTO t (a, b, c) VALUES ({i}, {i}, {i})
INSERT INTO t VALUE ({i}, {i}, {i})
INSERT t (a, b, c) VALUES ({i}, {i}, {i})
INSERT IGNORE INTO t (a, b) VALUES {rows2}
INSERT INTO t (a, b) VALUES {rows2}
REPLACE INTO t (a, b) VALUES {rows2}
INSERT INTO t (a, b) VALUES ({i}, {i}) ON DUPLICATE KEY UPDATE b = b + 1
INSERT INTO t (a, b) VALUES ({i}, {i}), ({i}, {i}) ON DUPLICATE KEY UPDATE b = b + 1
INSERT INTO t (a, b) VALUES ({i}, {i}) AS new ON DUPLICATE KEY UPDATE b = new.b
INSERT INTO t2 (a, b) SELECT a, b FROM t1 WHERE c > {i}
INSERT INTO tbl_temp2 (fld_id) SELECT tbl_temp1.fld_order_id FROM tbl_temp1 WHERE tbl_temp1.fld_order_id > {i}
INSERT INTO t SET a = {i}, b = {s}
UPDATE t1 SET col1 = col1 + 1
UPDATE t1 SET col1 = col1 + 1, col2 = col1
UPDATE t SET id = id + 1 ORDER BY id DESC
UPDATE items,month SET items.price=month.price WHERE items.id=month.id
UPDATE t SET a = {i} WHERE id IN ({list}) LIMIT {i}
DELETE FROM somelog WHERE user = {s} ORDER BY timestamp_column LIMIT 1
DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id=t2.id AND t2.id=t3.id
DELETE FROM t1 WHERE id IN ({list})
CALL p({i}, {s})
CALL db.proc_name()
CALL proc_counter(@out, {i})
USE test
USE `production`
USE db1
SHOW TABLES
SHOW FULL PROCESSLIST
SHOW GLOBAL STATUS LIKE {s}
SHOW VARIABLES LIKE 'max_connections'
SHOW CREATE TABLE t1
SHOW INDEX FROM t1
SHOW ENGINE INNODB STATUS
SET NAMES utf8mb4
SET autocommit = {i}
SET SESSION sql_mode = {s}
SET @x = {i}
START TRANSACTION
START TRANSACTION READ ONLY
ROLLBACK
SAVEPOINT sp1
ROLLBACK TO SAVEPOINT sp1
LOCK TABLES t1 READ, t2 WRITE
UNLOCK TABLES
FLUSH TABLES
ANALYZE TABLE t1
OPTIMIZE TABLE t1
EXPLAIN SELECT * FROM t1 WHERE a = {i}
EXPLAIN FORMAT=JSON SELECT * FROM t1 WHERE a = {i}
DESCRIBE t1
CREATE TABLE t1 (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL DEFAULT '', KEY name_idx (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
CREATE TABLE IF NOT EXISTS t2 LIKE t1
ALTER TABLE t1 ADD COLUMN c INT DEFAULT {i}
ALTER TABLE t1 DROP COLUMN c
ALTER TABLE t1 ADD INDEX idx_c (c)
DROP TABLE IF EXISTS t2
TRUNCATE TABLE t1
CREATE DATABASE IF NOT EXISTS app
GRANT SELECT ON app.* TO 'reader'@'%'
CREATE USER 'app'@'%' IDENTIFIED BY {s}
ALTER USER 'app'@'%' IDENTIFIED BY {s}
SELECT JSON_EXTRACT(doc, '$.name') FROM docs WHERE id = {i}
SELECT doc->>'$.name' FROM docs WHERE id = {i}
SELECT * FROM docs WHERE JSON_CONTAINS(tags, {s})
WITH cte AS (SELECT a, b FROM t1 WHERE c = {i}) SELECT * FROM cte WHERE a > {i}
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < {i}) SELECT * FROM seq
SELECT val, ROW_NUMBER() OVER w AS 'row_number', RANK() OVER w AS 'rank' FROM numbers WINDOW w AS (ORDER BY val)
SELECT year, country, product, profit, SUM(profit) OVER(PARTITION BY country) AS country_profit FROM sales ORDER BY country, year, product, profit
SELECT a, b, c FROM t1 WHERE a > {i} AND b < {i} AND c BETWEEN {i} AND {i}
SELECT a FROM t1 WHERE a > {f}
SELECT a FROM t1 WHERE a > -{i}
SELECT a FROM t1 WHERE a > - {i}
SELECT a FROM t1 WHERE a = 1e10
SELECT a FROM t1 WHERE a = .5
SELECT a + {i} FROM t1
SELECT DATE_FORMAT(created, '%Y-%m') AS m, COUNT(*) FROM orders WHERE created >= {s} GROUP BY m
SELECT * FROM orders WHERE created BETWEEN {s} AND {s} ORDER BY created DESC LIMIT {i}
SELECT o.id, c.name FROM orders o STRAIGHT_JOIN customers c ON c.id = o.customer_id WHERE o.total > {f}
SELECT id FROM t FORCE INDEX (idx_a) WHERE a = {i}
SELECT HIGH_PRIORITY id FROM t WHERE a = {i}
SELECT COUNT(DISTINCT a) FROM t GROUP BY b HAVING COUNT(*) > {i}
SELECT a, GROUP_CONCAT(b ORDER BY b ASC SEPARATOR ',') FROM t GROUP BY a
SELECT CASE WHEN a > {i} THEN 'big' ELSE 'small' END FROM t
SELECT IF(a > {i}, 1, 0), IFNULL(b, {i}), COALESCE(c, d, {s}) FROM t
SELECT * FROM t WHERE name REGEXP '^[a-d]'
SELECT * FROM t WHERE MATCH (title, body) AGAINST ({s} IN NATURAL LANGUAGE MODE)
LOAD DATA INFILE '/tmp/data.txt' INTO TABLE t1 FIELDS TERMINATED BY ','
SELECT * INTO OUTFILE '/tmp/result.txt' FROM t1
HANDLER t1 OPEN
DO SLEEP({i})
SELECT SLEEP({i})
KILL {i}
XA START 'xatest'
PREPARE stmt1 FROM 'SELECT SQRT(POW(?,2) + POW(?,2)) AS hypotenuse'
EXECUTE stmt1 USING @a, @b
DEALLOCATE PREPARE stmt1
"""
n = 0
n += emit(D + "sysbench.sql", sysbench, "mysql", per=(3, 5))
n += emit(D + "workload.sql", workload, "mysql", per=(2, 4))
n += emit(D + "orm.sql", orm, "mysql", per=(2, 3))
n += emit(D + "docs.sql", docs, "mysql", per=(1, 2))
print("mysql total", n)

# ---- PostgreSQL ----
# Each dialect was first generated by its own run: start from the seed again.
R.seed(20261204)
SEQ = 0
D = os.path.join(HERE, "postgres") + "/"
globals()["lit_s"] = lambda: "'" + R.choice(["alice","bob","carol","x","hello world","O''Reilly","black","brown","blond","red"]) + "'"
globals()["lit_f"] = lambda: R.choice(["1.5","0.25","3.14159","2.0","-0.75","10.5"])
pgbench = """
UPDATE pgbench_accounts SET abalance = abalance + {i} WHERE aid = {i}
SELECT abalance FROM pgbench_accounts WHERE aid = {i}
UPDATE pgbench_tellers SET tbalance = tbalance + {i} WHERE tid = {i}
UPDATE pgbench_branches SET bbalance = bbalance + {i} WHERE bid = {i}
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ({i}, {i}, {i}, {i}, CURRENT_TIMESTAMP)
UPDATE pgbench_accounts SET abalance = abalance - {i} WHERE aid = {i}
SELECT count(*) FROM pgbench_branches
SELECT sum(abalance) FROM pgbench_accounts WHERE bid = {i}
SELECT aid, abalance FROM pgbench_accounts WHERE aid IN ({list})
SELECT * FROM pgbench_history ORDER BY mtime DESC LIMIT {i}
"""
workload = """
SELECT id, name, email, age FROM users WHERE age > {i} LIMIT 100
INSERT INTO users (name, email, age, created_at) VALUES ({s}, {s}, {i}, now())
SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN {i} AND {i} + 99 GROUP BY u.id, u.name HAVING COUNT(p.id) > 10
SELECT id, name, email, age FROM users WHERE id = {i}
SELECT id, name, hair_color FROM users
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = {s}
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT OUTER JOIN posts p ON p.user_id = u.id WHERE u.hair_color = {s}
INSERT INTO users (name, email, age, created_at) VALUES {rows}
SELECT id, user_id, title, body FROM posts WHERE user_id IN ({list})
SELECT id, post_id, text FROM comments WHERE post_id IN ({list})
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT {i}
SELECT p.id, p.title, u.name FROM posts p INNER JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT {i}
SELECT * FROM posts WHERE user_id = {i}
SELECT * FROM posts WHERE user_id = {i} ORDER BY created_at DESC NULLS FIRST
SELECT * FROM posts WHERE user_id = {i} ORDER BY created_at DESC
SELECT t.name, count(*) FROM tags t JOIN post_tags pt ON pt.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC LIMIT {i}
"""
orm = """
SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users"
SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users" WHERE (("age" >= {i}) AND ("hair_color" IS NOT NULL)) AND (NOT (("name" = {s}) OR ("age" BETWEEN {i} AND {i}))) ORDER BY "age" DESC, "id" ASC LIMIT {i} OFFSET {i}
SELECT "id", "name", "email", "age", "hair_color", "created_at" FROM "users" WHERE NOT (("id" IN ({list})) AND ("name" <> "email"))
SELECT COUNT(*) FROM "users" WHERE "age" > {i}
SELECT COUNT(*) FROM (SELECT 1 FROM "users" WHERE "age" > {i} LIMIT {i}) AS "covet_count"
UPDATE "users" SET "age" = {i}, "hair_color" = {s} WHERE "age" > {i}
UPDATE "users" SET "age" = ("age" + {i}) WHERE "age" > (("age" - {i}) * {i})
DELETE FROM "users" WHERE "age" > {i}
SELECT COUNT(*) FROM (SELECT DISTINCT "post_id", "tag_id" FROM "post_tags") AS "covet_count"
INSERT INTO "users" ("name", "email", "age", "hair_color", "created_at") VALUES ({s}, {s}, {i}, {s}, now()) RETURNING "id"
UPDATE "users" SET "name" = {s}, "email" = {s}, "age" = {i}, "hair_color" = {s} WHERE "id" = {i}
DELETE FROM "post_tags" WHERE "post_id" = {i} AND "tag_id" = {i}
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES {rows}
INSERT INTO "users" ("name", "email", "age", "created_at") VALUES ({s}, {s}, {i}, now()) ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name", "age" = EXCLUDED."age"
SELECT "t0"."id", "t0"."user_id", "t0"."title", "t1"."id", "t1"."name" FROM "posts" AS "t0" INNER JOIN "users" AS "t1" ON "t1"."id" = "t0"."user_id" WHERE ("t0"."title" LIKE {s} ESCAPE '!') AND ("t0"."user_id" IN (SELECT "id" FROM "users" WHERE "age" > {i})) ORDER BY "t0"."id" DESC LIMIT {i}
SELECT "id", "post_id", "text" FROM "comments" WHERE "post_id" IN ({list})
SELECT "post_id", "tag_id" FROM "post_tags" WHERE "post_id" IN ({list})
"""
docs = """
SELECT * FROM weather
SELECT city, temp_lo, temp_hi, prcp, date FROM weather
SELECT city, (temp_hi+temp_lo)/2 AS temp_avg, date FROM weather
SELECT * FROM weather WHERE city = {s} AND prcp > {f}
SELECT * FROM weather ORDER BY city
SELECT * FROM weather ORDER BY city, temp_lo
SELECT DISTINCT city FROM weather
SELECT DISTINCT city FROM weather ORDER BY city
SELECT * FROM weather JOIN cities ON city = name
SELECT weather.city, weather.temp_lo, weather.temp_hi, weather.prcp, weather.date, cities.location FROM weather JOIN cities ON weather.city = cities.name
SELECT * FROM weather LEFT OUTER JOIN cities ON weather.city = cities.name
SELECT w1.city, w1.temp_lo AS low, w1.temp_hi AS high, w2.city, w2.temp_lo AS low, w2.temp_hi AS high FROM weather w1 JOIN weather w2 ON w1.temp_lo < w2.temp_lo AND w1.temp_hi > w2.temp_hi
SELECT max(temp_lo) FROM weather
SELECT city FROM weather WHERE temp_lo = (SELECT max(temp_lo) FROM weather)
SELECT city, count(*), max(temp_lo) FROM weather GROUP BY city
SELECT city, count(*), max(temp_lo) FROM weather GROUP BY city HAVING max(temp_lo) < {i}
SELECT city, count(*) FILTER (WHERE temp_lo < {i}), max(temp_lo) FROM weather GROUP BY city
UPDATE weather SET temp_hi = temp_hi - {i}, temp_lo = temp_lo - {i} WHERE date > {d}
DELETE FROM weather WHERE city = {s}
INSERT INTO weather VALUES ({s}, {i}, {i}, {f}, '1994-11-27')
INSERT INTO weather (city, temp_lo, temp_hi, prcp, date) VALUES ({s}, {i}, {i}, {f}, '1994-11-29')
INSERT INTO cities VALUES ({s}, '(-194.0, 53.0)')
SELECT depname, empno, salary, avg(salary) OVER (PARTITION BY depname) FROM empsalary
SELECT depname, empno, salary, rank() OVER (PARTITION BY depname ORDER BY salary DESC) FROM empsalary
SELECT salary, sum(salary) OVER () FROM empsalary
SELECT salary, sum(salary) OVER (ORDER BY salary) FROM empsalary
SELECT depname, empno, salary, enroll_date FROM (SELECT depname, empno, salary, enroll_date, rank() OVER (PARTITION BY depname ORDER BY salary DESC, empno) AS pos FROM empsalary) AS ss WHERE pos < {i}
SELECT sum(salary) OVER w, avg(salary) OVER w FROM empsalary WINDOW w AS (PARTITION BY depname ORDER BY salary DESC)
SELECT c.name, c.population, c.elevation FROM cities c WHERE c.elevation > {i}
SELECT * FROM films WHERE kind = {s}
SELECT f.title, f.did, d.name, f.date_prod, f.kind FROM distributors d JOIN films f USING (did)
SELECT kind, sum(len) AS total FROM films GROUP BY kind
SELECT kind, sum(len) AS total FROM films GROUP BY kind HAVING sum(len) < interval '5 hours'
SELECT * FROM distributors ORDER BY name
SELECT * FROM distributors ORDER BY 2
SELECT distributors.name FROM distributors WHERE distributors.name LIKE {s} UNION SELECT actors.name FROM actors WHERE actors.name LIKE {s}
SELECT * FROM distributors_by_name({s})
WITH t AS (SELECT random() as x FROM generate_series(1, {i})) SELECT * FROM t UNION ALL SELECT * FROM t
WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < {i}) SELECT sum(n) FROM t
SELECT m.name AS mname, pname FROM manufacturers m, LATERAL get_product_names(m.id) pname
SELECT * FROM distributors WHERE did = {i} FOR UPDATE
SELECT * FROM distributors WHERE did = {i} FOR SHARE SKIP LOCKED
SELECT * FROM films WHERE date_prod >= {d} ORDER BY date_prod DESC NULLS LAST LIMIT {i}
SELECT * FROM films WHERE date_prod >= {d} ORDER BY date_prod ASC NULLS LAST LIMIT {i}
SELECT * FROM films WHERE date_prod >= {d} ORDER BY date_prod LIMIT {i}
SELECT * FROM films FETCH FIRST {i} ROWS ONLY
SELECT * FROM films OFFSET {i} LIMIT {i}
SELECT title FROM films WHERE did <> {i}
SELECT title FROM films WHERE did != {i}
SELECT title FROM films WHERE did = ANY ('{1,2,3}'::int[])
SELECT title FROM films WHERE len > {iv}::interval
SELECT title FROM films WHERE title ILIKE {s}
SELECT title FROM films WHERE title ~ '^[A-M]'
SELECT count(*) FROM films WHERE kind IS DISTINCT FROM {s}
SELECT coalesce(sum(len), '0'::interval) FROM films
SELECT CASE WHEN did > {i} THEN 'new' ELSE 'old' END FROM films
SELECT code, title, did, date_prod, kind, len FROM films WHERE code = {s}
INSERT INTO films VALUES ('UA502', 'Bananas', 105, '1971-07-13', 'Comedy', '82 minutes')
INSERT INTO films VALUES ('UA502', 'Bananas', 105, DEFAULT, 'Comedy', '82 minutes')
INSERT INTO films (code, title, did, date_prod, kind) VALUES ('T_601', 'Yojimbo', 106, DEFAULT, 'Drama')
INSERT INTO films DEFAULT VALUES
INSERT INTO films (code, title, did, date_prod, kind) VALUES ('B6717', 'Tampopo', 110, '1985-02-10', 'Comedy'), ('HG120', 'The Dinner Game', 140, DEFAULT, 'Comedy')
INSERT INTO films SELECT * FROM tmp_films WHERE date_prod < {d}
INSERT INTO tags (name) VALUES ({s})
INSERT INTO tags (name) VALUES ({s}) RETURNING id
SELECT id FROM tags WHERE name = {s}
INSERT INTO distributors (did, dname) VALUES (DEFAULT, {s}) RETURNING did
INSERT INTO distributors (did, dname) VALUES ({i}, {s}) ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname
INSERT INTO distributors (did, dname) VALUES ({i}, {s}) ON CONFLICT (did) DO NOTHING
INSERT INTO distributors AS d (did, dname) VALUES ({i}, {s}) ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname || ' (formerly ' || d.dname || ')' WHERE d.zipcode <> '21201'
UPDATE films SET kind = 'Dramatic' WHERE kind = 'Drama'
UPDATE weather SET temp_lo = temp_lo+1, temp_hi = temp_lo+15, prcp = DEFAULT WHERE city = {s} AND date = '2003-07-03'
UPDATE weather SET temp_lo = temp_lo+1, temp_hi = temp_lo+15, prcp = DEFAULT WHERE city = {s} AND date = '2003-07-03' RETURNING temp_lo, temp_hi, prcp
UPDATE employees SET sales_count = sales_count + 1 FROM accounts WHERE accounts.name = {s} AND employees.id = accounts.sales_person
UPDATE employees SET sales_count = sales_count + 1 WHERE id = (SELECT sales_person FROM accounts WHERE name = {s})
UPDATE accounts SET (contact_first_name, contact_last_name) = (SELECT first_name, last_name FROM employees WHERE employees.id = accounts.sales_person)
SELECT * FROM users WHERE id IN ({list}) AND age IN ({list})
SELECT * FROM users WHERE id IN ({list})
DELETE FROM films USING producers WHERE producer_id = producers.id AND producers.name = {s}
DELETE FROM films WHERE producer_id IN (SELECT id FROM producers WHERE name = {s})
DELETE FROM films WHERE kind <> 'Musical'
DELETE FROM tasks WHERE status = 'DONE' RETURNING *
SELECT 1
SELECT now()
SELECT current_database(), current_user, version()
SELECT pg_sleep(0)
SELECT {i} + {i}
SELECT {f} * {i}
SELECT 'a' || 'b'
SELECT generate_series(1, {i})
SELECT array_agg(x) FROM generate_series(1, {i}) AS g(x)
SELECT jsonb_build_object('a', {i}, 'b', {s})
SELECT doc->>'name' FROM docs WHERE id = {i}
SELECT doc FROM docs WHERE doc @> '{"tag": "x"}'::jsonb
SELECT doc FROM docs WHERE doc ? 'name'
SELECT * FROM docs WHERE id = {i} AND doc IS NOT NULL
SELECT * FROM users WHERE age > {i} AND name IS NULL
SELECT * FROM users WHERE created_at > now() - interval '1 day'
SELECT * FROM users WHERE created_at > now() - {iv}::interval
SELECT * FROM users WHERE name = $q${s}$q$
SELECT * FROM users WHERE name = E'it\\'s'
SELECT * FROM users WHERE age = {i}
SELECT * FROM users WHERE age = {f}
SELECT * FROM users WHERE id = 5000000000
SELECT * FROM users WHERE id = 12
SELECT * FROM users WHERE email = lower({s})
SELECT * FROM public.users WHERE id = {i}
SELECT /* hint */ * FROM users WHERE id = {i}
SELECT * FROM users /* outer /* nested */ still */ WHERE id = {i}
SELECT * FROM "users" WHERE "id" = {i}
SELECT * FROM users WHERE id = {i} LIMIT ALL
SELECT * FROM users WHERE id = {i} OFFSET {i}
SELECT id FROM users WHERE age IN ({list}) ORDER BY id
SELECT id FROM users WHERE name IN ({slist})
SELECT id FROM users WHERE (age, id) IN ((1, 2), (3, 4))
SELECT id FROM users WHERE age NOT IN ({list})
SELECT EXISTS (SELECT 1 FROM users WHERE email = {s})
SELECT count(*) FROM users WHERE age BETWEEN {i} AND {i}
SELECT age, count(*) FROM users GROUP BY age ORDER BY age
SELECT age, count(*) FROM users GROUP BY age ORDER BY age DESC
SELECT age, count(*) FROM users GROUP BY ROLLUP (age)
SELECT * FROM users TABLESAMPLE SYSTEM (10)
SELECT string_agg(name, ',' ORDER BY name) FROM users
SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY age) FROM users
TABLE users
VALUES (1, 'one'), (2, 'two'), (3, 'three')
VALUES ({i}, {s})
SHOW work_mem
SET work_mem = '64MB'
SET search_path TO public
RESET work_mem
SET LOCAL statement_timeout = '5s'
CREATE TEMP TABLE tmp_x (a int, b text)
CREATE INDEX ON weather (city)
CREATE INDEX weather_date_idx ON weather (date DESC)
ALTER TABLE weather ADD COLUMN note text
DROP TABLE IF EXISTS tmp_y
TRUNCATE pgbench_history
ANALYZE weather
EXPLAIN SELECT * FROM users WHERE id = {i}
EXPLAIN (COSTS OFF) SELECT * FROM users WHERE id = {i}
LOCK TABLE films IN SHARE ROW EXCLUSIVE MODE
NOTIFY virtual, 'payload'
LISTEN virtual
COMMENT ON TABLE weather IS 'daily weather'
GRANT SELECT ON weather TO PUBLIC
"""
n = 0
n += emit(D + "pgbench.sql", pgbench, "pg", per=(4, 7))
n += emit(D + "workload.sql", workload, "pg", per=(2, 4))
n += emit(D + "orm.sql", orm, "pg", per=(2, 3))
n += emit(D + "docs.sql", docs, "pg", per=(1, 3))
print("postgres total", n)
