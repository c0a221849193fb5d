//! Tables and data, written with plain SQL per engine through a covet
//! adapter of its own (never one of the arms' connections).

use std::sync::Arc;

use covet_core::{Adapter, Statement};

use crate::{Eng as Engine, Res};

/// The diesel_bench tables plus the standard workload's users and posts.
pub(crate) fn create_tables(engine: Engine) -> Vec<&'static str> {
    match engine {
        Engine::Pg => vec![
            "CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, hair_color VARCHAR)",
            "CREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR NOT NULL, body TEXT)",
            "CREATE INDEX posts_user_id_idx ON posts (user_id)",
            "CREATE TABLE comments (id SERIAL PRIMARY KEY, post_id INTEGER NOT NULL, text TEXT NOT NULL)",
            "CREATE INDEX comments_post_id_idx ON comments (post_id)",
            "CREATE TABLE std_users (id BIGSERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, hair_color VARCHAR(50), created_at TIMESTAMP NOT NULL)",
            "CREATE INDEX std_users_age_idx ON std_users (age)",
            "CREATE TABLE std_posts (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL, body TEXT, created_at TIMESTAMP NOT NULL)",
            "CREATE INDEX std_posts_user_id_idx ON std_posts (user_id)",
        ],
        Engine::My => vec![
            "CREATE TABLE users (id INTEGER AUTO_INCREMENT PRIMARY KEY, name VARCHAR(255) NOT NULL, hair_color VARCHAR(255))",
            "CREATE TABLE posts (id INTEGER AUTO_INCREMENT PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(255) NOT NULL, body TEXT, INDEX posts_user_id_idx (user_id))",
            "CREATE TABLE comments (id INTEGER AUTO_INCREMENT PRIMARY KEY, post_id INTEGER NOT NULL, text TEXT NOT NULL, INDEX comments_post_id_idx (post_id))",
            "CREATE TABLE std_users (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, hair_color VARCHAR(50), created_at DATETIME NOT NULL, INDEX std_users_age_idx (age))",
            "CREATE TABLE std_posts (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL, title VARCHAR(200) NOT NULL, body TEXT, created_at DATETIME NOT NULL, INDEX std_posts_user_id_idx (user_id))",
        ],
        Engine::Lite => vec![
            "PRAGMA journal_mode = wal",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT)",
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title TEXT NOT NULL, body TEXT)",
            "CREATE INDEX posts_user_id_idx ON posts (user_id)",
            "CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL, text TEXT NOT NULL)",
            "CREATE INDEX comments_post_id_idx ON comments (post_id)",
            "CREATE TABLE std_users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, hair_color VARCHAR(50), created_at TIMESTAMP NOT NULL)",
            "CREATE INDEX std_users_age_idx ON std_users (age)",
            "CREATE TABLE std_posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, title VARCHAR(200) NOT NULL, body TEXT, created_at TIMESTAMP NOT NULL)",
            "CREATE INDEX std_posts_user_id_idx ON std_posts (user_id)",
        ],
    }
}

/// Builds the data statements for one engine.
pub(crate) struct Sql {
    engine: Engine,
}

impl Sql {
    pub(crate) fn new(engine: Engine) -> Self {
        Self { engine }
    }

    /// `a || b || ...` in the engine's spelling.
    fn cat(&self, parts: &[&str]) -> String {
        match self.engine {
            Engine::My => format!("CONCAT({})", parts.join(", ")),
            _ => parts.join(" || "),
        }
    }

    /// `INSERT INTO table (cols) SELECT exprs FROM 1..=n AS i`.
    fn fill(&self, table: &str, cols: &str, exprs: &str, n: usize) -> String {
        match self.engine {
            Engine::Pg => format!(
                "INSERT INTO {table} ({cols}) SELECT {exprs} FROM generate_series(1, {n}) AS s(i)"
            ),
            _ => format!(
                "INSERT INTO {table} ({cols}) WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT {exprs} FROM s"
            ),
        }
    }

    /// Empties every table and restarts the generated keys at 1.
    pub(crate) fn reset(&self) -> Vec<String> {
        const TABLES: [&str; 5] = ["users", "posts", "comments", "std_users", "std_posts"];
        match self.engine {
            Engine::Pg => {
                vec![format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", "))]
            }
            Engine::My => TABLES
                .iter()
                .map(|t| format!("TRUNCATE TABLE {t}"))
                .collect(),
            Engine::Lite => TABLES.iter().map(|t| format!("DELETE FROM {t}")).collect(),
        }
    }

    /// `n` users named `User {i}` (ids 1..=n); black for even ids and
    /// brown for odd ones when `colored`, else NULL.
    pub(crate) fn users(&self, n: usize, colored: bool) -> String {
        let color = if colored {
            "CASE WHEN i % 2 = 0 THEN 'black' ELSE 'brown' END"
        } else {
            "NULL"
        };
        let name = self.cat(&["'User '", "i"]);
        self.fill(
            "users",
            "id, name, hair_color",
            &format!("i, {name}, {color}"),
            n,
        )
    }

    /// `per` posts for each of users 1..=users (ids 1.., user ids in order).
    pub(crate) fn posts(&self, users: usize, per: usize) -> String {
        let title = self.cat(&["'Post '", "i"]);
        let body = self.cat(&["'Body of post '", "i"]);
        self.fill(
            "posts",
            "id, user_id, title, body",
            &format!("i, 1 + (i - 1) / {per}, {title}, {body}"),
            users * per,
        )
    }

    /// `per` comments for each of posts 1..=posts.
    pub(crate) fn comments(&self, posts: usize, per: usize) -> String {
        let text = self.cat(&["'Comment '", "i"]);
        self.fill(
            "comments",
            "id, post_id, text",
            &format!("i, 1 + (i - 1) / {per}, {text}"),
            posts * per,
        )
    }

    /// The standard workload's users: age in 10..=80, every 5th without
    /// a hair colour, the rest black/brown/blond/red.
    pub(crate) fn std_users(&self, n: usize) -> String {
        let name = self.cat(&["'user '", "i"]);
        let email = self.cat(&["'user'", "i", "'@example.com'"]);
        let (color, ts) = match self.engine {
            Engine::Pg => (
                "CASE WHEN i % 5 = 0 THEN NULL ELSE (ARRAY['black', 'brown', 'blond', 'red'])[1 + i % 4] END",
                "timestamp '2024-01-01' + i * interval '1 minute'",
            ),
            Engine::My => (
                "CASE WHEN i % 5 = 0 THEN NULL ELSE ELT(1 + i % 4, 'black', 'brown', 'blond', 'red') END",
                "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL i MINUTE",
            ),
            Engine::Lite => (
                "CASE WHEN i % 5 = 0 THEN NULL ELSE CASE i % 4 WHEN 0 THEN 'black' WHEN 1 THEN 'brown' WHEN 2 THEN 'blond' ELSE 'red' END END",
                "datetime('2024-01-01', '+' || i || ' minutes')",
            ),
        };
        self.fill(
            "std_users",
            "id, name, email, age, hair_color, created_at",
            &format!("i, {name}, {email}, 10 + (i * 7919) % 71, {color}, {ts}"),
            n,
        )
    }

    /// `n` standard posts with bodies of 200..2,000 bytes, authors spread
    /// over users 1..=users.
    pub(crate) fn std_posts(&self, n: usize, users: usize) -> String {
        let title = self.cat(&["'post '", "i"]);
        let (body, ts) = match self.engine {
            Engine::Pg => (
                "repeat('lorem ipsum ', (200 + (i * 37) % 1800) / 12)",
                "timestamp '2024-02-01' + i * interval '1 minute'",
            ),
            Engine::My => (
                "REPEAT('lorem ipsum ', (200 + (i * 37) % 1800) DIV 12)",
                "TIMESTAMP '2024-02-01 00:00:00' + INTERVAL i MINUTE",
            ),
            Engine::Lite => (
                "replace(hex(zeroblob((200 + (i * 37) % 1800) / 2)), '00', 'ab')",
                "datetime('2024-02-01', '+' || i || ' minutes')",
            ),
        };
        self.fill(
            "std_posts",
            "id, user_id, title, body, created_at",
            &format!("i, 1 + (i * 7) % {users}, {title}, {body}, {ts}"),
            n,
        )
    }

    /// After rows were written with explicit ids, PostgreSQL's sequences
    /// must move past them (MySQL and SQLite follow the largest id).
    pub(crate) fn sync_keys(&self) -> Vec<String> {
        if self.engine != Engine::Pg {
            return Vec::new();
        }
        ["users", "posts", "comments", "std_users", "std_posts"]
            .iter()
            .map(|t| {
                format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {t}"
                )
            })
            .collect()
    }

    /// Statistics after a load, so every arm sees the same plans.
    pub(crate) fn analyze(&self) -> &'static str {
        match self.engine {
            Engine::Pg => "ANALYZE",
            Engine::My => "ANALYZE TABLE users, posts, comments, std_users, std_posts",
            Engine::Lite => "ANALYZE",
        }
    }
}

/// Runs statements one by one on the admin adapter.
pub(crate) async fn exec_all(admin: &Arc<dyn Adapter>, stmts: &[String]) -> Res<()> {
    for s in stmts {
        if s.starts_with("SELECT") || s.starts_with("ANALYZE TABLE") {
            admin.query(&Statement::new(s.as_str())).await?;
        } else {
            admin.execute(&Statement::new(s.as_str())).await?;
        }
    }
    Ok(())
}
