//! Ctrl-C or SIGTERM during a load test writes the report of what was
//! measured, marked interrupted (naming the signal), and exits 130.

#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::covet;

fn interrupt(db: &str, dir: &std::path::Path, signal: &str) -> (i32, String, String) {
    let json = dir.join(format!("{signal}.json"));
    let csv = dir.join(format!("{signal}.csv"));
    let mut child = covet()
        .args(["loadtest", "--db", db, "--scale", "0.01", "--rate", "100"])
        .args(["--duration", "10m", "--warmup", "0s", "--progress", "plain"])
        .arg("--json")
        .arg(&json)
        .arg("--csv")
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let mut stdout = child.stdout.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });

    // Wait for the first measured progress line, then signal.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("measured rate") => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("no progress line before the deadline: {e}");
            }
        }
    }
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("covet loadtest did not stop within 30 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    let err = reader.join().unwrap();
    let out = out_reader.join().unwrap();
    let j = std::fs::read_to_string(&json).unwrap_or_default();
    assert!(
        j.contains(&format!("\"interrupted\": \"SIG{signal}\"")),
        "{j}"
    );
    let c = std::fs::read_to_string(&csv).unwrap_or_default();
    assert!(
        c.lines().last().unwrap_or("").starts_with(",Aggregated,")
            && c.lines().last().unwrap_or("").ends_with(",true"),
        "{c}"
    );
    (code, out, err)
}

#[test]
fn sigterm_and_sigint_write_the_measured_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("covet.db").display());

    let (code, out, err) = interrupt(&db, dir.path(), "TERM");
    assert_eq!(code, 130, "{out}{err}");
    assert!(out.contains("INTERRUPTED (SIGTERM) after "), "{out}");
    assert!(out.contains("of the 600 s planned"), "{out}");
    assert!(out.contains("Aggregated"), "{out}");
    assert!(err.contains("interrupted by SIGTERM"), "{err}");

    let (code, out, err) = interrupt(&db, dir.path(), "INT");
    assert_eq!(code, 130, "{out}{err}");
    assert!(out.contains("INTERRUPTED (SIGINT) after "), "{out}");
}
