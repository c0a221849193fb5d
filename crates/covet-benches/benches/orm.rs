//! ORM workloads (../shared/workload.md, "ORM workloads"; issue 12):
//! covet-orm against the raw driver, Diesel (sync and diesel-async), sqlx,
//! SeaORM and, on PostgreSQL, SQLAlchemy 2 async, on one server in one run.
//!
//! `cargo xtask bench orm`
//!
//! Workloads: diesel_bench's trivial (load N users), medium (users LEFT
//! JOIN posts where hair_color = 'black', with no posts and with 10 per
//! user), insert (one multi-row INSERT of N users) and associations (100
//! users x 10 posts x 10 comments as `Vec<(User, Vec<(Post, Vec<Comment>)>)>`),
//! plus the original plan's three on the standard workload's users and
//! posts: `age >= 18`, a bulk insert of 1,000 users, and posts with their
//! author by one JOIN against the N+1 loop at 100 and 1,000 posts.
//!
//! Every arm holds one connection, reads every column into owned structs,
//! is checked to load as many items as the raw driver, is warmed up, and is
//! timed in rounds whose order rotates (each sample repeats the operation
//! for about `COVET_BENCH_SECS`); the tables show the median time per
//! operation and its ratio to the raw driver and to covet-orm.
//!
//! Environment: `COVET_PG_URL`, `COVET_MYSQL_URL` (an engine whose URL is
//! unset is skipped, said so); SQLite uses a file in the temp directory.
//! `COVET_BENCH_QUICK=1` runs tiny sizes once (a smoke test, not figures);
//! `COVET_BENCH_ROUNDS` (default 7), `COVET_BENCH_SECS` (time per arm per
//! round, default 0.3), `COVET_BENCH_ONLY=pg,mysql,sqlite` and
//! `COVET_BENCH_WORK=trivial,medium,insert,associations,adults,bulk,related`
//! narrow the run. Each engine's data lives in a database (or file) named
//! for this process, dropped at the end.

#[path = "orm/covet_arm.rs"]
mod covet_arm;
#[path = "orm/data.rs"]
mod data;
#[path = "orm/diesel_arms.rs"]
mod diesel_arms;
#[path = "orm/models.rs"]
mod models;
#[path = "orm/python.rs"]
mod python;
#[path = "orm/raw_lite.rs"]
mod raw_lite;
#[path = "orm/raw_my.rs"]
mod raw_my;
#[path = "orm/raw_pg.rs"]
mod raw_pg;
#[path = "orm/sea_arm.rs"]
mod sea_arm;
#[path = "orm/sqlx_arms.rs"]
mod sqlx_arms;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::{Adapter, DatabaseUrl, Statement};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Res<T> = Result<T, BoxError>;
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The engines this bench runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Eng {
    Pg,
    My,
    Lite,
}

impl Eng {
    fn title(self) -> &'static str {
        match self {
            Eng::Pg => "PostgreSQL",
            Eng::My => "MariaDB",
            Eng::Lite => "SQLite",
        }
    }
}

/// One operation an arm performs; the answer is how many items it loaded
/// (or rows it inserted), which must match the raw driver's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// Load all `n` users.
    Trivial(usize),
    /// Black-haired users with their posts (a LEFT JOIN); `posts` per user
    /// in the data.
    Medium { n: usize, posts: usize },
    /// One multi-row INSERT of `n` users.
    Insert(usize),
    /// Users, their posts and the posts' comments, nested.
    Associations,
    /// Standard users with `age >= 18`.
    Adults,
    /// Bulk insert of `n` standard users; `seq` keeps emails unique.
    Bulk { n: usize, seq: u64 },
    /// The first `p` standard posts with their authors, by one JOIN or, with
    /// `n_plus_one`, one query for the posts and one per post for its author.
    Related { p: usize, n_plus_one: bool },
}

impl Work {
    fn label(self) -> String {
        match self {
            Work::Trivial(n) => format!("trivial N={n}"),
            Work::Medium { n, posts } => format!("medium N={n} posts/user={posts}"),
            Work::Insert(n) => format!("insert N={n}"),
            Work::Associations => "associations".to_owned(),
            Work::Adults => "filter age>=18".to_owned(),
            Work::Bulk { n, .. } => format!("bulk insert N={n}"),
            Work::Related { p, n_plus_one } => {
                format!(
                    "{} P={p}",
                    if n_plus_one {
                        "N+1 loop"
                    } else {
                        "select_related"
                    }
                )
            }
        }
    }

    fn family(self) -> &'static str {
        match self {
            Work::Trivial(_) => "trivial",
            Work::Medium { .. } => "medium",
            Work::Insert(_) => "insert",
            Work::Associations => "associations",
            Work::Adults => "adults",
            Work::Bulk { .. } => "bulk",
            Work::Related { .. } => "related",
        }
    }

    fn with_seq(self, s: u64) -> Self {
        match self {
            Work::Bulk { n, .. } => Work::Bulk { n, seq: s },
            w => w,
        }
    }
}

/// One contender: a connection and the code that runs each workload the
/// way that crate's users would write it.
pub(crate) trait Arm: Send {
    /// Runs `w` once; returns the number of items loaded or inserted.
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>>;

    /// Runs `w` `iters` times (sequence numbers from `seq`); returns the
    /// seconds per operation and the last count. The Python arm overrides
    /// this to time inside its own process.
    fn time(&mut self, w: Work, iters: u32, seq: u64) -> BoxFut<'_, Res<(f64, usize)>> {
        Box::pin(async move {
            let mut total = Duration::ZERO;
            let mut count = 0;
            for k in 0..iters {
                let w = w.with_seq(seq + u64::from(k));
                let t0 = Instant::now();
                count = self.run(w).await?;
                total += t0.elapsed();
            }
            Ok((total.as_secs_f64() / f64::from(iters.max(1)), count))
        })
    }
}

/// Sizes and repetitions, from the environment.
#[derive(Clone)]
struct Config {
    quick: bool,
    rounds: usize,
    secs: f64,
    engines: Vec<String>,
    works: Vec<String>,
}

impl Config {
    fn from_env() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let quick = env("COVET_BENCH_QUICK").is_some_and(|v| v != "0");
        let list = |k: &str, all: &str| -> Vec<String> {
            env(k)
                .unwrap_or_else(|| all.to_owned())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect()
        };
        Config {
            quick,
            rounds: env("COVET_BENCH_ROUNDS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(if quick { 1 } else { 7 }),
            secs: env("COVET_BENCH_SECS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(if quick { 0.0 } else { 0.3 }),
            engines: list("COVET_BENCH_ONLY", "pg,mysql,sqlite"),
            works: list(
                "COVET_BENCH_WORK",
                "trivial,medium,insert,associations,adults,bulk,related",
            ),
        }
    }

    fn sizes(&self) -> Sizes {
        if self.quick {
            Sizes {
                trivial: vec![1, 100],
                medium: vec![10],
                insert: vec![1, 10],
                assoc_users: 10,
                std_users: 1_000,
                std_posts: 200,
                related: vec![10, 100],
                bulk: 100,
            }
        } else {
            Sizes {
                trivial: vec![1, 10, 100, 1_000, 10_000],
                medium: vec![1, 10, 100, 1_000, 10_000],
                insert: vec![1, 10, 25, 50, 100],
                assoc_users: 100,
                std_users: 10_000,
                std_posts: 2_000,
                related: vec![100, 1_000],
                bulk: 1_000,
            }
        }
    }
}

struct Sizes {
    trivial: Vec<usize>,
    medium: Vec<usize>,
    insert: Vec<usize>,
    assoc_users: usize,
    std_users: usize,
    std_posts: usize,
    related: Vec<usize>,
    bulk: usize,
}

/// What a group of workloads needs in the tables.
enum Setup {
    /// `n` users (coloured black/brown or not) with `posts` posts each.
    Users {
        n: usize,
        colored: bool,
        posts: usize,
    },
    /// Empty tables.
    Empty,
    /// `users` users x 10 posts x 10 comments.
    Assoc { users: usize },
    /// The standard users and posts.
    Std { users: usize, posts: usize },
}

fn plan(cfg: &Config) -> Vec<(Setup, Vec<Work>)> {
    let s = cfg.sizes();
    let want = |f: &str| cfg.works.iter().any(|w| w == f);
    let mut out = Vec::new();
    if want("trivial") {
        for &n in &s.trivial {
            out.push((
                Setup::Users {
                    n,
                    colored: false,
                    posts: 0,
                },
                vec![Work::Trivial(n)],
            ));
        }
    }
    if want("medium") {
        for posts in [0, 10] {
            for &n in &s.medium {
                out.push((
                    Setup::Users {
                        n,
                        colored: true,
                        posts,
                    },
                    vec![Work::Medium { n, posts }],
                ));
            }
        }
    }
    if want("insert") {
        for &n in &s.insert {
            out.push((Setup::Empty, vec![Work::Insert(n)]));
        }
    }
    if want("associations") {
        out.push((
            Setup::Assoc {
                users: s.assoc_users,
            },
            vec![Work::Associations],
        ));
    }
    let mut std_works = Vec::new();
    if want("adults") {
        std_works.push(Work::Adults);
    }
    if want("related") {
        for &p in &s.related {
            std_works.push(Work::Related {
                p,
                n_plus_one: false,
            });
            std_works.push(Work::Related {
                p,
                n_plus_one: true,
            });
        }
    }
    // Last: it adds users, which the other two would then read.
    if want("bulk") {
        std_works.push(Work::Bulk { n: s.bulk, seq: 0 });
    }
    if !std_works.is_empty() {
        out.push((
            Setup::Std {
                users: s.std_users,
                posts: s.std_posts,
            },
            std_works,
        ));
    }
    out
}

async fn load(admin: &Arc<dyn Adapter>, sql: &data::Sql, setup: &Setup) -> Res<()> {
    let mut stmts = sql.reset();
    match *setup {
        Setup::Users { n, colored, posts } => {
            stmts.push(sql.users(n, colored));
            if posts > 0 {
                stmts.push(sql.posts(n, posts));
            }
        }
        Setup::Empty => {}
        Setup::Assoc { users } => {
            stmts.push(sql.users(users, false));
            stmts.push(sql.posts(users, 10));
            stmts.push(sql.comments(users * 10, 10));
        }
        Setup::Std { users, posts } => {
            stmts.push(sql.std_users(users));
            stmts.push(sql.std_posts(posts, users));
        }
    }
    stmts.extend(sql.sync_keys());
    stmts.push(sql.analyze().to_owned());
    data::exec_all(admin, &stmts).await
}

/// One row of results: the workload and each arm's median seconds per
/// operation (None when the arm failed or was skipped).
struct Line {
    work: Work,
    medians: Vec<Option<f64>>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Measures one workload on every arm: warm-up with a count check, a
/// calibrated number of iterations, rounds in rotating order.
async fn measure(
    arms: &mut [(String, Box<dyn Arm>)],
    w: Work,
    cfg: &Config,
    seq: &mut u64,
    notes: &mut Vec<String>,
) -> Line {
    let mut ok = vec![true; arms.len()];
    let mut warm = vec![0.0_f64; arms.len()];
    let mut expected: Option<usize> = None;
    for (i, (name, arm)) in arms.iter_mut().enumerate() {
        match arm.time(w, 2, *seq).await {
            Ok((secs, count)) => {
                warm[i] = secs;
                match expected {
                    None => expected = Some(count),
                    Some(e) if e != count => {
                        notes.push(format!(
                            "{}: {name} loaded {count} items, the raw driver {e}: left out",
                            w.label()
                        ));
                        ok[i] = false;
                    }
                    Some(_) => {}
                }
            }
            Err(e) => {
                notes.push(format!("{}: {name} failed: {e}", w.label()));
                ok[i] = false;
            }
        }
        *seq += 2;
    }
    // Enough iterations that one sample takes about `secs` on each arm (a
    // slow arm gets fewer, so the run's length stays bounded).
    let iters: Vec<u32> = warm
        .iter()
        .map(|&t| {
            if t > 0.0 {
                (cfg.secs / t).clamp(1.0, 10_000.0) as u32
            } else {
                1
            }
        })
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); arms.len()];
    let n = arms.len();
    for round in 0..cfg.rounds {
        for k in 0..n {
            let i = (round + k) % n;
            if !ok[i] {
                continue;
            }
            let (name, arm) = &mut arms[i];
            match arm.time(w, iters[i], *seq).await {
                Ok((secs, _)) => samples[i].push(secs),
                Err(e) => {
                    notes.push(format!(
                        "{}: {name} failed in round {round}: {e}",
                        w.label()
                    ));
                    ok[i] = false;
                }
            }
            *seq += u64::from(iters[i]);
        }
    }
    Line {
        work: w,
        medians: samples
            .into_iter()
            .zip(ok)
            .map(|(s, ok)| if ok { median(s) } else { None })
            .collect(),
    }
}

fn fmt_time(secs: Option<f64>) -> String {
    match secs {
        None => "-".to_owned(),
        Some(s) if s < 1e-3 => format!("{:.1} us", s * 1e6),
        Some(s) => format!("{:.2} ms", s * 1e3),
    }
}

fn fmt_ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

fn print_table(
    title: &str,
    names: &[String],
    lines: &[Line],
    cell: &dyn Fn(&Line, usize) -> String,
) {
    const FIRST: usize = 34;
    let width = names.iter().map(String::len).max().unwrap_or(8).max(10);
    println!("\n{title}");
    print!("{:<FIRST$}", "workload");
    for n in names {
        print!(" | {n:>width$}");
    }
    println!();
    println!("{}", "-".repeat(FIRST + names.len() * (width + 3)));
    for l in lines {
        print!("{:<FIRST$}", l.work.label());
        for i in 0..names.len() {
            print!(" | {:>width$}", cell(l, i));
        }
        println!();
    }
}

fn report(eng: Eng, cfg: &Config, names: &[String], lines: &[Line]) {
    println!(
        "\n=== {} ({} rounds, median time per operation; arm 1 is the raw driver, arm 2 covet-orm) ===",
        eng.title(),
        cfg.rounds
    );
    print_table("time per operation", names, lines, &|l, i| {
        fmt_time(l.medians[i])
    });
    print_table(
        "ratio to the raw driver (lower is faster)",
        names,
        lines,
        &|l, i| fmt_ratio(l.medians[i], l.medians[0]),
    );
    print_table("ratio to covet-orm", names, lines, &|l, i| {
        fmt_ratio(l.medians[i], l.medians[1])
    });
    // What the N+1 loop costs against one JOIN, per arm.
    let mut loops = Vec::new();
    for l in lines {
        if let Work::Related {
            p,
            n_plus_one: true,
        } = l.work
            && let Some(join) = lines.iter().find(|j| {
                j.work
                    == Work::Related {
                        p,
                        n_plus_one: false,
                    }
            })
        {
            loops.push(Line {
                work: l.work,
                medians: l
                    .medians
                    .iter()
                    .zip(&join.medians)
                    .map(|(&a, &b)| match (a, b) {
                        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                        _ => None,
                    })
                    .collect(),
            });
        }
    }
    if !loops.is_empty() {
        print_table(
            "N+1 loop time / select_related time (what the JOIN saves)",
            names,
            &loops,
            &|l, i| l.medians[i].map_or_else(|| "-".to_owned(), |r| format!("{r:.1}x")),
        );
    }
}

/// A database name no other run uses.
fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("covet_orm_bench_{}_{nanos}", std::process::id())
}

/// Where each arm connects, for one engine's bench database.
pub(crate) struct Target {
    pub(crate) eng: Eng,
    /// The covet URL of the bench database (one connection).
    pub(crate) covet: DatabaseUrl,
    /// A plain URL for the other crates (TLS off where it has a knob).
    pub(crate) plain: String,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn plain_url(scheme: &str, url: &DatabaseUrl, db: &str, query: &str) -> String {
    let auth = match (url.user(), url.password()) {
        (Some(u), Some(p)) => format!("{}:{}@", enc(u), enc(p.expose())),
        (Some(u), None) => format!("{}@", enc(u)),
        _ => String::new(),
    };
    format!("{scheme}://{auth}{}:{}/{db}{query}", url.host(), url.port())
}

async fn arms_for(t: &Target, notes: &mut Vec<String>) -> Res<Vec<(String, Box<dyn Arm>)>> {
    let mut arms: Vec<(String, Box<dyn Arm>)> = Vec::new();
    // The raw driver comes first and must connect; the rest are skipped
    // with a note when they cannot.
    match t.eng {
        Eng::Pg => arms.push((
            "tokio-postgres".into(),
            Box::new(raw_pg::RawPg::connect(t).await?),
        )),
        Eng::My => arms.push((
            "mysql_async".into(),
            Box::new(raw_my::RawMy::connect(t).await?),
        )),
        Eng::Lite => arms.push(("rusqlite".into(), Box::new(raw_lite::RawLite::connect(t)?))),
    }
    arms.push((
        "covet-orm".into(),
        Box::new(covet_arm::CovetArm::connect(t).await?),
    ));
    let mut add = |name: &str, r: Res<Box<dyn Arm>>| match r {
        Ok(a) => arms.push((name.to_owned(), a)),
        Err(e) => notes.push(format!("{name} skipped on {}: {e}", t.eng.title())),
    };
    match t.eng {
        Eng::Pg => {
            add("diesel-async", diesel_arms::async_pg(t).await);
            add("diesel", diesel_arms::sync_pg(t));
            add("sqlx", sqlx_arms::pg(t).await);
            add("SeaORM", sea_arm::connect(t).await);
            add("SQLAlchemy", python::start(t).await);
        }
        Eng::My => {
            add("diesel-async", diesel_arms::async_my(t).await);
            add("sqlx", sqlx_arms::my(t).await);
            add("SeaORM", sea_arm::connect(t).await);
        }
        Eng::Lite => {
            add("diesel", diesel_arms::sync_lite(t));
            add("sqlx", sqlx_arms::lite(t).await);
            add("SeaORM", sea_arm::connect(t).await);
        }
    }
    Ok(arms)
}

/// Creates the tables, runs the plan and prints the tables for one engine.
async fn bench_engine(t: &Target, cfg: &Config, notes: &mut Vec<String>) -> Res<()> {
    let admin: Arc<dyn Adapter> = covet::connect(t.covet.clone()).await?;
    if t.eng == Eng::My {
        // The data statements count with recursive CTEs.
        admin
            .execute(&Statement::new(
                "SET SESSION max_recursive_iterations = 1000000",
            ))
            .await?;
    }
    let create: Vec<String> = data::create_tables(t.eng)
        .into_iter()
        .map(str::to_owned)
        .collect();
    data::exec_all(&admin, &create).await?;
    let sql = data::Sql::new(t.eng);
    let mut arms = arms_for(t, notes).await?;
    let names: Vec<String> = arms.iter().map(|(n, _)| n.clone()).collect();
    let mut lines = Vec::new();
    let mut seq = 0_u64;
    for (setup, works) in plan(cfg) {
        load(&admin, &sql, &setup).await?;
        for w in works {
            eprintln!("{}: {}", t.eng.title(), w.label());
            lines.push(measure(&mut arms, w, cfg, &mut seq, notes).await);
        }
    }
    drop(arms);
    admin.close().await;
    report(t.eng, cfg, &names, &lines);
    Ok(())
}

/// Creates the engine's database, benches it and drops it (also after a
/// failure).
async fn run_engine(eng: Eng, cfg: &Config, notes: &mut Vec<String>) {
    let (var, scheme) = match eng {
        Eng::Pg => ("COVET_PG_URL", "postgres"),
        Eng::My => ("COVET_MYSQL_URL", "mysql"),
        Eng::Lite => ("", "sqlite"),
    };
    let name = unique_name();
    if eng == Eng::Lite {
        let path = std::env::temp_dir().join(format!("{name}.db"));
        let r = async {
            let covet: DatabaseUrl = format!(
                "sqlite://{}?max_connections=1&min_connections=1",
                path.display()
            )
            .parse()?;
            let t = Target {
                eng,
                covet,
                plain: format!("sqlite://{}", path.display()),
            };
            bench_engine(&t, cfg, notes).await
        }
        .await;
        if let Err(e) = r {
            notes.push(format!("SQLite stopped: {e}"));
        }
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        return;
    }
    let Some(raw) = std::env::var(var).ok().filter(|v| !v.is_empty()) else {
        notes.push(format!("{} skipped: {var} is not set", eng.title()));
        return;
    };
    let base: DatabaseUrl = match raw.parse() {
        Ok(u) => u,
        Err(e) => {
            notes.push(format!("{} skipped: {var}: {e}", eng.title()));
            return;
        }
    };
    let admin_url = base
        .with_param("sslmode", "disable")
        .with_param("max_connections", "1");
    let admin = match covet::connect(admin_url).await {
        Ok(a) => a,
        Err(e) => {
            notes.push(format!("{} skipped: cannot connect: {e}", eng.title()));
            return;
        }
    };
    if let Err(e) = admin
        .execute(&Statement::new(format!("CREATE DATABASE {name}")))
        .await
    {
        notes.push(format!("{} skipped: CREATE DATABASE: {e}", eng.title()));
        return;
    }
    let t = Target {
        eng,
        covet: base
            .with_database(&name)
            .with_param("sslmode", "disable")
            .with_param("max_connections", "1")
            .with_param("min_connections", "1"),
        plain: plain_url(
            scheme,
            &base,
            &name,
            if eng == Eng::Pg {
                "?sslmode=disable"
            } else {
                ""
            },
        ),
    };
    if let Err(e) = bench_engine(&t, cfg, notes).await {
        notes.push(format!("{} stopped: {e}", eng.title()));
    }
    let drop_sql = match eng {
        Eng::Pg => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS {name}"),
    };
    if let Err(e) = admin.execute(&Statement::new(drop_sql)).await {
        notes.push(format!("{}: could not drop {name}: {e}", eng.title()));
    }
    admin.close().await;
}

fn main() {
    let cfg = Config::from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut notes = Vec::new();
    if cfg.quick {
        println!("COVET_BENCH_QUICK: tiny sizes, one round; a smoke test, not figures");
    }
    rt.block_on(async {
        for (key, eng) in [("pg", Eng::Pg), ("mysql", Eng::My), ("sqlite", Eng::Lite)] {
            if cfg.engines.iter().any(|e| e == key) {
                run_engine(eng, &cfg, &mut notes).await;
            }
        }
    });
    if !notes.is_empty() {
        println!("\nnotes:");
        for n in &notes {
            println!("- {n}");
        }
    }
}
