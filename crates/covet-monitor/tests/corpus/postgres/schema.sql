-- The tables and functions the PostgreSQL corpus reads and writes: the
-- standard workload's schema, pgbench's, and the tables of the PostgreSQL
-- manual's examples (tutorial, SELECT, INSERT, UPDATE, DELETE pages).
CREATE TABLE users (id bigserial PRIMARY KEY, name varchar(100) NOT NULL, email varchar(255) NOT NULL UNIQUE, age int NOT NULL, hair_color varchar(50), created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE posts (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users(id), title varchar(200) NOT NULL, body text, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE comments (id bigserial PRIMARY KEY, post_id bigint NOT NULL REFERENCES posts(id), text text NOT NULL);
CREATE TABLE tags (id bigserial PRIMARY KEY, name varchar(50) NOT NULL UNIQUE);
CREATE TABLE post_tags (post_id bigint REFERENCES posts(id), tag_id bigint REFERENCES tags(id), PRIMARY KEY (post_id, tag_id));
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
CREATE TABLE weather (city varchar(80), temp_lo int, temp_hi int, prcp real, date date);
CREATE TABLE cities (name varchar(80), location point, population real, elevation int);
CREATE TABLE empsalary (depname text, empno bigint, salary int, enroll_date date);
CREATE TABLE films (code char(5), title varchar(40), did integer, date_prod date, kind varchar(10), len interval hour to minute, producer_id int);
CREATE TABLE tmp_films (LIKE films);
CREATE TABLE distributors (did serial PRIMARY KEY, name varchar(40), dname varchar(40), zipcode text);
CREATE TABLE actors (name text);
CREATE TABLE producers (id int, name text);
CREATE TABLE manufacturers (id int, name text);
CREATE TABLE employees (id int, sales_count int, first_name text, last_name text);
CREATE TABLE accounts (name text, sales_person int, contact_first_name text, contact_last_name text);
CREATE TABLE tasks (status text);
CREATE TABLE docs (id int, doc jsonb);
CREATE FUNCTION distributors_by_name(text) RETURNS SETOF distributors AS 'SELECT * FROM distributors WHERE name = $1' LANGUAGE sql;
CREATE FUNCTION get_product_names(int) RETURNS SETOF text AS 'SELECT name FROM producers WHERE id = $1' LANGUAGE sql;
