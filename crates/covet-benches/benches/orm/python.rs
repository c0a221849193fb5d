//! SQLAlchemy 2 async (asyncpg), the original plan's comparison, as a
//! Python process speaking a line protocol (`sqlalchemy_arm.py`); it times
//! each batch of operations itself, so the pipe is not in the figure.
//! Missing packages are installed with pip; without Python or pip the arm
//! is skipped with the reason.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::{Arm, BoxFut, Res, Target, Work};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/orm/sqlalchemy_arm.py");
const PACKAGES: [&str; 2] = ["sqlalchemy[asyncio]>=2,<3", "asyncpg"];

pub(crate) struct PyArm {
    // Held so the process is killed when the arm is dropped.
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

async fn python_ok(args: &[&str]) -> bool {
    Command::new("python3")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Starts the SQLAlchemy arm on the bench database.
pub(crate) async fn start(t: &Target) -> Res<Box<dyn Arm>> {
    if !python_ok(&["--version"]).await {
        return Err("python3 is not installed".into());
    }
    let check = ["-c", "import sqlalchemy.ext.asyncio, asyncpg, greenlet"];
    if !python_ok(&check).await {
        eprintln!(
            "installing {} with pip for the SQLAlchemy arm",
            PACKAGES.join(", ")
        );
        let mut args = vec![
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ];
        args.extend(PACKAGES);
        if !python_ok(&args).await || !python_ok(&check).await {
            return Err(format!("pip could not install {}", PACKAGES.join(", ")).into());
        }
    }
    // asyncpg takes TLS from connect_args, not from the URL's query.
    let url = t.plain.split('?').next().unwrap_or_default().replacen(
        "postgres://",
        "postgresql+asyncpg://",
        1,
    );
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next_line().await? {
        Some(l) if l.starts_with("ready") => eprintln!("SQLAlchemy arm: {l}"),
        Some(l) => return Err(l.into()),
        None => return Err("the Python process exited before it was ready".into()),
    }
    Ok(Box::new(PyArm {
        _child: child,
        stdin,
        lines,
    }))
}

impl PyArm {
    async fn call(&mut self, w: Work, iters: u32, seq: u64) -> Res<(f64, usize)> {
        let (a, b) = match w {
            Work::Trivial(n) | Work::Insert(n) => (n, 0),
            Work::Medium { n, posts } => (n, posts),
            Work::Associations | Work::Adults => (0, 0),
            Work::Bulk { n, .. } => (n, 0),
            Work::Related { p, n_plus_one } => (p, usize::from(n_plus_one)),
        };
        let cmd = format!("run {} {a} {b} {iters} {seq}\n", w.family());
        self.stdin.write_all(cmd.as_bytes()).await?;
        self.stdin.flush().await?;
        let line = self
            .lines
            .next_line()
            .await?
            .ok_or("the Python process exited")?;
        let mut it = line.split_whitespace();
        match it.next() {
            Some("ok") => {
                let secs: f64 = it.next().ok_or("no time")?.parse()?;
                let count: usize = it.next().ok_or("no count")?.parse()?;
                Ok((secs, count))
            }
            _ => Err(line.into()),
        }
    }
}

impl Arm for PyArm {
    fn run(&mut self, w: Work) -> BoxFut<'_, Res<usize>> {
        Box::pin(async move { Ok(self.call(w, 1, 0).await?.1) })
    }

    fn time(&mut self, w: Work, iters: u32, seq: u64) -> BoxFut<'_, Res<(f64, usize)>> {
        Box::pin(self.call(w, iters, seq))
    }
}
