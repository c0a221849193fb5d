//! `covet loadtest --db` with a host list: the run goes through a router
//! and the report has a per-target table; failures never show the password.
//!
//! The shared PostgreSQL is named twice (`127.0.0.1` as the primary,
//! `localhost` as the "replica"): it is not in recovery, so the router's
//! health checks may eject it and send the reads to the primary. What this
//! test checks is the CLI's part (URL, connection, table); that reads
//! spread over real replicas is covet-router's router_replication test, and
//! that the seed mix's reads are marked is covet-loadtest's unit test.

mod support;

use support::{TempDb, assert_one_clean_line, covet, run, server};

const SECRET: &str = "Sekrit-pw-42";

#[test]
fn a_host_list_runs_through_the_router_and_prints_each_target() {
    let Some(admin) = server("COVET_PG_URL") else {
        return;
    };
    let db = TempDb::create(&admin, "covet_ltr");
    let Some(rest) = db.url.strip_prefix("postgres://postgres@127.0.0.1:5432/") else {
        eprintln!("skipping: COVET_PG_URL is not postgres://postgres@127.0.0.1:5432/...");
        return;
    };
    let url = format!("postgres://postgres@127.0.0.1:5432,localhost:5432/{rest}");
    let (code, out, err) = run(covet().args([
        "loadtest",
        "--db",
        &url,
        "--scale",
        "0.01",
        "--rate",
        "100",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--progress",
        "none",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("target "))
        .take(3)
        .collect();
    assert_eq!(table.len(), 3, "{out}");
    assert!(
        table[0].split_whitespace().eq(["target", "role", "routed"]),
        "{out}"
    );
    let row = |l: &str| -> (String, String, u64) {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap())
    };
    let (p, r) = (row(table[1]), row(table[2]));
    assert_eq!(
        (p.0.as_str(), p.1.as_str()),
        ("127.0.0.1:5432", "primary"),
        "{out}"
    );
    assert_eq!(
        (r.0.as_str(), r.1.as_str()),
        ("localhost:5432", "replica"),
        "{out}"
    );
    // 200 statements due; every one went to one of the two.
    assert!((190..=260).contains(&(p.2 + r.2)), "{out}");
    assert!(
        err.contains("replica postgres://postgres@localhost:5432/"),
        "{err}"
    );
    println!("{out}");
}

#[test]
fn a_bad_host_list_is_a_usage_error_without_the_password() {
    for tail in [
        "db1,db2:99999/shop",
        "db1,db2/shop?router_max_lag=soon",
        "db1,db2/shop?router_what=1",
    ] {
        let url = format!("postgres://app:{SECRET}@{tail}");
        let (code, out, err) = run(covet().args(["loadtest", "--db", &url, "--duration", "1s"]));
        assert_eq!(code, 2, "{tail}: {out}{err}");
        assert_one_clean_line(&err, Some(SECRET));
        assert!(err.contains("invalid router URL"), "{err}");
    }
}

#[test]
fn an_unreachable_host_list_exits_3_without_the_password() {
    let url = format!("postgres://app:{SECRET}@127.0.0.1:1,127.0.0.1:2/shop?connect_timeout=2");
    let (code, out, err) = run(covet().args(["loadtest", "--db", &url, "--duration", "1s"]));
    assert_eq!(code, 3, "{out}{err}");
    assert_one_clean_line(&err, Some(SECRET));
    assert!(!out.contains(SECRET), "{out}");
}

// covet-router's private-cluster fixture, shared rather than copied.
#[path = "../../covet-router/tests/support/servers.rs"]
#[allow(dead_code, unreachable_pub)]
mod servers;

/// A private PostgreSQL primary with two streaming replicas: the seed
/// mix's reads (read_users, complex_join) go to the replicas, its writes
/// to the primary, and the table shows it.
#[test]
fn the_seed_mix_reads_spread_over_real_replicas() {
    let Some(c) = servers::pg() else { return };
    let url = c.router_url("router_check_interval=100ms");
    let (code, out, err) = run(covet().args([
        "loadtest",
        "--db",
        &url,
        "--scale",
        "0.01",
        "--rate",
        "200",
        "--duration",
        "2s",
        "--warmup",
        "1s",
        "--progress",
        "none",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let count = |name: &str| -> u64 {
        let l = out
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        l.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let reads = count("read_users") + count("complex_join");
    let writes = count("write_user");
    let rows: Vec<(String, u64)> = out
        .lines()
        .skip_while(|l| !l.starts_with("target "))
        .skip(1)
        .take(3)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].to_string(), f[2].parse().unwrap())
        })
        .collect();
    let roles: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(roles, ["primary", "replica", "replica"], "{out}");
    let (primary, replicas) = (rows[0].1, rows[1].1 + rows[2].1);
    assert!(rows[1].1 > 0 && rows[2].1 > 0, "both replicas read: {out}");
    assert!(
        replicas.abs_diff(reads) <= reads / 20 + 5,
        "{reads} reads: {out}"
    );
    assert!(
        primary.abs_diff(writes) <= writes / 10 + 5,
        "{writes} writes: {out}"
    );
}
