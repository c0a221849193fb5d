//! Restore to a point in time: unpack a base backup, write the recovery
//! settings, and let PostgreSQL replay the archived WAL when it starts.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use covet_backup::object::ObjectReader;
use tokio::io::AsyncWriteExt;

use super::Repo;
use super::archive::{Entry, Event, Reader};
use super::base::{BaseManifest, list_base_backups};
use super::chain::{Coverage, WalIndex};
use super::wal::Lsn;
use crate::error::{PitrError, Result};

/// Where recovery stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryTarget {
    /// Just after the last commit at or before this time
    /// (`recovery_target_time`).
    Time(DateTime<Utc>),
    /// At this LSN (`recovery_target_lsn`).
    Lsn(Lsn),
    /// At a restore point made by `pg_create_restore_point`
    /// (`recovery_target_name`).
    Name(String),
    /// The end of the archived WAL.
    Latest,
}

impl RecoveryTarget {
    /// Parses a time as RFC 3339 (`2026-12-05T08:01:02.5Z`) or as
    /// PostgreSQL prints it (`2026-12-05 08:01:02.5+00`); a time without a
    /// zone is UTC.
    pub fn parse_time(s: &str) -> Result<RecoveryTarget> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(RecoveryTarget::Time(t.with_timezone(&Utc)));
        }
        for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
            if let Ok(t) = DateTime::parse_from_str(s, f) {
                return Ok(RecoveryTarget::Time(t.with_timezone(&Utc)));
            }
        }
        for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(RecoveryTarget::Time(t.and_utc()));
            }
        }
        Err(PitrError::Config(format!(
            "invalid time {s:?}: expected e.g. 2026-12-05T08:01:02Z or '2026-12-05 08:01:02.5+00'"
        )))
    }

    fn settings(&self) -> Vec<(&'static str, String)> {
        match self {
            RecoveryTarget::Time(t) => vec![(
                "recovery_target_time",
                t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
            )],
            RecoveryTarget::Lsn(l) => vec![("recovery_target_lsn", l.to_string())],
            RecoveryTarget::Name(n) => vec![("recovery_target_name", n.clone())],
            RecoveryTarget::Latest => vec![],
        }
    }
}

impl std::fmt::Display for RecoveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryTarget::Time(t) => write!(f, "time {}", t.format("%Y-%m-%d %H:%M:%S%.6f UTC")),
            RecoveryTarget::Lsn(l) => write!(f, "LSN {l}"),
            RecoveryTarget::Name(n) => write!(f, "restore point {n:?}"),
            RecoveryTarget::Latest => f.write_str("the latest archived WAL"),
        }
    }
}

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// An empty or missing directory to restore into.
    pub target_dir: PathBuf,
    /// Where recovery stops.
    pub target: RecoveryTarget,
    /// The `restore_command` the restored server runs, typically
    /// `covet pitr wal-fetch %f %p --repo ... --key-file ...`.
    pub restore_command: String,
    /// Further settings appended after the recovery settings (a port, say).
    pub extra_settings: Vec<(String, String)>,
    /// The timeline to recover along (`recovery_target_timeline`); `None`
    /// follows the newest timeline the repository holds, as `'latest'`.
    pub timeline: Option<u32>,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The base backup used.
    pub base: BaseManifest,
    /// What that base backup covers along the recovery's timeline path.
    pub coverage: Coverage,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

fn covered_list(covs: &[Coverage]) -> String {
    if covs.is_empty() {
        return "the repository holds no complete base backup".into();
    }
    let parts: Vec<String> = covs.iter().map(ToString::to_string).collect();
    format!("covered: {}", parts.join("; "))
}

/// Picks the base backup for `target` and checks that the archived WAL
/// covers it; [`PitrError::NotCovered`] lists what is covered otherwise.
pub(crate) async fn plan(
    repo: &Repo,
    target: &RecoveryTarget,
    timeline: Option<u32>,
) -> Result<(BaseManifest, Coverage)> {
    let bases = list_base_backups(repo).await?;
    let idx = WalIndex::load(repo, &bases).await?;
    let tli = timeline.unwrap_or_else(|| idx.latest_timeline(&bases));
    let mut covs = Vec::new();
    for b in &bases {
        let c = idx.coverage(b, tli)?;
        if c.on_path {
            covs.push((b, c));
        }
    }
    let not_covered = |covs: &[(&BaseManifest, Coverage)]| PitrError::NotCovered {
        target: target.to_string(),
        covered: covered_list(&covs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>()),
    };
    let usable: Vec<&(&BaseManifest, Coverage)> = covs.iter().filter(|(_, c)| c.usable()).collect();
    let pick = match target {
        RecoveryTarget::Time(t) => usable
            .iter()
            .rev()
            .find(|(b, _)| b.stop_time < *t)
            .filter(|(_, c)| c.to_time.is_some_and(|end| *t <= end)),
        RecoveryTarget::Lsn(l) => usable
            .iter()
            .rev()
            .find(|(b, _)| b.stop().is_ok_and(|s| s <= *l))
            .filter(|(_, c)| c.to_lsn.is_some_and(|end| *l <= end)),
        // Where a restore point lies is only known by replaying: the oldest
        // usable backup reaches every point any of them reaches.
        RecoveryTarget::Name(_) => usable.first(),
        RecoveryTarget::Latest => usable.last(),
    };
    match pick {
        Some((b, c)) => Ok(((*b).clone(), c.clone())),
        None => Err(not_covered(&covs)),
    }
}

/// Quotes a value for postgresql.conf.
fn conf_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// Restores to `opts.target`: picks the newest base backup whose stop
/// point is before the target (refusing a target the repository does not
/// cover), unpacks it into `opts.target_dir` (which must be empty or
/// missing; on failure what was written is removed), and writes the
/// recovery settings into `postgresql.auto.conf` (`restore_command`, the
/// target, `recovery_target_action = 'promote'`,
/// `recovery_target_timeline`, `'latest'` unless `opts.timeline` names
/// one) and `recovery.signal`. Starting
/// PostgreSQL on the directory then replays the WAL and promotes at the
/// target.
pub async fn restore(repo: &Repo, opts: &RestoreOptions) -> Result<RestoreReport> {
    let (base, coverage) = plan(repo, &opts.target, opts.timeline).await?;
    let dir = &opts.target_dir;
    let created = match std::fs::read_dir(dir) {
        Ok(mut rd) => {
            if rd.next().is_some() {
                return Err(PitrError::Config(format!(
                    "{} is not empty: restore into an empty or new directory",
                    dir.display()
                )));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| PitrError::io(format!("creating {}", dir.display()), e))?;
            true
        }
        Err(e) => return Err(PitrError::io(format!("reading {}", dir.display()), e)),
    };
    // PostgreSQL refuses a data directory others can read.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| PitrError::io(format!("setting the mode of {}", dir.display()), e))?;
    match write_all(repo, &base, opts).await {
        Ok((files, bytes)) => Ok(RestoreReport {
            base,
            coverage,
            files,
            bytes,
        }),
        Err(e) => {
            if created {
                let _ = std::fs::remove_dir_all(dir);
            } else if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let p = e.path();
                    let _ = if p.is_dir() && !p.is_symlink() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
            Err(e)
        }
    }
}

async fn write_all(repo: &Repo, base: &BaseManifest, opts: &RestoreOptions) -> Result<(u64, u64)> {
    let dir = &opts.target_dir;
    let (files, bytes) = unpack(repo, &base.archive, dir).await?;
    for sub in ["pg_wal", "pg_wal/archive_status"] {
        let p = dir.join(sub);
        if !p.exists() {
            std::fs::create_dir_all(&p)
                .map_err(|e| PitrError::io(format!("creating {}", p.display()), e))?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| PitrError::io(format!("setting the mode of {}", p.display()), e))?;
        }
    }
    let mut conf = format!(
        "\n# Written by covet pitr restore: base backup {}, recovery to {}.\n",
        base.name, opts.target
    );
    let mut settings: Vec<(String, String)> =
        vec![("restore_command".into(), opts.restore_command.clone())];
    settings.extend(
        opts.target
            .settings()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    );
    if opts.target != RecoveryTarget::Latest {
        settings.push(("recovery_target_action".into(), "promote".into()));
    }
    settings.push((
        "recovery_target_timeline".into(),
        opts.timeline
            .map_or_else(|| "latest".into(), |t| t.to_string()),
    ));
    settings.extend(opts.extra_settings.iter().cloned());
    for (k, v) in settings {
        conf.push_str(&format!("{k} = {}\n", conf_quote(&v)));
    }
    let auto = dir.join("postgresql.auto.conf");
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&auto)
        .await
        .map_err(|e| PitrError::io(format!("opening {}", auto.display()), e))?;
    f.write_all(conf.as_bytes())
        .await
        .map_err(|e| PitrError::io(format!("writing {}", auto.display()), e))?;
    f.sync_all()
        .await
        .map_err(|e| PitrError::io(format!("syncing {}", auto.display()), e))?;
    let signal = dir.join("recovery.signal");
    std::fs::write(&signal, b"")
        .map_err(|e| PitrError::io(format!("writing {}", signal.display()), e))?;
    Ok((files, bytes))
}

/// Unpacks an archive object into `dir`; its bytes are trusted only once
/// the object's end has authenticated, so the caller removes everything on
/// an error.
pub(crate) async fn unpack(repo: &Repo, name: &str, dir: &Path) -> Result<(u64, u64)> {
    let mut r = ObjectReader::open(repo.sink(), name, repo.key()).await?;
    let mut parser = Reader::default();
    let mut events = Vec::new();
    let mut cur: Option<(tokio::fs::File, PathBuf, u32)> = None;
    let (mut files, mut bytes) = (0u64, 0u64);
    // Directory modes are set at the end: a read-only directory would
    // refuse the files that go into it.
    let mut dir_modes = Vec::new();
    // Paths under a link the archive made would land outside `dir`.
    let mut links: Vec<String> = Vec::new();
    let through_link = |path: &str, links: &[String]| {
        links.iter().any(|l| {
            path.len() > l.len() && path.starts_with(l.as_str()) && path.as_bytes()[l.len()] == b'/'
        })
    };
    while let Some(chunk) = r.next_chunk().await? {
        parser.feed(chunk, &mut events)?;
        for ev in events.drain(..) {
            match ev {
                Event::Entry(
                    Entry::Dir { path, .. }
                    | Entry::File { path, .. }
                    | Entry::Symlink { path, .. },
                ) if through_link(&path, &links) => {
                    return Err(PitrError::Config(format!(
                        "base backup archive {name}: {path} lies under a symbolic link"
                    )));
                }
                Event::Entry(Entry::Dir { path, mode }) => {
                    let p = dir.join(&path);
                    tokio::fs::create_dir_all(&p)
                        .await
                        .map_err(|e| PitrError::io(format!("creating {}", p.display()), e))?;
                    dir_modes.push((p, mode));
                }
                Event::Entry(Entry::File { path, mode, .. }) => {
                    let p = dir.join(&path);
                    let f = tokio::fs::File::create(&p)
                        .await
                        .map_err(|e| PitrError::io(format!("creating {}", p.display()), e))?;
                    cur = Some((f, p, mode));
                }
                Event::Entry(Entry::Symlink { path, target }) => {
                    let p = dir.join(&path);
                    std::os::unix::fs::symlink(&target, &p)
                        .map_err(|e| PitrError::io(format!("creating link {}", p.display()), e))?;
                    links.push(path);
                }
                Event::Data(b) => {
                    let (f, p, _) = cur
                        .as_mut()
                        .ok_or_else(|| PitrError::Config("archive data outside a file".into()))?;
                    f.write_all(&b)
                        .await
                        .map_err(|e| PitrError::io(format!("writing {}", p.display()), e))?;
                    bytes += b.len() as u64;
                }
                Event::FileEnd => {
                    if let Some((mut f, p, mode)) = cur.take() {
                        f.flush()
                            .await
                            .map_err(|e| PitrError::io(format!("writing {}", p.display()), e))?;
                        drop(f);
                        std::fs::set_permissions(
                            &p,
                            std::fs::Permissions::from_mode(mode & 0o7777),
                        )
                        .map_err(|e| {
                            PitrError::io(format!("setting the mode of {}", p.display()), e)
                        })?;
                        files += 1;
                    }
                }
                Event::End => {}
            }
        }
    }
    if !parser.is_done() {
        return Err(PitrError::Config(format!(
            "base backup archive {name} ends without its end record"
        )));
    }
    for (p, mode) in dir_modes.into_iter().rev() {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| PitrError::io(format!("setting the mode of {}", p.display()), e))?;
    }
    // No fsync per file: PostgreSQL syncs the whole data directory when it
    // starts from a backup (its control file says it was not shut down).
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        let want = RecoveryTarget::Time("2026-12-05T08:01:02.5Z".parse().unwrap());
        assert_eq!(
            RecoveryTarget::parse_time("2026-12-05T08:01:02.5Z").unwrap(),
            want
        );
        assert_eq!(
            RecoveryTarget::parse_time("2026-12-05 08:01:02.5+00").unwrap(),
            want
        );
        assert_eq!(
            RecoveryTarget::parse_time("2026-12-05 09:01:02.5+01:00").unwrap(),
            want
        );
        assert_eq!(
            RecoveryTarget::parse_time("2026-12-05 08:01:02.5").unwrap(),
            want
        );
        assert!(RecoveryTarget::parse_time("yesterday").is_err());
    }

    #[test]
    fn conf_values_are_quoted() {
        assert_eq!(conf_quote("a'b"), "'a''b'");
    }
}
