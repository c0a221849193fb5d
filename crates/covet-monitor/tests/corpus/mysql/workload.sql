-- Generated from templates (see README.md); one statement per line.
SELECT id, name, email, age FROM users WHERE age > 42 LIMIT 100
select id, name, email, age from users where age > 100 limit 100
select id, name, email, age from users where age > 7 limit 100
SELECT id, name, email, age FROM users WHERE age > 0 LIMIT 100
select id, name, email, age from users where age > ? limit 100
INSERT INTO users (name, email, age, created_at) VALUES ('hello world', '2024-01-05', 1000, NOW())
INSERT INTO users (name, email, age, created_at) VALUES ('%son', 'black', 1000, NOW())
/* app:77 */ INSERT INTO users (name, email, age, created_at) VALUES (?, ?, ?, ?)
SELECT U.ID, U.NAME, COUNT(P.ID) AS POST_COUNT FROM USERS U LEFT JOIN POSTS P ON P.USER_ID = U.ID WHERE U.ID BETWEEN 99 AND 25399 + 99 GROUP BY U.ID, U.NAME HAVING COUNT(P.ID) > 10
SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN 42 AND 32210 + 99 GROUP BY u.id, u.name HAVING COUNT(p.id) > 10
SELECT U.ID, U.NAME, COUNT(P.ID) AS POST_COUNT FROM USERS U LEFT JOIN POSTS P ON P.USER_ID = U.ID WHERE U.ID BETWEEN 0 AND 1000 + 99 GROUP BY U.ID, U.NAME HAVING COUNT(P.ID) > 10 -- req 720
select id, name, email, age from users where id = 5
/* app:65 */ SELECT id, name, email, age FROM users WHERE id = 1000
SELECT id, name, email, age  FROM users   WHERE id = 94771
SELECT id, name, email, age FROM users WHERE id = 0
SELECT ID, NAME, HAIR_COLOR  FROM USERS
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.hair_color = 'carol'
SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body  FROM users u LEFT JOIN posts p ON p.user_id = u.id   WHERE u.hair_color = 'red'
INSERT INTO users (name, hair_color) VALUES (12345,1)
INSERT INTO users (name, hair_color) VALUES (42,0)
INSERT INTO users (name, hair_color) VALUES (51095,96129),(7,0),(1,99)
INSERT INTO USERS (NAME, HAIR_COLOR) VALUES (42,42),(4894,7),(1000,18)
/* app:46 */ SELECT ID, USER_ID, TITLE, BODY FROM POSTS WHERE USER_ID IN (1000, 100, 100, 59856, 84239)
SELECT ID, USER_ID, TITLE, BODY FROM POSTS WHERE USER_ID IN (13316, 0) -- req 299
SELECT id, user_id, title, body  FROM posts   WHERE user_id IN (99)
SELECT ID, POST_ID, TEXT FROM COMMENTS WHERE POST_ID IN (18, 42, 12345, 2, 18, 0)
SELECT id, post_id, text FROM comments WHERE post_id IN (1000, 7, 0)
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT 0
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT 42
select p.id, p.title, u.name from posts p JOIN users u ON u.id = p.user_id order by p.id ASC limit 7
SELECT p.id, p.title, u.name  FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id ASC LIMIT 42
select p.id, p.title, u.name from posts p JOIN users u ON u.id = p.user_id order by p.id limit 7
SELECT p.id, p.title, u.name FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 12345
SELECT p.id, p.title, u.name  FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id LIMIT 70038
select p.id, p.title, u.name from posts p JOIN users u ON u.id = p.user_id order by p.id limit 28516
select * from posts where user_id = 7
SELECT * FROM posts WHERE user_id = 5
