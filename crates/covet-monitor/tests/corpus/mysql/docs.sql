-- Generated from templates (see README.md); one statement per line.
SELECT VERSION(), CURRENT_DATE
SELECT SIN(PI()/4), (4+1)*5
SELECT * FROM pet WHERE name = 'x'
SELECT * FROM pet WHERE name = 'dave'
SELECT * FROM pet WHERE birth >= 'red'
SELECT * FROM pet WHERE species = 'blond' AND sex = 'alice' -- req 99
SELECT * FROM pet WHERE species = 'O''Reilly' AND sex = 'carol'
SELECT * FROM pet WHERE species = '%son' OR species = 'O''Reilly'
SELECT name, birth FROM pet ORDER BY birth DESC
SELECT name, species, birth FROM pet ORDER BY species, birth DESC
SELECT name, birth, CURDATE(), TIMESTAMPDIFF(YEAR,birth,CURDATE()) AS age FROM pet ORDER BY age
SELECT name, birth FROM pet WHERE MONTH(birth) = MONTH(DATE_ADD(CURDATE(),INTERVAL 42 MONTH))
SELECT * FROM pet WHERE name LIKE '%son' -- req 246
select * from pet where REGEXP_LIKE(name, 'carol')
SELECT owner, COUNT(*)  FROM pet GROUP BY owner
SELECT SPECIES, SEX, COUNT(*) FROM PET WHERE SEX IS NOT NULL GROUP BY SPECIES, SEX
select pet.name, TIMESTAMPDIFF(YEAR,birth,date) AS age, remark from pet INNER JOIN event ON pet.name = event.name where event.type = '%son'
SELECT p1.name, p1.sex, p2.name, p2.sex, p1.species FROM pet AS p1 INNER JOIN pet AS p2 ON p1.species = p2.species AND p1.sex = 'red' AND p2.sex = '2024-01-05'
SELECT p1.name, p1.sex, p2.name, p2.sex, p1.species FROM pet AS p1 INNER JOIN pet AS p2 ON p1.species = p2.species AND p1.sex = 'hello world' AND p2.sex = 'black'
SELECT MAX(ARTICLE) AS ARTICLE FROM SHOP
SELECT article, dealer, price  FROM shop   WHERE price=(SELECT MAX(price) FROM shop)
SELECT article, MAX(price) AS price  FROM shop GROUP BY article ORDER BY article
SELECT @min_price:=MIN(price),@max_price:=MAX(price) FROM shop
SELECT year,month,BIT_COUNT(BIT_OR(1<<day)) AS days FROM t1 GROUP BY year,month
INSERT INTO animals (name) VALUES ('dog'),('cat'),('penguin'),('lax'),('whale'),('ostrich')
INSERT INTO animals (grp,name) VALUES ('mammal','dog'),('mammal','cat'),('bird','penguin') -- req 455
SELECT LAST_INSERT_ID()
SELECT * FROM T1 WHERE COLUMN1 = (SELECT COLUMN1 FROM T2)
SELECT S1 FROM T1 WHERE S1 > ANY (SELECT S1 FROM T2)
SELECT s1 FROM t1 WHERE s1 IN (SELECT s1 FROM t2)
SELECT DISTINCT store_type  FROM stores   WHERE EXISTS (SELECT * FROM cities_stores WHERE cities_stores.store_type = stores.store_type)
SELECT * FROM t1 WHERE (col1,col2) = (SELECT col3, col4 FROM t2 WHERE id = 1) -- req 592
SELECT * FROM t1 WHERE (col1,col2) = (SELECT col3, col4 FROM t2 WHERE id = 0)
SELECT * FROM T1 LEFT JOIN T2 ON T1.A = T2.A WHERE T2.A IS NULL
SELECT * FROM t1 LEFT JOIN (t2, t3, t4) ON (t2.a = t1.a AND t3.b = t1.b AND t4.c = t1.c)
SELECT * FROM t1 NATURAL JOIN t2
select * from t1 JOIN t2 USING (a)
SELECT A FROM T1 WHERE B = 2 UNION SELECT A FROM T2 WHERE B = 0
SELECT a FROM t1 WHERE b = 7 UNION SELECT a FROM t2 WHERE b = 99
SELECT a FROM t1 WHERE b = 2 UNION ALL SELECT a FROM t1 WHERE b = 12345
SELECT a  FROM t1   WHERE b = 12345 UNION ALL SELECT a FROM t1 WHERE b = 5
SELECT A FROM T1 WHERE B = 1 UNION ALL SELECT A FROM T1 WHERE B = 0 UNION ALL SELECT A FROM T1 WHERE B = 100
/* app:69 */ SELECT a FROM t1 WHERE b = 2 UNION ALL SELECT a FROM t1 WHERE b = 100 UNION ALL SELECT a FROM t1 WHERE b = 0
select 1 + 1 from DUAL
SELECT * FROM TBL LIMIT 12345
SELECT * FROM tbl LIMIT 12345
SELECT * FROM tbl LIMIT 0,1
SELECT *  FROM tbl LIMIT 5 OFFSET 2
SELECT *  FROM tbl LIMIT 2 OFFSET 1000
SELECT * FROM TBL LIMIT 1000, 18446744073709551615
/* app:36 */ SELECT * FROM TBL LIMIT 12345, 18446744073709551615
/* app:8 */ SELECT A, COUNT(B) FROM TEST_TABLE GROUP BY A ORDER BY NULL
select year, SUM(profit) AS profit from sales group by year WITH ROLLUP
SELECT year, country, product, SUM(profit) AS profit FROM sales GROUP BY year, country, product WITH ROLLUP
/* app:36 */ SELECT CONCAT(last_name,', ',first_name) AS full_name FROM mytable ORDER BY full_name
SELECT t1.name, t2.salary FROM employee AS t1, info AS t2 WHERE t1.name = t2.name
select college, region, seed from tournament order by region, seed
SELECT college, region AS r, seed AS s FROM tournament ORDER BY r, s
select * from t1 where a = 42 FOR UPDATE
SELECT * FROM T1 WHERE A = 88463 FOR UPDATE
SELECT *  FROM t1   WHERE a = 99 LOCK IN SHARE MODE
SELECT *  FROM t1   WHERE a = 12345 LOCK IN SHARE MODE
select SQL_CALC_FOUND_ROWS * from tbl_name where id > 100 limit 1000
SELECT SQL_CALC_FOUND_ROWS * FROM tbl_name WHERE id > 0 LIMIT 5
SELECT FOUND_ROWS()
SELECT * FROM t WHERE c = 0x4D7953514C
SELECT * FROM t WHERE c = X'4D7953514C'
SELECT * FROM t WHERE b = b'1010'
SELECT * FROM t WHERE b = 0b1010 -- req 243
select * from t where f = -0.75
SELECT _utf8mb4'some text' COLLATE utf8mb4_danish_ci
SELECT "double quoted" FROM t WHERE name = "bob"
SELECT 'It''s', 'It\'s', "say \"hi\"" FROM t
/* app:26 */ SELECT /*!40001 SQL_NO_CACHE */ * FROM t WHERE id = 12345
select /*!40001 SQL_NO_CACHE */ * from t where id = 99
SELECT /*!40001 SQL_NO_CACHE */ * FROM T WHERE ID = 42 -- req 25
select * from t where id = 3253
SET /*!50002 GLOBAL */ max_connections = 42
SET /*!50002 GLOBAL */ max_connections = 42
SET GLOBAL max_connections = 2
SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t1 WHERE a = 89389
SELECT *  FROM T1 # A COMMENT
SELECT * FROM t1 WHERE a = 100 AND b IS NULL -- req 701
SELECT * FROM t1 WHERE a = 71203 AND b = NULL
SELECT * FROM t1 WHERE a = 18 AND b = NULL
select * from t1 where a = TRUE -- req 924
SELECT * FROM t1 WHERE a = FALSE
SELECT * FROM t1 WHERE a IN ('O''Reilly', 'red')
SELECT * FROM t1 WHERE a NOT IN (2, 18, 100) -- req 231
SELECT * FROM t1 WHERE (a, b) IN ((1, 2), (3, 4))
SELECT * FROM users_2009 WHERE id = 0 -- req 978
SELECT * FROM USERS_2010 WHERE ID = 12345 -- req 373
SELECT * FROM users_2010 WHERE id = 12345
/* app:35 */ SELECT * FROM logs_202401 WHERE created_at > 'black'
SELECT * FROM logs_202401 WHERE created_at > 'x'
SELECT * FROM logs_202402 WHERE created_at > 'carol'
SELECT MD5(name), SHA2(name, 256) FROM t2 WHERE id = 18
SELECT id FROM t ORDER BY a ASC, b DESC
SELECT id FROM t ORDER BY a, b DESC
SELECT id FROM t ORDER BY a ASC
SELECT id FROM t ORDER BY a
INSERT INTO t (a, b, c) VALUES (1, 5, 5)
INSERT INTO t VALUE (2, 1000, 100)
INSERT INTO T VALUE (1000, 99, 1000)
INSERT T (A, B, C) VALUES (1, 100, 80618)
INSERT T (A, B, C) VALUES (100, 12345, 7)
INSERT IGNORE INTO t (a, b) VALUES (99,2),(5,18)
INSERT IGNORE INTO T (A, B) VALUES (42,42),(5,18)
INSERT INTO t (a, b) VALUES (42,1)
INSERT INTO t (a, b) VALUES (5,1000),(100,2),(1000,100)
REPLACE INTO t (a, b) values (2,2),(1,0)
INSERT INTO t (a, b) VALUES (97321, 0) ON DUPLICATE KEY UPDATE b = b + 1
INSERT INTO t (a, b) VALUES (100, 2), (2, 0) ON DUPLICATE KEY UPDATE b = b + 1
INSERT INTO t (a, b) VALUES (5, 7), (42, 2) ON DUPLICATE KEY UPDATE b = b + 1
INSERT INTO t (a, b) VALUES (5, 1) AS new ON DUPLICATE KEY UPDATE b = new.b -- req 411
INSERT INTO t (a, b) VALUES (18, 1000) AS new ON DUPLICATE KEY UPDATE b = new.b
INSERT INTO t2 (a, b) SELECT a, b FROM t1 WHERE c > 5
INSERT INTO t2 (a, b) SELECT a, b  FROM t1   WHERE c > 42
/* app:42 */ INSERT INTO tbl_temp2 (fld_id) SELECT tbl_temp1.fld_order_id FROM tbl_temp1 WHERE tbl_temp1.fld_order_id > 18
INSERT INTO tbl_temp2 (fld_id) SELECT tbl_temp1.fld_order_id FROM tbl_temp1 WHERE tbl_temp1.fld_order_id > 1000
INSERT INTO t SET a = 12345, b = 'x'
UPDATE t1 SET col1 = col1 + 1
UPDATE t1 SET col1 = col1 + 1, col2 = col1
UPDATE t SET id = id + 1 ORDER BY id DESC
UPDATE items,month SET items.price=month.price WHERE items.id=month.id
UPDATE t SET a = 99   WHERE id IN (7, 12345, 99, 42, 38297, 1000, 0) LIMIT 0
UPDATE t SET a = 18 WHERE id IN (18, 99, 1, 0, 7, 42) LIMIT 7
DELETE FROM somelog WHERE user = 'alice' ORDER BY timestamp_column LIMIT 1
DELETE from somelog where user = 'O''Reilly' order by timestamp_column limit 1
DELETE t1, t2 FROM t1 INNER JOIN t2 INNER JOIN t3 WHERE t1.id=t2.id AND t2.id=t3.id -- req 609
DELETE FROM t1 WHERE id IN (99, 7)
CALL p(18, 'bob')
CALL p(100, 'red')
CALL DB.PROC_NAME()
CALL PROC_COUNTER(@OUT, 99)
CALL proc_counter(@out, 0) -- req 390
/* app:89 */ USE TEST
USE `production`
USE db1
SHOW TABLES
SHOW FULL PROCESSLIST
SHOW GLOBAL STATUS LIKE 'alice'
SHOW VARIABLES LIKE 'max_connections'
/* app:47 */ SHOW CREATE TABLE t1
SHOW INDEX FROM t1 -- req 870
SHOW ENGINE INNODB STATUS
/* app:8 */ SET NAMES UTF8MB4
SET AUTOCOMMIT = 12345
SET SESSION sql_mode = 'carol'
SET @x = 7
/* app:51 */ SET @x = 18
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
EXPLAIN SELECT * FROM t1 WHERE a = 1
EXPLAIN FORMAT=JSON SELECT * FROM t1 WHERE a = 1000
EXPLAIN FORMAT=JSON SELECT * FROM t1 WHERE a = 5
DESCRIBE t1
CREATE TABLE t1 (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL DEFAULT '', KEY name_idx (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
CREATE TABLE IF NOT EXISTS t2 LIKE t1
ALTER TABLE T1 ADD COLUMN C INT DEFAULT 93909
ALTER TABLE t1 DROP COLUMN c
/* app:24 */ ALTER TABLE t1 ADD INDEX idx_c (c)
DROP TABLE IF EXISTS t2
TRUNCATE TABLE t1
CREATE DATABASE IF NOT EXISTS app
GRANT SELECT ON app.* TO 'reader'@'%'
CREATE USER 'app'@'%' IDENTIFIED BY 'dave' -- req 867
ALTER USER 'app'@'%' IDENTIFIED BY 'blond'
ALTER USER 'app'@'%' IDENTIFIED BY 'dave'
/* app:37 */ SELECT JSON_EXTRACT(doc, '$.name') FROM docs WHERE id = 42
SELECT doc->>'$.name' FROM docs WHERE id = 18
SELECT doc->>'$.name' FROM docs WHERE id = 18
SELECT * FROM docs WHERE JSON_CONTAINS(tags, 'blond')
SELECT *  FROM docs   WHERE JSON_CONTAINS(tags, 'alice')
WITH cte AS (SELECT a, b FROM t1 WHERE c = 7) SELECT * FROM cte WHERE a > 12345
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 99) SELECT * FROM seq
WITH RECURSIVE seq (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1) SELECT * FROM seq
SELECT val, ROW_NUMBER() OVER w AS 'row_number', RANK() OVER w AS 'rank' FROM numbers WINDOW w AS (ORDER BY val)
SELECT YEAR, COUNTRY, PRODUCT, PROFIT, SUM(PROFIT) OVER(PARTITION BY COUNTRY) AS COUNTRY_PROFIT FROM SALES ORDER BY COUNTRY, YEAR, PRODUCT, PROFIT
select a, b, c from t1 where a > 1 and b < 42 and c BETWEEN 42 and 5
/* app:58 */ SELECT a FROM t1 WHERE a > 1.5
SELECT a  FROM t1   WHERE a > 1.0E-2
select a from t1 where a > -18
select a from t1 where a > -0
SELECT a FROM t1 WHERE a > - 100
SELECT a FROM t1 WHERE a = 1e10
SELECT a FROM t1 WHERE a = .5
SELECT a + 12345 FROM t1
SELECT A + 7 FROM T1
SELECT DATE_FORMAT(created, '%Y-%m') AS m, COUNT(*) FROM orders WHERE created >= 'carol' GROUP BY m
SELECT * FROM orders WHERE created BETWEEN '2024-01-05' AND 'carol' ORDER BY created DESC LIMIT 1
SELECT * FROM orders WHERE created BETWEEN 'O''Reilly' AND 'alice' ORDER BY created DESC LIMIT 2
SELECT o.id, c.name  FROM orders o STRAIGHT_JOIN customers c ON c.id = o.customer_id   WHERE o.total > .5
/* app:59 */ SELECT o.id, c.name FROM orders o STRAIGHT_JOIN customers c ON c.id = o.customer_id WHERE o.total > 1.5
SELECT id FROM t FORCE INDEX (idx_a) WHERE a = 46828
SELECT HIGH_PRIORITY id FROM t WHERE a = 18
SELECT COUNT(DISTINCT A)  FROM T GROUP BY B HAVING COUNT(*) > 100
SELECT COUNT(DISTINCT a) FROM t GROUP BY b HAVING COUNT(*) > 32821
SELECT a, GROUP_CONCAT(b ORDER BY b ASC SEPARATOR ',')  FROM t GROUP BY a
select CASE WHEN a > 18 THEN 'big' ELSE 'small' END from t
/* app:12 */ SELECT IF(a > 2, 1, 0), IFNULL(b, 20788), COALESCE(c, d, 'brown') FROM t
SELECT IF(a > 99, 1, 0), IFNULL(b, 1), COALESCE(c, d, 'dave')  FROM t
SELECT * FROM t WHERE name REGEXP '^[a-d]'
SELECT * FROM t WHERE MATCH (title, body) AGAINST ('ab%' IN NATURAL LANGUAGE MODE)
/* app:62 */ SELECT * FROM t WHERE MATCH (title, body) AGAINST ('O''Reilly' IN NATURAL LANGUAGE MODE)
LOAD DATA INFILE '/tmp/data.txt' INTO TABLE t1 FIELDS TERMINATED BY ','
SELECT * INTO OUTFILE '/tmp/result.txt' FROM t1
/* app:48 */ HANDLER t1 OPEN
DO SLEEP(12345)
DO SLEEP(2)
/* app:38 */ SELECT SLEEP(0)
KILL 99
XA START 'xatest'
/* app:92 */ PREPARE stmt1 FROM 'SELECT SQRT(POW(?,2) + POW(?,2)) AS hypotenuse'
EXECUTE stmt1 USING @a, @b -- req 128
DEALLOCATE PREPARE stmt1
