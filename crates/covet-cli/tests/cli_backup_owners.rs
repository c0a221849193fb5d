//! `covet backup restore --owners --grants` and `covet backup drill
//! --owners --grants` on PostgreSQL through the binary: the source's owner
//! and privileges come back, the drill checks them, and a role the target
//! server lacks fails the restore with one clean line naming it, before
//! the target database exists. The run's roles are its own (roles are
//! cluster-wide) and are dropped, after the databases, even on panic.

mod support;

use std::path::Path;

use support::{assert_one_clean_line, covet, run, server, unique, with_database};

fn sql(url: &str, statement: &str) -> String {
    let (code, out, err) = run(covet().args(["sql", "--db", url, statement]));
    assert_eq!(code, 0, "{statement}: {out}{err}");
    out
}

/// Drops the databases, then the roles, when dropped.
struct Cleanup {
    admin: String,
    databases: Vec<String>,
    roles: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for d in &self.databases {
            let _ = run(covet().args([
                "sql",
                "--db",
                &self.admin,
                &format!("DROP DATABASE IF EXISTS \"{d}\" WITH (FORCE)"),
            ]));
        }
        for r in &self.roles {
            let _ = run(covet().args([
                "sql",
                "--db",
                &self.admin,
                &format!("DROP ROLE IF EXISTS \"{r}\""),
            ]));
        }
    }
}

fn create(url: &str, dir: &Path, name: &str) {
    let (code, _, err) = run(covet().args([
        "backup",
        "create",
        "--db",
        url,
        "--to",
        dir.to_str().unwrap(),
        "--no-encryption",
        "--name",
        name,
    ]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn owners_and_grants_through_the_cli() {
    let Some(base) = server("COVET_PG_URL") else {
        return;
    };
    let admin = with_database(&base, "postgres");
    let role = unique("covet_cli_role");
    let src = unique("covet_cli_own_src");
    let dst = format!("{src}_dst");
    let missing = format!("{src}_missing");
    let mut cleanup = Cleanup {
        admin: admin.clone(),
        databases: vec![src.clone(), dst.clone(), missing.clone()],
        roles: vec![role.clone()],
    };
    sql(&admin, &format!("CREATE ROLE \"{role}\" NOLOGIN"));
    sql(&admin, &format!("CREATE DATABASE \"{src}\""));
    let src_url = with_database(&base, &src);
    sql(&src_url, "CREATE TABLE public.t (id integer)");
    sql(
        &src_url,
        &format!("ALTER TABLE public.t OWNER TO \"{role}\""),
    );
    sql(
        &src_url,
        "CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    );
    sql(
        &src_url,
        "REVOKE EXECUTE ON FUNCTION public.f() FROM PUBLIC",
    );
    sql(
        &src_url,
        &format!("GRANT EXECUTE ON FUNCTION public.f() TO \"{role}\""),
    );
    let dir = tempfile::tempdir().unwrap();
    create(&src_url, dir.path(), "o.covet");
    let file = dir.path().join("o.covet");

    let dst_url = with_database(&base, &dst);
    let (code, _, err) = run(covet().args([
        "backup",
        "restore",
        "--file",
        file.to_str().unwrap(),
        "--db",
        &dst_url,
        "--owners",
        "--grants",
    ]));
    assert_eq!(code, 0, "{err}");
    let out = sql(
        &dst_url,
        &format!(
            "SELECT pg_get_userbyid(relowner) = '{role}' AS owned, \
             has_function_privilege('{role}', 'public.f()', 'EXECUTE') AS granted, \
             has_function_privilege('pg_monitor', 'public.f()', 'EXECUTE') AS public \
             FROM pg_class WHERE oid = 'public.t'::regclass"
        ),
    );
    let row = out.lines().nth(2).unwrap_or_default();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(cells, ["true", "true", "false"], "{out}");
    let (code, out, err) = run(covet().args([
        "backup",
        "drill",
        "--file",
        file.to_str().unwrap(),
        "--db",
        &src_url,
        "--owners",
        "--grants",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("drill passed"), "{out}");

    // The role gone, the same restore fails before creating anything.
    sql(&admin, &format!("DROP DATABASE \"{src}\" WITH (FORCE)"));
    sql(&admin, &format!("DROP DATABASE \"{dst}\" WITH (FORCE)"));
    sql(&admin, &format!("DROP ROLE \"{role}\""));
    let (code, _, err) = run(covet().args([
        "backup",
        "restore",
        "--file",
        file.to_str().unwrap(),
        "--db",
        &with_database(&base, &missing),
        "--owners",
    ]));
    assert_eq!(code, 1, "{err}");
    assert_one_clean_line(&err, None);
    assert!(err.contains(&role) && err.contains("do not exist"), "{err}");
    let exists = sql(
        &admin,
        &format!("SELECT count(*) AS n FROM pg_database WHERE datname = '{missing}'"),
    );
    assert_eq!(exists.lines().nth(2).map(str::trim), Some("0"), "{exists}");
    cleanup.databases.clear();
}
