-- Generated from templates (see README.md); one statement per line.
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users`
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users` WHERE ((`age` >= ?) AND (`hair_color` IS NOT NULL)) AND (NOT ((`name` = ?) OR (`age` BETWEEN ? AND ?))) ORDER BY `age` DESC, `id` ASC LIMIT ? OFFSET ?
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at`  FROM `users`   WHERE ((`age` >= 18) AND (`hair_color` IS NOT NULL)) AND (NOT ((`name` = 'user 42') OR (`age` BETWEEN 7 AND 1000))) ORDER BY `age` DESC, `id` ASC LIMIT 0 OFFSET 1000
SELECT `id`, `name`, `email`, `age`, `hair_color`, `created_at` FROM `users` WHERE ((`age` >= 18) AND (`hair_color` IS NOT NULL)) AND (NOT ((`name` = '2024-01-05') OR (`age` BETWEEN 1 AND 42))) ORDER BY `age` DESC, `id` ASC LIMIT 100 OFFSET 5
SELECT `ID`, `NAME`, `EMAIL`, `AGE`, `HAIR_COLOR`, `CREATED_AT` FROM `USERS` WHERE NOT ((`ID` IN (18, 100, 18, 1000, 42, 12345)) AND (`NAME` <> `EMAIL`)) -- req 937
/* app:78 */ SELECT `ID`, `NAME`, `EMAIL`, `AGE`, `HAIR_COLOR`, `CREATED_AT` FROM `USERS` WHERE NOT ((`ID` IN (13018, 12345, 42, 7, 7)) AND (`NAME` <> `EMAIL`))
UPDATE `users` SET `age` = (`age` + 42) WHERE `age` > ((`age` - 2) * 42) -- req 581
UPDATE `users` SET `age` = (`age` + 1) WHERE `age` > ((`age` - 1000) * 18)
SELECT COUNT(*) FROM `users` WHERE `age` > 18
SELECT COUNT(*) FROM `users` WHERE `age` > 42
select COUNT(*) from (select 1 from `users` where `age` > 12345 limit 12345) AS `covet_count`
SELECT COUNT(*) FROM (SELECT 1 FROM `users` WHERE `age` > 18 LIMIT 18) AS `covet_count` -- req 202
UPDATE `users` SET `age` = 7, `hair_color` = 'blond'   WHERE `age` > 18
UPDATE `users` SET `age` = 1, `hair_color` = 'dave' WHERE `age` > 0
UPDATE `users` SET `age` = 42, `hair_color` = 'bob'   WHERE `age` > 12345
DELETE FROM `users` WHERE `age` > 1
DELETE FROM `users` WHERE `age` > 1
DELETE FROM `users` WHERE `age` > 7 -- req 869
SELECT COUNT(*) FROM (SELECT DISTINCT `post_id`, `tag_id` FROM `post_tags`) AS `covet_count`
INSERT INTO `users` (`name`, `email`, `age`, `hair_color`, `created_at`) VALUES ('user 42', 'user 42', 99, 'O''Reilly', 'ab%')
/* app:39 */ INSERT INTO `users` (`name`, `email`, `age`, `hair_color`, `created_at`) VALUES ('carol', '2024-01-05', 1000, 'alice', 'O''Reilly')
INSERT INTO `users` (`name`, `email`, `age`, `hair_color`, `created_at`) values ('%son', 'x', 79221, 'x', 'ab%')
INSERT INTO `POST_TAGS` (`POST_ID`, `TAG_ID`) VALUES (31030, 2)
INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES (99, 5)
UPDATE `users` SET `name` = 'hello world', `email` = 'O''Reilly', `age` = 99, `hair_color` = 'bob', `created_at` = 'alice' WHERE `id` = 5
UPDATE `users` SET `name` = '%son', `email` = 'O''Reilly', `age` = 100, `hair_color` = 'ab%', `created_at` = 'hello world' WHERE `id` = 99
UPDATE `users` SET `name` = 'dave', `email` = 'blond', `age` = 12345, `hair_color` = '%son', `created_at` = '%son' WHERE `id` = 100
DELETE FROM `post_tags` WHERE `post_id` = 7 AND `tag_id` = 2
DELETE FROM `post_tags` WHERE `post_id` = 2 AND `tag_id` = 16804
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) values ('2024-01-05', 'u1@example.com', 1000, NOW()), ('carol', 'u2@example.com', 5, NOW()), ('ab%', 'u3@example.com', 1000, NOW()), ('alice', 'u4@example.com', 100, NOW())
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('alice', 'u5@example.com', 12345, NOW()), ('%son', 'u6@example.com', 100, NOW()), ('alice', 'u7@example.com', 18, NOW()), ('black', 'u8@example.com', 100, NOW()) -- req 760
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('alice', 'u9@example.com', 7, NOW()), ('user 42', 'u10@example.com', 1000, NOW()) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('x', 'u11@example.com', 2, NOW()), ('alice', 'u12@example.com', 100, NOW()) ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
/* app:34 */ INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('bob', 'O''Reilly', 12345, 'O''Reilly') ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
/* app:18 */ INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('2024-01-05', 'brown', 99, 'user 42') ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
INSERT INTO `users` (`name`, `email`, `age`, `created_at`) VALUES ('carol', 'carol', 27994, 'dave') ON DUPLICATE KEY UPDATE `name` = VALUES(`name`), `age` = VALUES(`age`)
INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES (0,5),(99,1),(99,5),(5,1000) ON DUPLICATE KEY UPDATE `post_id` = `post_id`
INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES (99,5) ON DUPLICATE KEY UPDATE `post_id` = `post_id`
/* app:89 */ INSERT INTO `post_tags` (`post_id`, `tag_id`) VALUES (1000,1000),(12345,44012) ON DUPLICATE KEY UPDATE `post_id` = `post_id`
SELECT `t0`.`id`, `t0`.`user_id`, `t0`.`title`, `t1`.`id`, `t1`.`name`  FROM `posts` AS `t0` INNER JOIN `users` AS `t1` ON `t1`.`id` = `t0`.`user_id`   WHERE (`t0`.`title` LIKE 'x' ESCAPE '!') AND (`t0`.`user_id` IN (SELECT `id` FROM `users` WHERE `age` > 1000)) ORDER BY `t0`.`id` DESC LIMIT 5
SELECT `t0`.`id`, `t0`.`user_id`, `t0`.`title`, `t1`.`id`, `t1`.`name` FROM `posts` AS `t0` INNER JOIN `users` AS `t1` ON `t1`.`id` = `t0`.`user_id` WHERE (`t0`.`title` LIKE 'blond' ESCAPE '!') AND (`t0`.`user_id` IN (SELECT `id` FROM `users` WHERE `age` > 5)) ORDER BY `t0`.`id` DESC LIMIT 7
SELECT `id`, `post_id`, `text` FROM `comments` WHERE `post_id` IN (100, 0)
select `id`, `post_id`, `text` from `comments` where `post_id` IN (31806, 0, 1)
SELECT `id`, `post_id`, `text` FROM `comments` WHERE `post_id` IN (0, 100, 2, 100)
SELECT `post_id`, `tag_id`  FROM `post_tags`   WHERE `post_id` IN (18, 5, 99, 7, 99, 1, 5, 42)
SELECT `POST_ID`, `TAG_ID` FROM `POST_TAGS` WHERE `POST_ID` IN (61204, 100, 1000)
