//! Staging and scratch databases that crashed or killed restores and drills
//! left behind: how they are named, and finding and dropping them.
//!
//! Every such database is named `covet_<kind>_<unix seconds>_<random>`.
//! One counts as abandoned, and is dropped, only when both hold:
//!
//! - it was created more than [`LEFTOVER_AFTER`] ago (by the time in its
//!   name), which covers the moments a live run has no session on it (after
//!   `CREATE DATABASE`, between a drill's restore and its comparison);
//! - no session uses it (`pg_stat_activity` on PostgreSQL, where the drop
//!   is also a plain `DROP DATABASE`, which the server refuses while anyone
//!   is connected; `information_schema.PROCESSLIST` on MySQL). A live
//!   restore or drill keeps a session on its database while it loads.
//!
//! `covet_old_*` databases hold the tables a MySQL restore replaced, kept
//! only between its swap and its clean-up: they are reported, never dropped,
//! since they may be the only copy of that data. Names of older versions
//! (without the time) are reported too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use covet_core::{DatabaseUrl, Engine, Statement, Value};

use crate::error::{BackupError, Result};
use crate::restore::Connector;

/// How old an unused staging or scratch database must be to count as
/// abandoned.
pub(crate) const LEFTOVER_AFTER: Duration = Duration::from_secs(15 * 60);

/// How old a drill's scratch SQLite file must be to count as abandoned
/// (files show no sessions, so only age tells).
pub(crate) const SQLITE_LEFTOVER_AFTER: Duration = Duration::from_secs(24 * 3600);

pub(crate) const STAGE_PREFIX: &str = "covet_stage_";
pub(crate) const OLD_PREFIX: &str = "covet_old_";
pub(crate) const DRILL_PREFIX: &str = "covet_drill_";

/// `<unix seconds>_<random hex>`: when and by whom, for the names above.
pub(crate) fn leftover_suffix() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs}_{}", crate::crypto::hex(&rand::random::<[u8; 5]>()))
}

/// The creation time a leftover name records, if it has one.
fn created_secs(name: &str) -> Option<u64> {
    let rest = [STAGE_PREFIX, OLD_PREFIX, DRILL_PREFIX]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    let (secs, rand) = rest.split_once('_')?;
    if rand.is_empty() || !rand.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    secs.parse().ok()
}

fn old_enough(name: &str, min_age: Duration) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    created_secs(name).is_some_and(|t| now.saturating_sub(t) >= min_age.as_secs())
}

/// What a look for leftovers found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Leftovers {
    /// Abandoned databases (or SQLite files) that were dropped.
    pub dropped: Vec<String>,
    /// Leftovers found and kept, each with why.
    pub kept: Vec<String>,
}

fn db_err(context: &str, e: covet_core::Error) -> BackupError {
    BackupError::Database(e.context(context.to_owned()))
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Finds the staging and scratch databases on `server`'s server (or, for
/// SQLite, the drill files in the temporary directory) that crashed runs
/// left, drops the abandoned ones and reports the rest (see the module's
/// rule, which never drops a database a running restore or drill uses).
pub async fn clean_leftovers(connector: &dyn Connector, server: &DatabaseUrl) -> Result<Leftovers> {
    clean_leftovers_older_than(connector, server, LEFTOVER_AFTER, SQLITE_LEFTOVER_AFTER).await
}

pub(crate) async fn clean_leftovers_older_than(
    connector: &dyn Connector,
    server: &DatabaseUrl,
    min_age: Duration,
    sqlite_min_age: Duration,
) -> Result<Leftovers> {
    let mut out = Leftovers::default();
    let (admin_db, list_sql, sessions_sql) = match server.engine() {
        Engine::Postgres => (
            "postgres",
            "SELECT datname FROM pg_database WHERE datname LIKE 'covet\\_%' ORDER BY 1",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
        ),
        Engine::MySql => (
            "information_schema",
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'covet\\_%' ORDER BY 1",
            "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = ?",
        ),
        Engine::Sqlite => {
            clean_sqlite_files(&std::env::temp_dir(), sqlite_min_age, &mut out);
            return Ok(out);
        }
        _ => return Ok(out),
    };
    let admin = connector
        .connect(&server.with_database(admin_db))
        .await
        .map_err(|e| db_err("connecting to look for leftover databases", e))?;
    let r = async {
        let rows = admin
            .query(&Statement::new(list_sql))
            .await
            .map_err(|e| db_err("listing databases", e))?;
        for name in rows.rows.iter().filter_map(|r| text(r.value(0).ok())) {
            let is_scratch = name.starts_with(STAGE_PREFIX) || name.starts_with(DRILL_PREFIX);
            if name.starts_with(OLD_PREFIX) {
                out.kept.push(format!(
                    "{name} (tables a MySQL restore replaced; drop it when they are not needed)"
                ));
                continue;
            }
            if !is_scratch {
                continue;
            }
            if created_secs(&name).is_none() {
                out.kept.push(format!("{name} (made by an older version: drop it by hand)"));
                continue;
            }
            if !old_enough(&name, min_age) {
                continue;
            }
            let sessions = admin
                .query(&Statement::new(sessions_sql).bind(name.clone()))
                .await
                .map_err(|e| db_err("counting sessions", e))?;
            let n = sessions
                .rows
                .first()
                .and_then(|r| match r.value(0).ok() {
                    Some(Value::I64(n)) => Some(*n),
                    Some(Value::I32(n)) => Some(i64::from(*n)),
                    Some(Value::Decimal(d)) => d.to_string().parse().ok(),
                    _ => None,
                })
                .unwrap_or(1);
            if n > 0 {
                continue;
            }
            let d = server.engine().dialect();
            // Never WITH (FORCE): a session that appeared meanwhile makes
            // PostgreSQL refuse, which is what we want.
            match admin
                .execute(&Statement::new(format!(
                    "DROP DATABASE IF EXISTS {}",
                    d.quote_ident(&name)
                )))
                .await
            {
                Ok(_) => {
                    tracing::warn!(database = %name, "dropped a database an interrupted restore or drill left");
                    out.dropped.push(name);
                }
                Err(e) => out.kept.push(format!("{name} (could not drop: {})", e.message())),
            }
        }
        Ok(())
    }
    .await;
    admin.close().await;
    r.map(|()| out)
}

fn clean_sqlite_files(dir: &std::path::Path, min_age: Duration, out: &mut Leftovers) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for ent in rd.flatten() {
        let fname = ent.file_name().to_string_lossy().into_owned();
        let Some(base) = fname
            .strip_suffix(".db")
            .or_else(|| fname.strip_suffix(".db-wal"))
            .or_else(|| fname.strip_suffix(".db-shm"))
            .or_else(|| fname.strip_suffix(".db-journal"))
        else {
            continue;
        };
        if !base.starts_with(DRILL_PREFIX) || created_secs(base).is_none() {
            continue;
        }
        let age = ent
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if age >= min_age && old_enough(base, min_age) && std::fs::remove_file(ent.path()).is_ok() {
            out.dropped.push(fname);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_creation_time() {
        let s = leftover_suffix();
        let name = format!("{STAGE_PREFIX}{s}");
        assert!(created_secs(&name).is_some());
        assert!(!old_enough(&name, Duration::from_secs(60)));
        assert!(old_enough(&name, Duration::ZERO));
        assert!(old_enough("covet_drill_1000_ab", LEFTOVER_AFTER));
        assert_eq!(created_secs("covet_stage_deadbeef"), None);
        assert_eq!(created_secs("covet_stage_12_"), None);
        assert_eq!(created_secs("other_12_ab"), None);
    }
}
