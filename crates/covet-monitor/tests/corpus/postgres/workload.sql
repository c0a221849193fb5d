-- Generated from templates (see README.md); one statement per line.
SELECT id, name, email, age  FROM users   WHERE age > 18 LIMIT 100
/* app:85 */ SELECT id, name, email, age FROM users WHERE age > 7 LIMIT 100
select id, name, email, age from users where age > 18 limit 100
/* app:93 */ SELECT ID, NAME, EMAIL, AGE FROM USERS WHERE AGE > 12345 LIMIT 100
INSERT INTO users (name, email, age, created_at) VALUES ('brown', 'carol', 2, now())
INSERT INTO users (name, email, age, created_at) VALUES ('blond', 'red', 0, now())
INSERT INTO users (name, email, age, created_at) VALUES ('red', 'brown', 1000, now()) -- req 656
INSERT INTO users (name, email, age, created_at) VALUES ('blond', 'alice', 38620, now())
SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN 100 AND 2 + 99 GROUP BY u.id, u.name HAVING COUNT(p.id) > 10
SELECT U.ID, U.NAME, COUNT(P.ID) AS POST_COUNT FROM USERS U LEFT JOIN POSTS P ON P.USER_ID = U.ID WHERE U.ID BETWEEN 20012 AND 42 + 99 GROUP BY U.ID, U.NAME HAVING COUNT(P.ID) > 10
SELECT U.ID, U.NAME, COUNT(P.ID) AS POST_COUNT FROM USERS U LEFT JOIN POSTS P ON P.USER_ID = U.ID WHERE U.ID BETWEEN 18 AND 2 + 99 GROUP BY U.ID, U.NAME HAVING COUNT(P.ID) > 10
SELECT id, name, email, age FROM users WHERE id = 100
select id, name, email, age from users where id = 42 -- req 641
SELECT ID, NAME, EMAIL, AGE FROM USERS WHERE ID = 1000
SELECT id, name, hair_color FROM users -- req 597
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = 'x'
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body  FROM users u LEFT JOIN posts p ON p.user_id = u.id   WHERE u.hair_color = 'brown'
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = 'hello world'
/* app:51 */ SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT OUTER JOIN posts p ON p.user_id = u.id WHERE u.hair_color = 'O''Reilly'
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT OUTER JOIN posts p ON p.user_id = u.id WHERE u.hair_color = 'blond'
INSERT INTO users (name, email, age, created_at) VALUES ('carol', 'u1@example.com', 1, now()), ('bob', 'u2@example.com', 12345, now()), ('bob', 'u3@example.com', 99, now())
INSERT INTO users (name, email, age, created_at) VALUES ('brown', 'u4@example.com', 1000, now()), ('brown', 'u5@example.com', 1000, now()), ('O''Reilly', 'u6@example.com', 99, now()), ('bob', 'u7@example.com', 1, now())
INSERT INTO users (name, email, age, created_at) VALUES ('hello world', 'u8@example.com', 99, now()), ('black', 'u9@example.com', 42, now())
SELECT id, user_id, title, body  FROM posts   WHERE user_id IN (1, 100)
SELECT id, user_id, title, body FROM posts WHERE user_id IN (7, 2)
SELECT ID, USER_ID, TITLE, BODY FROM POSTS WHERE USER_ID IN (7, 100, 100, 0)
SELECT id, user_id, title, body  FROM posts   WHERE user_id IN (5, 42, 42, 99, 5)
SELECT ID, POST_ID, TEXT FROM COMMENTS WHERE POST_ID IN (7, 0, 99, 18, 1, 1, 18, 77111)
SELECT id, post_id, text FROM comments WHERE post_id IN (12345, 2, 42, 1000, 1000, 1)
SELECT id, post_id, text  FROM comments   WHERE post_id IN (0, 0, 99)
SELECT id, post_id, text FROM comments WHERE post_id IN (42, 99, 7, 7, 2, 42)
/* app:45 */ select p.id, p.title, u.name from posts p JOIN users u ON u.id = p.user_id order by p.id ASC limit 5
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT 100
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT 7
SELECT p.id, p.title, u.name  FROM posts p INNER JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 1000
/* app:4 */ SELECT p.id, p.title, u.name FROM posts p INNER JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 2
SELECT p.id, p.title, u.name FROM posts p INNER JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 34298
SELECT p.id, p.title, u.name  FROM posts p INNER JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 100
select * from posts where user_id = 100
select * from posts where user_id = 7
SELECT * FROM posts WHERE user_id = 0
SELECT * FROM POSTS WHERE USER_ID = 18 ORDER BY CREATED_AT DESC NULLS FIRST
SELECT *  FROM posts   WHERE user_id = 1000 ORDER BY created_at DESC NULLS FIRST
SELECT * FROM posts WHERE user_id = 0 ORDER BY created_at DESC NULLS FIRST -- req 399
SELECT * FROM posts WHERE user_id = 1 ORDER BY created_at DESC
SELECT * FROM POSTS WHERE USER_ID = 99 ORDER BY CREATED_AT DESC
/* app:87 */ SELECT t.name, count(*) FROM tags t JOIN post_tags pt ON pt.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC LIMIT 18
SELECT T.NAME, COUNT(*) FROM TAGS T JOIN POST_TAGS PT ON PT.TAG_ID = T.ID GROUP BY T.NAME ORDER BY COUNT(*) DESC LIMIT 99
SELECT t.name, count(*) FROM tags t JOIN post_tags pt ON pt.tag_id = t.id GROUP BY t.name ORDER BY count(*) DESC LIMIT 100
