//! A PostgreSQL restore gives back the same data and an equivalent schema,
//! with pg_dump as the oracle: a kitchen-sink schema holding every object
//! kind and column type a backup carries, and the Chinook sample database
//! (tests/data). Each is backed up, restored into a fresh database created
//! by the restore, and compared: sorted `pg_dump --data-only --inserts`
//! identical, `pg_dump --schema-only` identical, an INSERT that relies on
//! each sequence succeeds, the drill passes, and the SQL export loaded with
//! psql gives the same dumps. Before format 2 the kitchen
//! sink failed at create (text[] has no Value mapping) and Chinook lost its
//! sequences' ownership and views.
//!
//! Differences allowed between source and restore: none beyond the
//! database name, which no plain pg_dump output contains. Owners and
//! grants are not compared (everything is created by one superuser).

mod support;

use std::path::Path;
use std::process::Command;

use covet_backup::*;
use covet_core::{DatabaseUrl, Statement};
use support::db::{Adapters, create_db, drop_db, server_url, unique};
use support::pg_tools::{PG_DUMP, psql, run, tool_url};
use support::suite::connect;

fn pg_dump(db: &str, args: &[&str]) -> String {
    run(Command::new(PG_DUMP).args(args).args([
        "--no-owner",
        "--no-privileges",
        "-d",
        &tool_url(db),
    ]))
}

/// The rows of `--data-only --inserts`, sorted: row order is the heap's,
/// which a load does not promise to keep.
fn data_lines(db: &str) -> Vec<String> {
    let mut v: Vec<String> = pg_dump(db, &["--data-only", "--inserts"])
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("--") && !is_restrict_key(l))
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// pg_dump 15.14 and later frame their output with `\restrict KEY` /
/// `\unrestrict KEY`, a random key per run: the one difference allowed.
fn is_restrict_key(line: &str) -> bool {
    line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ")
}

fn schema_text(db: &str) -> String {
    pg_dump(db, &["--schema-only"])
        .lines()
        .filter(|l| !is_restrict_key(l))
        .collect::<Vec<_>>()
        .join("\n")
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

/// Backs `src` up, restores it into a new database, compares with pg_dump,
/// runs `inserts` on the restore (each relies on a sequence), and drills.
async fn check(server: &DatabaseUrl, src: &str, inserts: &[&str]) {
    let dst = format!("{src}_restored");
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let key = KeySource::Raw([5; 32]);
    let a = connect(&server.with_database(src)).await;
    let mut opts = CreateOptions::new(WriteOptions {
        // Small chunks, so tables span several and rows cross pieces.
        chunk_size: 16 << 10,
        ..WriteOptions::new(Encryption::Key(key.clone()))
    });
    opts.parallelism = 2;
    let entry = create_backup(a.clone(), src, &sink, opts).await.unwrap();
    a.close().await;

    // Over four connections (a database the restore creates), and over
    // one, in one transaction: the same database.
    let dst1 = format!("{src}_restored_serial");
    for (db, parallelism) in [(&dst, 4), (&dst1, 1)] {
        let ropts = RestoreOptions {
            key: Some(key.clone()),
            parallelism,
            ..Default::default()
        };
        restore(
            &sink,
            &entry.name,
            &server.with_database(db),
            &Adapters,
            &ropts,
        )
        .await
        .unwrap();
    }
    assert!(schema_text(&dst) == schema_text(&dst1));
    assert!(data_lines(&dst) == data_lines(&dst1));
    drop_db(server, &dst1).await;

    let (sd, dd) = (data_lines(src), data_lines(&dst));
    assert!(sd.len() > 10, "too little data to compare: {sd:?}");
    if sd != dd {
        let only_src: Vec<_> = sd.iter().filter(|l| !dd.contains(l)).take(5).collect();
        let only_dst: Vec<_> = dd.iter().filter(|l| !sd.contains(l)).take(5).collect();
        panic!("data differs\nsource only: {only_src:#?}\nrestore only: {only_dst:#?}");
    }
    let (ss, ds) = (schema_text(src), schema_text(&dst));
    if ss != ds {
        let sl: Vec<&str> = ss.lines().collect();
        let dl: Vec<&str> = ds.lines().collect();
        let only_src: Vec<_> = sl.iter().filter(|l| !dl.contains(l)).take(12).collect();
        let only_dst: Vec<_> = dl.iter().filter(|l| !sl.contains(l)).take(12).collect();
        panic!("schema differs\nsource only: {only_src:#?}\nrestore only: {only_dst:#?}");
    }

    // `export --format sql` loads with psql into the same database again.
    let via_sql = format!("{src}_sql");
    create_db(server, &via_sql).await;
    let sql_file = dir.path().join("export.sql");
    export_sql_to_file(&sink, &entry.name, Some(&key), &sql_file)
        .await
        .unwrap();
    psql(&via_sql, &std::fs::read_to_string(&sql_file).unwrap());
    assert!(
        data_lines(&via_sql) == sd,
        "the SQL export loads other data"
    );
    assert!(
        schema_text(&via_sql) == ss,
        "the SQL export loads another schema"
    );
    drop_db(server, &via_sql).await;

    let r = connect(&server.with_database(&dst)).await;
    // The catalog read back as a backup reads it is the backup's (before
    // the inserts move the sequences).
    let backup_schema = verify(&sink, &entry.name, Some(&key)).await.unwrap().schema;
    let diffs = schema_differences(r.as_ref(), &backup_schema)
        .await
        .unwrap();
    assert!(diffs.is_empty(), "{diffs:?}");
    for s in inserts {
        r.execute(&Statement::new(*s))
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    r.close().await;

    let d = drill(&sink, &entry.name, server, &Adapters, Some(&key))
        .await
        .unwrap();
    assert!(d.passed, "{:?} {:?}", d.tables, d.schema_differences);
    assert!(d.schema_differences.is_empty());
    assert_eq!(
        d.tables.len() as u64,
        entry_tables(&sink, &entry.name, &key).await
    );
    drop_db(server, &dst).await;
}

async fn entry_tables(sink: &LocalDirSink, name: &str, key: &KeySource) -> u64 {
    verify(sink, name, Some(key))
        .await
        .unwrap()
        .manifest
        .totals
        .tables
}

const KITCHEN_SINK: &str = r#"
CREATE EXTENSION btree_gist;
CREATE EXTENSION citext;
CREATE EXTENSION hstore WITH SCHEMA public;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'the application''s schema';
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy', 'ünïcödé ☃');
CREATE DOMAIN app.posint AS integer NOT NULL DEFAULT 1 CONSTRAINT posint_check CHECK (VALUE > 0);
CREATE DOMAIN app.email AS citext CHECK (VALUE ~ '@');
COMMENT ON DOMAIN app.email IS 'an address';
CREATE TYPE app.pair AS (a integer, b text COLLATE "C");
CREATE TYPE app.floatrange AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi);
CREATE SEQUENCE app.loose_seq START 100 INCREMENT 5;
CREATE SEQUENCE public.order_no_seq AS integer MAXVALUE 1000000 CYCLE;
CREATE FUNCTION app.add1(i integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT i + 1 $$;
COMMENT ON FUNCTION app.add1(integer) IS 'adds one';
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated := now();
  RETURN NEW;
END $$;
CREATE FUNCTION app.nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE PROCEDURE app.noop(x integer) LANGUAGE plpgsql AS $$ BEGIN PERFORM x; END $$;
CREATE FUNCTION app.sum_sfunc(state bigint, v integer) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS $$ SELECT state + coalesce(v, 0) $$;
CREATE AGGREGATE app.mysum(integer) (SFUNC = app.sum_sfunc, STYPE = bigint, INITCOND = '0');

CREATE TABLE app.kinds (
  id bigserial PRIMARY KEY,
  ident integer GENERATED ALWAYS AS IDENTITY (START WITH 10 INCREMENT BY 2),
  b boolean, i2 smallint, i4 integer, i8 bigint, n numeric(30,10), nn numeric, r4 real, r8 double precision,
  m money, t text, vc varchar(20), ch char(5), by bytea,
  d date, tm time, tmtz timetz, ts timestamp(3), tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, x xml,
  ia integer[], ta text[], ia2 integer[],
  tsv tsvector, tsq tsquery,
  ir int4range, nr numrange, tsr tstzrange, dr daterange, imr int4multirange, fr app.floatrange,
  inet_ inet, cidr_ cidr, mac macaddr, mac8 macaddr8,
  bt bit(8), vb varbit,
  pt point, ln line, ls lseg, bx box, pa path, pg polygon, ci circle,
  mood app.mood, pr app.pair, pos app.posint, em app.email, h public.hstore, ct citext COLLATE "C",
  rc regclass,
  doubled integer GENERATED ALWAYS AS (i4 * 2) STORED,
  updated timestamptz DEFAULT now(),
  CONSTRAINT kinds_i4_check CHECK (i4 IS NULL OR i4 > -2000000000)
);
COMMENT ON TABLE app.kinds IS 'every type';
COMMENT ON COLUMN app.kinds.t IS 'some text';
CREATE INDEX kinds_partial ON app.kinds (i4) WHERE i4 > 0;
CREATE INDEX kinds_expr ON app.kinds (lower(t));
CREATE INDEX kinds_gin ON app.kinds USING gin (tsv);
CREATE INDEX kinds_gist ON app.kinds USING gist (ir);
CREATE INDEX kinds_brin ON app.kinds USING brin (ts);
CREATE UNIQUE INDEX kinds_vc_uniq ON app.kinds (vc) NULLS NOT DISTINCT;
COMMENT ON INDEX app.kinds_gin IS 'full text';
CREATE TRIGGER kinds_touch BEFORE UPDATE ON app.kinds FOR EACH ROW EXECUTE FUNCTION app.touch();
CREATE TRIGGER kinds_touch_off BEFORE INSERT ON app.kinds FOR EACH ROW WHEN (false) EXECUTE FUNCTION app.touch();
ALTER TABLE app.kinds DISABLE TRIGGER kinds_touch_off;

CREATE TABLE app.events (id bigint NOT NULL, at date NOT NULL, payload text, CHECK (id > 0),
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.events_2024 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
CREATE INDEX events_payload_idx ON app.events (payload);
CREATE TABLE app.by_list (k text NOT NULL, v int) PARTITION BY LIST (k);
CREATE TABLE app.by_list_ab PARTITION OF app.by_list FOR VALUES IN ('a', 'b') PARTITION BY HASH (v);
CREATE TABLE app.by_list_ab0 PARTITION OF app.by_list_ab FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE app.by_list_ab1 PARTITION OF app.by_list_ab FOR VALUES WITH (MODULUS 2, REMAINDER 1);

CREATE TABLE app.booking (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&));
CREATE UNLOGGED TABLE app.cache (k text PRIMARY KEY, v jsonb) WITH (fillfactor = 70);

CREATE TABLE public.parent (id integer PRIMARY KEY, code text UNIQUE);
CREATE TABLE public.child (
  id serial PRIMARY KEY,
  parent_id integer REFERENCES public.parent (id) ON DELETE CASCADE ON UPDATE SET NULL DEFERRABLE INITIALLY DEFERRED,
  code text,
  CONSTRAINT child_code_fk FOREIGN KEY (code) REFERENCES public.parent (code) ON UPDATE CASCADE ON DELETE SET DEFAULT,
  CONSTRAINT child_later CHECK (id < 1000000) NOT VALID
);
COMMENT ON CONSTRAINT child_code_fk ON public.child IS 'by code';
CREATE TABLE public.orders (no integer DEFAULT nextval('public.order_no_seq') PRIMARY KEY, note text);
ALTER TABLE public.parent ENABLE ROW LEVEL SECURITY;
CREATE POLICY parent_read ON public.parent FOR SELECT TO PUBLIC USING (id > 0);
CREATE POLICY parent_write ON public.parent AS RESTRICTIVE FOR UPDATE USING (code IS NOT NULL) WITH CHECK (id < 100);

CREATE VIEW app.kind_view AS SELECT id, app.add1(i4) AS plus, mood FROM app.kinds WHERE b;
CREATE MATERIALIZED VIEW app.kind_mv AS SELECT mood, count(*) AS n, app.mysum(i4) AS s FROM app.kinds GROUP BY mood;
CREATE UNIQUE INDEX kind_mv_mood ON app.kind_mv (mood);
CREATE MATERIALIZED VIEW app.empty_mv AS SELECT 1 AS one WITH NO DATA;
CREATE VIEW public.child_view WITH (security_barrier) AS
  SELECT c.id, p.code FROM public.child c JOIN public.parent p ON p.id = c.parent_id;
COMMENT ON VIEW public.child_view IS 'children';

INSERT INTO app.kinds (b, i2, i4, i8, n, nn, r4, r8, m, t, vc, ch, by, d, tm, tmtz, ts, tstz, iv, u, j, jb, x,
  ia, ta, ia2, tsv, tsq, ir, nr, tsr, dr, imr, fr, inet_, cidr_, mac, mac8, bt, vb, pt, ln, ls, bx, pa, pg, ci,
  mood, pr, pos, em, h, ct, rc) VALUES
 (true, 32767, 1000000000, 9223372036854775807, 12345678901234567890.0123456789, 'NaN', 'Infinity', 1.7976931348623157e308,
  92233720368547758.07, E'tab\there\nnewline \\ backslash ünïcödé 🎉', 'v1', 'ab', '\x00ff10'::bytea,
  '4713-01-01 BC', '24:00:00', '23:59:59.999999+14', 'infinity', '2024-02-29 12:34:56.789012+05:30', '-178000000 years 1 mon -2 days 03:04:05.000006',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, null], "a": "dup"}', '{"b": {"c": true}, "a": 1}', '<a x="1">ü<b/></a>',
  '{1,NULL,-3}', '{"with space","with,comma","with\"quote",NULL,""}', '{{1,2},{3,4}}',
  'a fat cat:1A sat & on:2B', 'fat & (rat | cat)', '[1,10)', '(,5.5]', '[2024-01-01 00:00+00,infinity)', 'empty', '{[1,3), [5,7)}', '[1.5,2.5]',
  '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', B'10101010', B'101',
  '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),1.5>',
  'ünïcödé ☃', ROW(1, 'x'), 42, 'Some@Example.com', 'a=>1, "b c"=>NULL', 'MiXeD', 'app.kinds'),
 (false, -32768, -1000000000, -9223372036854775808, -0.0000000001, '-1e-300', '-Infinity', 'NaN',
  -92233720368547758.08, '', 'v2', NULL, ''::bytea,
  '0001-01-01', '00:00:00', '00:00:00-15:59', '-infinity', '-infinity', '0', '00000000-0000-0000-0000-000000000000', 'null', '[]', '',
  '{}', '{}', '{}', '', '!x', 'empty', '[-1e-30,1e30]', 'empty', '[2024-01-01,2024-12-31)', '{}', 'empty',
  '0.0.0.0', '::/0', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff:ff:ff', B'00000000', B'',
  '(0,0)', '{0,1,0}', '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>',
  'sad', ROW(NULL, NULL), 1, '@', '', '', 'pg_catalog.pg_class'),
 (NULL, NULL, NULL, NULL, NULL, NULL, 1.17549435e-38, 4.9e-324, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT, NULL, NULL, NULL, NULL);
-- Created before what it comes to depend on: creation order is not enough.
CREATE TABLE app.early (id int);
CREATE TYPE app.later AS (x int, y text);
CREATE FUNCTION app.later_fn(v int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT v * 3 $$;
ALTER TABLE app.early ADD COLUMN l app.later, ADD COLUMN g int GENERATED ALWAYS AS (app.later_fn(id)) STORED;
CREATE VIEW app.early_view AS SELECT 1 AS one;
CREATE TABLE app.late_table (v int);
CREATE OR REPLACE VIEW app.early_view AS SELECT 1 AS one, count(*) AS n FROM app.late_table;
INSERT INTO app.early VALUES (1, ROW(2, 'z'));
CREATE SCHEMA "Odd ""Schema""";
CREATE TABLE "Odd ""Schema"""."Mixed Case.t" ("Col, A" int GENERATED BY DEFAULT AS IDENTITY, "quote""d" text, "ünï" text);
CREATE CONSTRAINT TRIGGER odd_check AFTER INSERT ON "Odd ""Schema"""."Mixed Case.t" DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION app.nothing();
COMMENT ON PROCEDURE app.noop(integer) IS 'does nothing';
INSERT INTO "Odd ""Schema"""."Mixed Case.t" ("quote""d", "ünï") VALUES ('a', 'b'), (NULL, E'\\N');
INSERT INTO app.events VALUES (1, '2024-03-01', 'in 2024'), (2, '2023-03-01', 'default'), (3, '2024-12-31', NULL);
INSERT INTO app.by_list VALUES ('a', 1), ('b', 2), ('a', 3), ('b', NULL);
INSERT INTO app.booking VALUES (1, '[2024-01-01,2024-01-02)'), (1, '[2024-01-02,2024-01-03)');
INSERT INTO app.cache VALUES ('k', '{"v": 1}');
INSERT INTO public.parent VALUES (1, 'one'), (2, 'two'), (-1, NULL);
INSERT INTO public.child (parent_id, code) VALUES (1, 'one'), (2, NULL), (NULL, 'two');
INSERT INTO public.orders (note) VALUES ('first'), ('second');
SELECT nextval('app.loose_seq'), nextval('app.loose_seq');
REFRESH MATERIALIZED VIEW app.kind_mv;
"#;

/// An object a backup cannot carry fails `create` with its kind and name,
/// writing nothing, unless it is excluded explicitly by that name.
async fn refuses_what_it_cannot_carry(server: &DatabaseUrl, src: &str) {
    psql(
        src,
        "CREATE OPERATOR app.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq);
         CREATE TABLE public.kept_out (id int);",
    );
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let a = connect(&server.with_database(src)).await;
    let opts = || CreateOptions::new(WriteOptions::new(Encryption::None));
    let e = create_backup(a.clone(), src, &sink, opts())
        .await
        .unwrap_err();
    let BackupError::Refused { count, objects } = &e else {
        panic!("{e}");
    };
    assert_eq!(
        (*count, objects.as_str()),
        (1, "operator app.===(integer,integer)")
    );
    assert!(e.to_string().contains("operator app.===(integer,integer)"));
    assert!(sink.list().await.unwrap().is_empty());

    let mut o = opts();
    o.exclude = vec!["operator app.===(integer,integer)".into()];
    // A chosen schema list leaves the other schemas out.
    o.schemas = vec!["app".into()];
    let entry = create_backup(a.clone(), src, &sink, o).await.unwrap();
    a.close().await;
    let report = verify(&sink, &entry.name, None).await.unwrap();
    let names: Vec<&str> = report
        .manifest
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert!(names.contains(&"app.kinds"), "{names:?}");
    assert!(!names.iter().any(|n| !n.starts_with("app.")), "{names:?}");
    psql(
        src,
        "DROP OPERATOR app.=== (integer, integer); DROP TABLE public.kept_out;",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kitchen_sink_restores_exactly() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    if !tools_present() {
        return;
    }
    let src = unique("covet_fid_ks");
    create_db(&server, &src).await;
    psql(&src, KITCHEN_SINK);
    refuses_what_it_cannot_carry(&server, &src).await;
    check(
        &server,
        &src,
        &[
            "INSERT INTO app.kinds (t, vc) VALUES ('after restore', 'v3')",
            "INSERT INTO public.child (code) VALUES ('one')",
            "INSERT INTO public.orders (note) VALUES ('third')",
            "SELECT nextval('app.loose_seq')",
            r#"INSERT INTO "Odd ""Schema"""."Mixed Case.t" ("ünï") VALUES ('c')"#,
        ],
    )
    .await;
    drop_db(&server, &src).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinook_restores_exactly() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    if !tools_present() {
        return;
    }
    let script = include_str!("data/Chinook_PostgreSql_SerialPKs.sql");
    // The script drops, creates and connects to a database of its own;
    // everything after its `\c` line goes into the test's database.
    let body = &script[script.find("\\c chinook_serial;").unwrap()..];
    let body = &body[body.find('\n').unwrap()..];
    let src = unique("covet_fid_chinook");
    create_db(&server, &src).await;
    psql(&src, body);
    check(
        &server,
        &src,
        &[
            "INSERT INTO artist (name) VALUES ('after restore')",
            "INSERT INTO genre (name) VALUES ('after restore')",
            "INSERT INTO media_type (name) VALUES ('after restore')",
        ],
    )
    .await;
    drop_db(&server, &src).await;
}

/// A drill whose restore does not give back the backup's schema fails,
/// naming the objects: the backup here says an index is `app.t_a` while
/// its statement makes `app.t_other` (before the drill compared the
/// catalog, only the tables' rows were checked and this drill passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_fails_on_a_changed_schema() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    if !tools_present() {
        return;
    }
    let src = unique("covet_fid_changed");
    create_db(&server, &src).await;
    psql(
        &src,
        "CREATE SCHEMA app; CREATE TABLE app.t (a integer); CREATE INDEX t_a ON app.t (a);",
    );
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let a = connect(&server.with_database(&src)).await;
    let entry = create_backup(
        a.clone(),
        &src,
        &sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    a.close().await;
    let good = drill(&sink, &entry.name, &server, &Adapters, None)
        .await
        .unwrap();
    assert!(good.passed, "{:?}", good.schema_differences);

    let mut schema = (*verify(&sink, &entry.name, None).await.unwrap().schema).clone();
    let cat = schema.postgres.as_mut().unwrap();
    let index = cat
        .post_data
        .iter_mut()
        .find(|o| o.kind == "index")
        .expect("the index is in the backup");
    assert_eq!(index.name, "app.t_a");
    index.sql = index.sql.replace("INDEX t_a", "INDEX t_other");
    let w = BackupWriter::create(
        &sink,
        "changed",
        schema,
        SourceInfo::now("postgresql", &src),
        WriteOptions::new(Encryption::None),
    )
    .await
    .unwrap();
    let changed = w.finish().await.unwrap();
    let d = drill(&sink, &changed.name, &server, &Adapters, None)
        .await
        .unwrap();
    assert!(!d.passed);
    assert!(d.tables.iter().all(|t| t.checksum_equal));
    assert_eq!(
        d.schema_differences,
        [
            "index app.t_a missing",
            "index app.t_other not in the backup"
        ]
    );
    drop_db(&server, &src).await;
}
