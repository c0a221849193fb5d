-- Generated from templates (see README.md); one statement per line.
SELECT * FROM weather
SELECT CITY, TEMP_LO, TEMP_HI, PRCP, DATE  FROM WEATHER
/* app:11 */ SELECT city, (temp_hi+temp_lo)/2 AS temp_avg, date FROM weather
SELECT * FROM weather WHERE city = 'red' AND prcp > 0.25
select * from weather where city = 'carol' and prcp > 0.25
SELECT *  FROM weather   WHERE city = 'hello world' AND prcp > -0.75
/* app:30 */ SELECT * FROM weather ORDER BY city
SELECT * FROM weather ORDER BY city, temp_lo
SELECT DISTINCT city FROM weather
SELECT DISTINCT city  FROM weather ORDER BY city
SELECT * FROM weather JOIN cities ON city = name
SELECT weather.city, weather.temp_lo, weather.temp_hi, weather.prcp, weather.date, cities.location FROM weather JOIN cities ON weather.city = cities.name
SELECT * FROM weather LEFT OUTER JOIN cities ON weather.city = cities.name
select w1.city, w1.temp_lo AS low, w1.temp_hi AS high, w2.city, w2.temp_lo AS low, w2.temp_hi AS high from weather w1 JOIN weather w2 ON w1.temp_lo < w2.temp_lo and w1.temp_hi > w2.temp_hi
SELECT max(temp_lo) FROM weather
SELECT city  FROM weather   WHERE temp_lo = (SELECT max(temp_lo) FROM weather)
SELECT city, count(*), max(temp_lo) FROM weather GROUP BY city
SELECT CITY, COUNT(*), MAX(TEMP_LO)  FROM WEATHER GROUP BY CITY HAVING MAX(TEMP_LO) < 1000
SELECT city, count(*), max(temp_lo) FROM weather GROUP BY city HAVING max(temp_lo) < 7
SELECT CITY, COUNT(*) FILTER (WHERE TEMP_LO < 99), MAX(TEMP_LO)  FROM WEATHER GROUP BY CITY
SELECT city, count(*) FILTER (WHERE temp_lo < 0), max(temp_lo) FROM weather GROUP BY city
SELECT city, count(*) FILTER (WHERE temp_lo < 0), max(temp_lo) FROM weather GROUP BY city
UPDATE weather SET temp_hi = temp_hi - 42, temp_lo = temp_lo - 99 WHERE date > '2007-07-28'
UPDATE weather SET temp_hi = temp_hi - 42, temp_lo = temp_lo - 1 WHERE date > '2006-04-05'
UPDATE weather SET temp_hi = temp_hi - 27994, temp_lo = temp_lo - 99   WHERE date > '2010-08-15'
DELETE FROM weather WHERE city = 'brown'
DELETE FROM weather WHERE city = 'red'
DELETE FROM weather WHERE city = 'carol'
/* app:74 */ INSERT INTO weather VALUES ('bob', 99, 5, 10.5, '1994-11-27')
/* app:89 */ INSERT INTO weather VALUES ('carol', 1000, 18, 10.5, '1994-11-27')
INSERT INTO weather VALUES ('blond', 7, 1000, 1.5, '1994-11-27')
INSERT INTO weather (city, temp_lo, temp_hi, prcp, date) values ('brown', 1, 5, 1.5, '1994-11-29')
INSERT INTO weather (city, temp_lo, temp_hi, prcp, date) VALUES ('blond', 0, 99, 0.25, '1994-11-29')
/* app:8 */ INSERT INTO weather (city, temp_lo, temp_hi, prcp, date) VALUES ('alice', 0, 7, -0.75, '1994-11-29')
INSERT INTO cities VALUES ('blond', '(-194.0, 53.0)')
INSERT INTO cities VALUES ('blond', '(-194.0, 53.0)')
INSERT INTO cities VALUES ('red', '(-194.0, 53.0)')
SELECT depname, empno, salary, avg(salary) OVER (PARTITION BY depname) FROM empsalary
SELECT depname, empno, salary, rank() OVER (PARTITION BY depname ORDER BY salary DESC) FROM empsalary
select salary, sum(salary) OVER () from empsalary
SELECT salary, sum(salary) OVER (ORDER BY salary) FROM empsalary
select depname, empno, salary, enroll_date from (select depname, empno, salary, enroll_date, rank() OVER (PARTITION BY depname order by salary DESC, empno) AS pos from empsalary) AS ss where pos < 99
SELECT DEPNAME, EMPNO, SALARY, ENROLL_DATE FROM (SELECT DEPNAME, EMPNO, SALARY, ENROLL_DATE, RANK() OVER (PARTITION BY DEPNAME ORDER BY SALARY DESC, EMPNO) AS POS FROM EMPSALARY) AS SS WHERE POS < 0
SELECT sum(salary) OVER w, avg(salary) OVER w  FROM empsalary WINDOW w AS (PARTITION BY depname ORDER BY salary DESC)
SELECT c.name, c.population, c.elevation FROM cities c WHERE c.elevation > 61204
/* app:31 */ select * from films where kind = 'carol'
SELECT * FROM films WHERE kind = 'alice' -- req 278
SELECT * FROM films WHERE kind = 'brown'
SELECT f.title, f.did, d.name, f.date_prod, f.kind FROM distributors d JOIN films f USING (did)
SELECT kind, sum(len) AS total FROM films GROUP BY kind
SELECT kind, sum(len) AS total FROM films GROUP BY kind HAVING sum(len) < interval '5 hours' -- req 701
SELECT * FROM DISTRIBUTORS ORDER BY NAME
SELECT * FROM DISTRIBUTORS ORDER BY 2
SELECT distributors.name FROM distributors WHERE distributors.name LIKE 'red' UNION SELECT actors.name FROM actors WHERE actors.name LIKE 'carol'
SELECT * FROM distributors_by_name('x')
/* app:69 */ SELECT * FROM distributors_by_name('blond')
SELECT * FROM distributors_by_name('carol')
WITH t AS (SELECT random() as x FROM generate_series(1, 100)) SELECT * FROM t UNION ALL SELECT * FROM t
WITH t AS (SELECT random() as x FROM generate_series(1, 2)) SELECT * FROM t UNION ALL SELECT * FROM t
WITH T AS (SELECT RANDOM() AS X FROM GENERATE_SERIES(1, 5)) SELECT * FROM T UNION ALL SELECT * FROM T
WITH RECURSIVE t(n) AS (values (1) UNION ALL select n+1 from t where n < 42) select sum(n) from t
WITH RECURSIVE T(N) AS (VALUES (1) UNION ALL SELECT N+1 FROM T WHERE N < 1000) SELECT SUM(N) FROM T
SELECT m.name AS mname, pname FROM manufacturers m, LATERAL get_product_names(m.id) pname
SELECT * FROM distributors WHERE did = 100 FOR UPDATE -- req 884
SELECT * FROM distributors WHERE did = 57239 FOR UPDATE
SELECT *  FROM distributors   WHERE did = 18 FOR SHARE SKIP LOCKED
SELECT * FROM films WHERE date_prod >= '2013-07-01' ORDER BY date_prod DESC NULLS LAST LIMIT 64589
SELECT * FROM films WHERE date_prod >= '2009-03-21' ORDER BY date_prod DESC NULLS LAST LIMIT 99
/* app:9 */ select * from films where date_prod >= '2019-05-07' order by date_prod ASC NULLS LAST limit 100
SELECT * FROM films WHERE date_prod >= '1992-12-12' ORDER BY date_prod LIMIT 1 -- req 592
SELECT * FROM films WHERE date_prod >= '2005-01-25' ORDER BY date_prod LIMIT 0
SELECT * FROM films WHERE date_prod >= '2022-11-01' ORDER BY date_prod LIMIT 1 -- req 633
SELECT *  FROM films FETCH FIRST 1000 ROWS ONLY
/* app:38 */ SELECT * FROM FILMS FETCH FIRST 1 ROWS ONLY
SELECT *  FROM films OFFSET 12345 LIMIT 99
/* app:50 */ SELECT title FROM films WHERE did <> 42
SELECT TITLE FROM FILMS WHERE DID <> 1 -- req 79
SELECT title FROM films WHERE did <> 0
SELECT title FROM films WHERE did != 99
/* app:69 */ SELECT title FROM films WHERE did = ANY ('{1,2,3}'::int[])
SELECT title FROM films WHERE len > '3 hours'::interval
SELECT title FROM films WHERE len > '7 minutes'::interval
SELECT title FROM films WHERE title ILIKE 'O''Reilly'
SELECT title FROM films WHERE title ~ '^[A-M]'
SELECT count(*) FROM films WHERE kind IS DISTINCT FROM 'bob'
SELECT coalesce(sum(len), '0'::interval) FROM films
SELECT CASE WHEN did > 12345 THEN 'new' ELSE 'old' END FROM films
/* app:23 */ SELECT CASE WHEN did > 1000 THEN 'new' ELSE 'old' END FROM films
SELECT code, title, did, date_prod, kind, len  FROM films   WHERE code = 'red'
INSERT INTO films VALUES ('UA502', 'Bananas', 105, '1971-07-13', 'Comedy', '82 minutes') -- req 616
INSERT INTO films VALUES ('UA502', 'Bananas', 105, DEFAULT, 'Comedy', '82 minutes')
INSERT INTO films (code, title, did, date_prod, kind) VALUES ('T_601', 'Yojimbo', 106, DEFAULT, 'Drama')
/* app:2 */ INSERT INTO films DEFAULT values
INSERT INTO films (code, title, did, date_prod, kind) values ('B6717', 'Tampopo', 110, '1985-02-10', 'Comedy'), ('HG120', 'The Dinner Game', 140, DEFAULT, 'Comedy')
INSERT INTO films SELECT * FROM tmp_films WHERE date_prod < '1999-12-05'
INSERT INTO films SELECT * FROM tmp_films WHERE date_prod < '2001-04-08'
INSERT INTO tags (name) values ('hello world')
INSERT INTO tags (name) VALUES ('blond')
INSERT INTO tags (name) VALUES ('brown')
INSERT INTO tags (name) VALUES ('red') RETURNING id
INSERT INTO tags (name) VALUES ('carol') RETURNING id
SELECT id  FROM tags   WHERE name = 'blond'
SELECT id FROM tags WHERE name = 'O''Reilly' -- req 108
INSERT INTO distributors (did, dname) VALUES (DEFAULT, 'blond') RETURNING did
INSERT INTO distributors (did, dname) values (DEFAULT, 'red') RETURNING did
INSERT INTO distributors (did, dname) VALUES (1000, 'x') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname
INSERT INTO distributors (did, dname) VALUES (1000, 'bob') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname
INSERT INTO distributors (did, dname) VALUES (2, 'brown') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname -- req 794
INSERT INTO distributors (did, dname) values (99, 'hello world') ON CONFLICT (did) DO NOTHING
INSERT INTO distributors AS d (did, dname) VALUES (5, 'brown') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname || ' (formerly ' || d.dname || ')' WHERE d.zipcode <> '21201'
UPDATE films set kind = 'Dramatic' where kind = 'Drama'
UPDATE weather SET temp_lo = temp_lo+1, temp_hi = temp_lo+15, prcp = DEFAULT   WHERE city = 'bob' AND date = '2003-07-03'
UPDATE weather set temp_lo = temp_lo+1, temp_hi = temp_lo+15, prcp = DEFAULT where city = 'x' and date = '2003-07-03' RETURNING temp_lo, temp_hi, prcp
UPDATE employees SET sales_count = sales_count + 1 FROM accounts WHERE accounts.name = 'O''Reilly' AND employees.id = accounts.sales_person -- req 847
UPDATE employees SET sales_count = sales_count + 1 FROM accounts WHERE accounts.name = 'black' AND employees.id = accounts.sales_person -- req 25
UPDATE employees SET sales_count = sales_count + 1   WHERE id = (SELECT sales_person  FROM accounts WHERE name = 'alice')
UPDATE accounts SET (contact_first_name, contact_last_name) = (SELECT first_name, last_name FROM employees WHERE employees.id = accounts.sales_person)
SELECT *  FROM USERS   WHERE ID IN (54275, 0, 2, 2, 7, 12345, 0) AND AGE IN (18)
select * from users where id IN (12345, 100, 12345, 100, 44792, 7) -- req 924
select * from users where id IN (18, 5, 49801, 42, 2, 12345, 17650)
select * from users where id IN (12345, 12345, 2, 0, 7, 99, 12345, 2) -- req 676
DELETE FROM films USING producers WHERE producer_id = producers.id AND producers.name = 'bob'
/* app:97 */ DELETE from films where producer_id IN (select id from producers where name = 'blond')
DELETE FROM films WHERE producer_id IN (SELECT id FROM producers WHERE name = 'carol')
DELETE FROM films WHERE producer_id IN (SELECT id FROM producers WHERE name = 'blond')
DELETE FROM films WHERE kind <> 'Musical'
DELETE FROM tasks WHERE status = 'DONE' RETURNING *
SELECT 1
SELECT now()
SELECT current_database(), current_user, version()
SELECT PG_SLEEP(0)
SELECT 5 + 5
SELECT 2.0 * 100
SELECT 3.14159 * 42
SELECT 'a' || 'b'
select generate_series(1, 42)
SELECT ARRAY_AGG(X) FROM GENERATE_SERIES(1, 80618) AS G(X)
select array_agg(x) from generate_series(1, 100) AS g(x)
SELECT ARRAY_AGG(X) FROM GENERATE_SERIES(1, 18) AS G(X)
SELECT jsonb_build_object('a', 99, 'b', 'red')
SELECT doc->>'name' FROM docs WHERE id = 63461
SELECT doc->>'name' FROM docs WHERE id = 42
SELECT doc  FROM docs   WHERE doc @> '{"tag": "x"}'::jsonb
select doc from docs where doc ? 'name'
SELECT * FROM docs WHERE id = 42 AND doc IS NOT NULL
SELECT * FROM users WHERE age > 12345 AND name IS NULL -- req 214
/* app:77 */ SELECT * FROM users WHERE created_at > now() - interval '1 day'
SELECT *  FROM users   WHERE created_at > now() - '9 minutes'::interval
SELECT * FROM users WHERE name = $q$'x'$q$
/* app:37 */ SELECT * FROM users WHERE name = E'it\'s'
SELECT * FROM USERS WHERE AGE = 2
SELECT * FROM users WHERE age = 0
SELECT *  FROM users   WHERE age = 42
SELECT * FROM USERS WHERE AGE = -0.75
SELECT *  FROM users   WHERE id = 5000000000
select * from users where id = 12
SELECT * FROM users WHERE email = lower('carol')
SELECT *  FROM users   WHERE email = lower('brown')
/* app:2 */ SELECT * FROM PUBLIC.USERS WHERE ID = 18
SELECT /* hint */ * FROM users WHERE id = 1000
SELECT /* hint */ * FROM users WHERE id = 5
SELECT /* hint */ *  FROM users   WHERE id = 42
select * from users /* outer /* nested */ still */ where id = 1000
SELECT *  FROM users /* outer /* nested */ still */   WHERE id = 1
/* app:37 */ select * from users /* outer /* nested */ still */ where id = 2
SELECT * FROM "users" WHERE "id" = 12345
SELECT * FROM "users" WHERE "id" = 1000
select * from "users" where "id" = 1000
SELECT * FROM users WHERE id = 42 LIMIT ALL -- req 968
SELECT * FROM users WHERE id = 85561 LIMIT ALL
SELECT * FROM users WHERE id = 38297 LIMIT ALL -- req 955
select * from users where id = 2 OFFSET 99 -- req 373
SELECT id FROM users WHERE age IN (1, 0, 7, 42, 7, 5, 5, 0) ORDER BY id
SELECT id FROM users WHERE age IN (1000, 0, 12345, 0, 42, 7, 1000) ORDER BY id
SELECT id  FROM users   WHERE name IN ('x')
/* app:64 */ SELECT id FROM users WHERE name IN ('O''Reilly', 'O''Reilly', 'bob', 'hello world', 'x', 'blond')
SELECT ID  FROM USERS   WHERE (AGE, ID) IN ((1, 2), (3, 4))
select id from users where age NOT IN (18)
SELECT id FROM users WHERE age NOT IN (7, 0, 99, 71534, 0)
SELECT id FROM users WHERE age NOT IN (0, 100) -- req 167
SELECT EXISTS (SELECT 1 FROM users WHERE email = 'bob') -- req 397
SELECT EXISTS (SELECT 1 FROM users WHERE email = 'hello world')
/* app:1 */ SELECT EXISTS (SELECT 1 FROM users WHERE email = 'alice')
SELECT COUNT(*)  FROM USERS   WHERE AGE BETWEEN 5 AND 1000
SELECT age, count(*) FROM users GROUP BY age ORDER BY age -- req 470
select age, count(*) from users group by age order by age DESC
SELECT age, count(*) FROM users GROUP BY ROLLUP (age)
select * from users TABLESAMPLE SYSTEM (10)
SELECT string_agg(name, ',' ORDER BY name) FROM users
SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY age) FROM users
TABLE users
VALUES (1, 'one'), (2, 'two'), (3, 'three')
VALUES (7, 'brown')
SHOW WORK_MEM
SET work_mem = '64MB'
SET search_path TO public
RESET work_mem
SET LOCAL statement_timeout = '5s'
CREATE TEMP TABLE TMP_X (A INT, B TEXT)
CREATE INDEX ON weather (city)
CREATE INDEX weather_date_idx ON weather (date DESC)
ALTER TABLE WEATHER ADD COLUMN NOTE TEXT
DROP TABLE IF EXISTS tmp_y
TRUNCATE pgbench_history
ANALYZE WEATHER
EXPLAIN SELECT * FROM USERS WHERE ID = 1000
EXPLAIN SELECT * FROM USERS WHERE ID = 93909
EXPLAIN (COSTS OFF) SELECT * FROM users WHERE id = 0
EXPLAIN (COSTS OFF) SELECT * FROM users WHERE id = 2
LOCK TABLE films IN SHARE ROW EXCLUSIVE MODE
NOTIFY virtual, 'payload'
LISTEN virtual
COMMENT ON TABLE weather IS 'daily weather'
GRANT SELECT ON WEATHER TO PUBLIC
