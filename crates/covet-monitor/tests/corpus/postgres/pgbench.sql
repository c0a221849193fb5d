-- Generated from templates (see README.md); one statement per line.
UPDATE pgbench_accounts SET abalance = abalance + 18   WHERE aid = 5
UPDATE PGBENCH_ACCOUNTS SET ABALANCE = ABALANCE + 100 WHERE AID = 18
UPDATE pgbench_accounts SET abalance = abalance + 18 WHERE aid = 1
UPDATE PGBENCH_ACCOUNTS SET ABALANCE = ABALANCE + 23745 WHERE AID = 1000
/* app:21 */ UPDATE pgbench_accounts set abalance = abalance + 5 where aid = 1000
UPDATE PGBENCH_ACCOUNTS SET ABALANCE = ABALANCE + 0 WHERE AID = 75105
UPDATE pgbench_accounts set abalance = abalance + 1000 where aid = 5
SELECT abalance  FROM pgbench_accounts   WHERE aid = 0
SELECT ABALANCE FROM PGBENCH_ACCOUNTS WHERE AID = 5
SELECT ABALANCE FROM PGBENCH_ACCOUNTS WHERE AID = 99
SELECT abalance  FROM pgbench_accounts   WHERE aid = 5
/* app:16 */ SELECT abalance FROM pgbench_accounts WHERE aid = 18
UPDATE pgbench_tellers SET tbalance = tbalance + 1000 WHERE tid = 18
UPDATE PGBENCH_TELLERS SET TBALANCE = TBALANCE + 12345 WHERE TID = 12345 -- req 755
UPDATE pgbench_tellers SET tbalance = tbalance + 12345   WHERE tid = 1000
/* app:36 */ UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 7
UPDATE PGBENCH_BRANCHES SET BBALANCE = BBALANCE + 2 WHERE BID = 42
UPDATE pgbench_branches SET bbalance = bbalance + 7 WHERE bid = 12345
UPDATE PGBENCH_BRANCHES SET BBALANCE = BBALANCE + 1 WHERE BID = 12345
UPDATE pgbench_branches SET bbalance = bbalance + 18 WHERE bid = 7
UPDATE pgbench_branches SET bbalance = bbalance + 55472 WHERE bid = 1 -- req 431
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 12345, 12345, 12345, CURRENT_TIMESTAMP)
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (100, 5, 100, 5, CURRENT_TIMESTAMP)
INSERT INTO PGBENCH_HISTORY (TID, BID, AID, DELTA, MTIME) VALUES (0, 99, 1000, 100, CURRENT_TIMESTAMP)
INSERT INTO PGBENCH_HISTORY (TID, BID, AID, DELTA, MTIME) VALUES (18, 99, 0, 100, CURRENT_TIMESTAMP)
UPDATE pgbench_accounts set abalance = abalance - 7 where aid = 4349
UPDATE pgbench_accounts SET abalance = abalance - 99 WHERE aid = 12345
UPDATE pgbench_accounts SET abalance = abalance - 1   WHERE aid = 7
UPDATE pgbench_accounts set abalance = abalance - 33915 where aid = 18
select count(*) from pgbench_branches
SELECT sum(abalance) FROM pgbench_accounts WHERE bid = 42
SELECT SUM(ABALANCE) FROM PGBENCH_ACCOUNTS WHERE BID = 7
/* app:6 */ SELECT SUM(ABALANCE) FROM PGBENCH_ACCOUNTS WHERE BID = 26062
SELECT sum(abalance) FROM pgbench_accounts WHERE bid = 1 -- req 969
SELECT aid, abalance FROM pgbench_accounts WHERE aid IN (100, 99, 91218)
SELECT aid, abalance FROM pgbench_accounts WHERE aid IN (12345, 18, 0, 1, 1, 42, 100) -- req 779
SELECT aid, abalance FROM pgbench_accounts WHERE aid IN (1000, 0, 18, 0, 5, 1000, 100, 1000)
SELECT AID, ABALANCE FROM PGBENCH_ACCOUNTS WHERE AID IN (12345, 1, 7) -- req 967
select * from pgbench_history order by mtime DESC limit 1000
select * from pgbench_history order by mtime DESC limit 1
SELECT * FROM PGBENCH_HISTORY ORDER BY MTIME DESC LIMIT 99
select * from pgbench_history order by mtime DESC limit 12345
