//! PostgreSQL owners and privileges: a backup records each object's owner
//! and ACL, and a restore with `owners` and `grants` gives them back, with
//! pg_dump (owners and privileges included) as the oracle. Roles are
//! cluster-wide, so each run creates its own, uniquely named NOLOGIN roles
//! and a guard drops them (after the databases they own objects in), even
//! when a test panics.
//!
//! Differences allowed between source and restore: none beyond the
//! database name, which no plain pg_dump output contains.

mod support;

use std::path::Path;
use std::process::Command;

use covet_backup::*;
use covet_core::DatabaseUrl;
use support::db::{Adapters, create_db, db_exists, server_url, unique};
use support::pg_tools::{PG_DUMP, psql, run, tool_url};
use support::suite::connect;

/// One value from a query.
fn psql_value(db: &str, sql: &str) -> String {
    run(Command::new("psql").args(["-X", "-q", "-At", "-d", &tool_url(db), "-c", sql]))
        .trim()
        .to_owned()
}

/// `pg_dump --schema-only` with owners and privileges (or without, with
/// `plain`), without pg_dump 15.14's random `\restrict` key lines.
fn schema_text(db: &str, plain: bool) -> String {
    let mut cmd = Command::new(PG_DUMP);
    cmd.arg("--schema-only");
    if plain {
        cmd.args(["--no-owner", "--no-privileges"]);
    }
    run(cmd.args(["-d", &tool_url(db)]))
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_same_schema(src: &str, dst: &str, plain: bool) {
    let (ss, ds) = (schema_text(src, plain), schema_text(dst, plain));
    assert!(
        ss.contains("OWNER TO") || plain,
        "the oracle shows no owners"
    );
    if ss != ds {
        let sl: Vec<&str> = ss.lines().collect();
        let dl: Vec<&str> = ds.lines().collect();
        let only_src: Vec<_> = sl.iter().filter(|l| !dl.contains(l)).take(20).collect();
        let only_dst: Vec<_> = dl.iter().filter(|l| !sl.contains(l)).take(20).collect();
        panic!(
            "schema of {dst} differs from {src}\nsource only: {only_src:#?}\nrestore only: {only_dst:#?}"
        );
    }
}

fn tools_present() -> bool {
    let ok = Path::new(PG_DUMP).exists()
        && Command::new("psql")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "pg_dump 15 and psql are needed and COVET_REQUIRE_DB=1"
        );
        eprintln!("skipping: pg_dump 15 or psql is missing");
    }
    ok
}

/// Drops, when dropped, the databases (first: a role that owns objects
/// cannot be dropped) and then the roles a test made.
struct Cleanup {
    databases: Vec<String>,
    roles: Vec<String>,
}

impl Cleanup {
    fn run(&mut self) {
        let mut statements = Vec::new();
        for d in self.databases.drain(..) {
            statements.push(format!("DROP DATABASE IF EXISTS \"{d}\" WITH (FORCE)"));
        }
        for r in self.roles.drain(..) {
            statements.push(format!("DROP ROLE IF EXISTS \"{r}\""));
        }
        if statements.is_empty() {
            return;
        }
        // One `-c` each: DROP DATABASE cannot run in a transaction block,
        // and each statement is tried whatever failed before.
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-q", "-d", &tool_url("postgres")]);
        for s in &statements {
            cmd.args(["-c", s]);
        }
        if let Ok(o) = cmd.output()
            && !o.status.success()
        {
            eprintln!("cleanup: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

/// The roles of one run: the owner of most objects, a reader given
/// privileges (one with a grant option), and another given column
/// privileges and privileges by the reader rather than the owner.
struct Roles {
    owner: String,
    reader: String,
    other: String,
}

fn roles(cleanup: &mut Cleanup) -> Roles {
    let base = unique("covet_role");
    let r = Roles {
        owner: format!("{base}_owner"),
        reader: format!("{base}_reader"),
        other: format!("{base} Other"),
    };
    for name in [&r.owner, &r.reader, &r.other] {
        cleanup.roles.push(name.clone());
        psql("postgres", &format!("CREATE ROLE \"{name}\" NOLOGIN"));
    }
    r
}

fn schema_sql(r: &Roles) -> String {
    let (o, rd, ot) = (
        format!("\"{}\"", r.owner),
        format!("\"{}\"", r.reader),
        format!("\"{}\"", r.other),
    );
    format!(
        r#"
CREATE SCHEMA app AUTHORIZATION {o};
GRANT USAGE ON SCHEMA app TO {rd};
GRANT USAGE, CREATE ON SCHEMA app TO {ot} WITH GRANT OPTION;
CREATE TYPE app.mood AS ENUM ('sad', 'happy');
ALTER TYPE app.mood OWNER TO {o};
REVOKE USAGE ON TYPE app.mood FROM PUBLIC;
GRANT USAGE ON TYPE app.mood TO {rd};
CREATE DOMAIN app.pos AS integer CHECK (VALUE > 0);
ALTER DOMAIN app.pos OWNER TO {ot};
CREATE TABLE app.t (id serial PRIMARY KEY, pub text, secret text, mood app.mood, n app.pos);
ALTER TABLE app.t OWNER TO {o};
GRANT SELECT ON app.t TO {rd};
GRANT INSERT ON app.t TO {rd} WITH GRANT OPTION;
GRANT SELECT (id, pub), UPDATE (pub) ON app.t TO {ot};
GRANT REFERENCES (id) ON app.t TO {rd} WITH GRANT OPTION;
SET ROLE {rd};
GRANT INSERT ON app.t TO {ot};
RESET ROLE;
CREATE TABLE app.ident (id integer GENERATED ALWAYS AS IDENTITY, v text);
ALTER TABLE app.ident OWNER TO {ot};
GRANT USAGE ON SEQUENCE app.ident_id_seq TO {rd};
CREATE SEQUENCE app.s START 7;
ALTER SEQUENCE app.s OWNER TO {o};
GRANT USAGE, SELECT ON SEQUENCE app.s TO {rd};
CREATE VIEW app.v AS SELECT id, pub FROM app.t;
ALTER VIEW app.v OWNER TO {o};
GRANT SELECT ON app.v TO {ot};
CREATE MATERIALIZED VIEW app.mv AS SELECT count(*) AS n FROM app.t;
ALTER MATERIALIZED VIEW app.mv OWNER TO {o};
GRANT SELECT ON app.mv TO PUBLIC;
CREATE FUNCTION app.f(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT i + 1 $$;
ALTER FUNCTION app.f(integer) OWNER TO {o};
REVOKE EXECUTE ON FUNCTION app.f(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.f(integer) TO {rd};
CREATE PROCEDURE app.p() LANGUAGE sql AS $$ SELECT 1 $$;
ALTER PROCEDURE app.p() OWNER TO {ot};
REVOKE ALL ON PROCEDURE app.p() FROM PUBLIC;
CREATE AGGREGATE app.total(integer) (SFUNC = int4pl, STYPE = integer);
ALTER AGGREGATE app.total(integer) OWNER TO {o};
CREATE TABLE public.plain (id integer);
ALTER TABLE public.plain OWNER TO {ot};
REVOKE DELETE, TRUNCATE ON public.plain FROM {ot};
GRANT SELECT ON public.plain TO PUBLIC;
INSERT INTO app.t (pub, secret, mood, n) VALUES ('a', 'x', 'sad', 1), ('b', 'y', 'happy', 2);
INSERT INTO app.ident (v) VALUES ('one');
INSERT INTO public.plain VALUES (1);
REFRESH MATERIALIZED VIEW app.mv;
"#
    )
}

async fn backup_of(server: &DatabaseUrl, src: &str, sink: &LocalDirSink) -> BackupEntry {
    let a = connect(&server.with_database(src)).await;
    let entry = create_backup(
        a.clone(),
        src,
        sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    a.close().await;
    entry
}

async fn restore_into(
    server: &DatabaseUrl,
    sink: &LocalDirSink,
    name: &str,
    db: &str,
    owners: bool,
    grants: bool,
    parallelism: usize,
) -> Result<RestoreReport> {
    let opts = RestoreOptions {
        owners,
        grants,
        parallelism,
        ..Default::default()
    };
    restore(sink, name, &server.with_database(db), &Adapters, &opts).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_grants_restore_exactly_by_option() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    if !tools_present() {
        return;
    }
    let mut cleanup = Cleanup {
        databases: Vec::new(),
        roles: Vec::new(),
    };
    let r = roles(&mut cleanup);
    let src = unique("covet_own_src");
    cleanup.databases.push(src.clone());
    create_db(&server, &src).await;
    psql(&src, &schema_sql(&r));

    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let entry = backup_of(&server, &src, &sink).await;

    // The backup records owners and ACLs, and nothing about the roles
    // beyond their names.
    let schema = verify(&sink, &entry.name, None).await.unwrap().schema;
    let access = &schema.postgres.as_ref().unwrap().access;
    let f = access.iter().find(|a| a.name == "app.f(integer)").unwrap();
    assert_eq!(
        (f.kind.as_str(), f.owner.as_str()),
        ("function", r.owner.as_str())
    );
    let acl = f.acl.as_ref().expect("the function's ACL was changed");
    assert!(
        acl.iter().all(|g| g.grantee.is_some()),
        "PUBLIC was revoked: {acl:?}"
    );
    let t = access.iter().find(|a| a.name == "app.t").unwrap();
    assert_eq!(t.columns.len(), 2, "{t:?}");
    let raw = serde_json::to_string(&*schema).unwrap();
    assert!(!raw.to_lowercase().contains("password") && !raw.contains("rolpassword"));

    // Owners and grants, over several connections (a new database) and in
    // one transaction (an existing, empty one): pg_dump with owners and
    // privileges sees the source.
    let full = format!("{src}_full");
    cleanup.databases.push(full.clone());
    restore_into(&server, &sink, &entry.name, &full, true, true, 4)
        .await
        .unwrap();
    assert_same_schema(&src, &full, false);
    let serial = format!("{src}_serial");
    cleanup.databases.push(serial.clone());
    create_db(&server, &serial).await;
    restore_into(&server, &sink, &entry.name, &serial, true, true, 1)
        .await
        .unwrap();
    assert_same_schema(&src, &serial, false);

    // Without the options: the same schema otherwise, owned by the
    // restoring user, with default privileges.
    let bare = format!("{src}_bare");
    cleanup.databases.push(bare.clone());
    restore_into(&server, &sink, &entry.name, &bare, false, false, 2)
        .await
        .unwrap();
    assert_same_schema(&src, &bare, true);
    assert!(
        schema_text(&src, false) != schema_text(&bare, false),
        "the oracle does not see owners and privileges"
    );
    for line in [
        // pg_dump quotes a name only when it must.
        format!("ALTER TABLE app.t OWNER TO {};", r.owner),
        "REVOKE ALL ON FUNCTION app.f(i integer) FROM PUBLIC;".to_owned(),
        format!(
            "GRANT SELECT(pub),UPDATE(pub) ON TABLE app.t TO \"{}\";",
            r.other
        ),
        format!("SET SESSION AUTHORIZATION {};", r.reader),
    ] {
        assert!(
            schema_text(&src, false).contains(&line),
            "the source's dump lacks {line}"
        );
    }
    let me = psql_value(&bare, "SELECT current_user");
    let owners = psql_value(
        &bare,
        "SELECT string_agg(DISTINCT pg_get_userbyid(o), ',') FROM ( \
           SELECT relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' \
           UNION ALL SELECT proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app' \
           UNION ALL SELECT typowner FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'app' \
           UNION ALL SELECT nspowner FROM pg_namespace WHERE nspname = 'app') x(o)",
    );
    assert_eq!(owners, me);
    assert_eq!(
        psql_value(
            &bare,
            &format!(
                "SELECT has_function_privilege('{}', 'app.f(integer)', 'EXECUTE')",
                r.other
            )
        ),
        "t",
        "a restore without --grants keeps the target's defaults"
    );

    // Grants alone: the restoring user owns everything, the source's other
    // privileges and revoked defaults are there.
    let grants_only = format!("{src}_grants");
    cleanup.databases.push(grants_only.clone());
    restore_into(&server, &sink, &entry.name, &grants_only, false, true, 2)
        .await
        .unwrap();
    let check = |sql: String| psql_value(&grants_only, &sql);
    assert_eq!(
        check(format!(
            "SELECT has_function_privilege('{}', 'app.f(integer)', 'EXECUTE'), \
                    has_function_privilege('{}', 'app.f(integer)', 'EXECUTE'), \
                    has_column_privilege('{}', 'app.t', 'pub', 'UPDATE'), \
                    has_column_privilege('{}', 'app.t', 'secret', 'SELECT'), \
                    pg_get_userbyid(relowner) = current_user FROM pg_class WHERE oid = 'app.t'::regclass",
            r.reader, r.other, r.other, r.other
        )),
        "t|f|t|f|t"
    );

    // The drill checks what it was asked to carry.
    for (owners, grants) in [(true, true), (false, true), (true, false), (false, false)] {
        let opts = RestoreOptions {
            owners,
            grants,
            ..Default::default()
        };
        let d = drill_with(&sink, &entry.name, &server, &Adapters, &opts)
            .await
            .unwrap();
        assert!(
            d.passed,
            "owners {owners} grants {grants}: {:?}",
            d.schema_differences
        );
    }
    // And fails when the restore does not give back the backup's
    // privileges: an entry whose privilege no GRANT can spell is left out.
    let mut changed = (*schema).clone();
    let cat = changed.postgres.as_mut().unwrap();
    let f = cat
        .access
        .iter_mut()
        .find(|a| a.name == "app.f(integer)")
        .unwrap();
    f.acl.as_mut().unwrap().push(PgGrant {
        grantee: Some(r.other.clone()),
        grantor: r.owner.clone(),
        privileges: vec!["execute; --".into()],
        grantable: Vec::new(),
    });
    let w = BackupWriter::create(
        &sink,
        "changed",
        changed,
        SourceInfo::now("postgresql", &src),
        WriteOptions::new(Encryption::None),
    )
    .await
    .unwrap();
    let changed = w.finish().await.unwrap();
    let d = drill_with(
        &sink,
        &changed.name,
        &server,
        &Adapters,
        &RestoreOptions {
            owners: true,
            grants: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!d.passed);
    assert_eq!(
        d.schema_differences,
        ["function app.f(integer) privileges differ"]
    );
    drop(cleanup);
}

/// A role the backup names that the target server lacks fails the restore
/// before anything is created, naming the role; without the options the
/// same backup restores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_role_fails_before_the_target_is_touched() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    if !tools_present() {
        return;
    }
    let mut cleanup = Cleanup {
        databases: Vec::new(),
        roles: Vec::new(),
    };
    let gone = unique("covet_role_gone");
    let src = unique("covet_own_gone");
    cleanup.databases.push(src.clone());
    cleanup.roles.push(gone.clone());
    psql("postgres", &format!("CREATE ROLE \"{gone}\" NOLOGIN"));
    create_db(&server, &src).await;
    psql(
        &src,
        &format!(
            "CREATE TABLE public.t (id int); ALTER TABLE public.t OWNER TO \"{gone}\"; \
             CREATE TABLE public.u (id int); GRANT SELECT ON public.u TO \"{gone}\";"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let entry = backup_of(&server, &src, &sink).await;
    // The role disappears with everything it owned.
    cleanup.run();
    cleanup.roles.push(gone.clone());

    for (owners, grants) in [(true, false), (false, true)] {
        let dst = unique("covet_own_missing");
        cleanup.databases.push(dst.clone());
        let e = restore_into(&server, &sink, &entry.name, &dst, owners, grants, 2)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, BackupError::MissingRoles { count: 1, roles } if *roles == gone),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains(&gone) && !msg.contains('\n'), "{msg}");
        assert!(
            !db_exists(&server, &dst).await,
            "the target database was created"
        );
    }
    let dst = unique("covet_own_missing");
    cleanup.databases.push(dst.clone());
    restore_into(&server, &sink, &entry.name, &dst, false, false, 2)
        .await
        .unwrap();
    drop(cleanup);
}
