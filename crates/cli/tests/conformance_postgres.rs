//! Conformance of the postgres kind: hostile databases (quoted and unicode names, large
//! objects, sequences, partitions, generated columns, materialized views, triggers,
//! LATIN1 and SQL_ASCII encodings, owners, comments, database settings and ACLs) are
//! backed up, restored into a missing database and over an existing modified one, and
//! compared exactly; then `lifeboat verify` runs on every backup. One server for all.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::{PgServer, Workspace};

const ROLES: &str =
    "CREATE ROLE conf_owner LOGIN; CREATE ROLE conf_app LOGIN; CREATE ROLE conf_reader";

/// Source database `odd` (its real name is [`ODD`]): everything but encodings.
const ODD: &str = "conf odd \"ü\"";

const ODD_SQL: &str = r#"
CREATE SCHEMA "Mixed Case ""Q"" ünï" AUTHORIZATION conf_app;
COMMENT ON SCHEMA "Mixed Case ""Q"" ünï" IS 'schema ✓ ''quoted''';
CREATE TYPE mood AS ENUM ('sad', 'ok', 'häppy');
CREATE TABLE "Mixed Case ""Q"" ünï"."table with spaces" (
    id int PRIMARY KEY, "Col ""Q""" text, "ünï" numeric, m mood, tags text[], doc jsonb);
INSERT INTO "Mixed Case ""Q"" ünï"."table with spaces"
SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE E'tab\there\nnew line \\ back ' || g || ' ✓ 𝄞' END,
       g / 7.0, (ARRAY['sad', 'ok', 'häppy'])[1 + g % 3]::mood, ARRAY['a,b', '"q"', NULL],
       jsonb_build_object('k', g, 'ü', repeat('x', g % 13))
FROM generate_series(1, 300) g;
ALTER TABLE "Mixed Case ""Q"" ünï"."table with spaces" OWNER TO conf_app;
COMMENT ON TABLE "Mixed Case ""Q"" ünï"."table with spaces" IS 'table comment';
COMMENT ON COLUMN "Mixed Case ""Q"" ünï"."table with spaces"."Col ""Q""" IS 'column ✓';
GRANT SELECT ON "Mixed Case ""Q"" ünï"."table with spaces" TO conf_reader;

CREATE SEQUENCE counter START 100 INCREMENT 7;
SELECT setval('counter', 4242, true);
CREATE SEQUENCE never_called;
CREATE TABLE with_serial (id bigserial PRIMARY KEY, v text);
INSERT INTO with_serial (v) SELECT 'v' || g FROM generate_series(1, 10) g;
CREATE TABLE with_identity (id int GENERATED ALWAYS AS IDENTITY (START 50), v text);
INSERT INTO with_identity (v) VALUES ('a'), ('b');

CREATE TABLE measurements (id int, at date NOT NULL, v float8) PARTITION BY RANGE (at);
CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE "measurements 2024" PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
INSERT INTO measurements SELECT g, date '2023-06-01' + g, g * 0.5 FROM generate_series(1, 700) g;

CREATE TABLE people (id int PRIMARY KEY, first text, last text,
    full_name text GENERATED ALWAYS AS (first || ' ' || last) STORED);
CREATE TABLE audit_log (id serial PRIMARY KEY, what text);
CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_log (what) VALUES (TG_OP || ' ' || NEW.id); RETURN NEW; END $$;
COMMENT ON FUNCTION audit_fn() IS 'writes the audit log';
ALTER FUNCTION audit_fn() OWNER TO conf_app;
CREATE TRIGGER people_audit AFTER INSERT OR UPDATE ON people FOR EACH ROW EXECUTE FUNCTION audit_fn();
INSERT INTO people (id, first, last) SELECT g, 'Zoë' || g, 'O''Brien' FROM generate_series(1, 40) g;
UPDATE people SET last = 'Ñúñez' WHERE id % 4 = 0;
CREATE MATERIALIZED VIEW people_stats AS SELECT count(*) AS n, max(full_name) AS last_name FROM people;
CREATE MATERIALIZED VIEW never_refreshed AS SELECT 1 AS x WITH NO DATA;
CREATE VIEW "people view" AS SELECT id, full_name FROM people WHERE id < 10;

CREATE TABLE files (id int PRIMARY KEY, blob oid);
INSERT INTO files VALUES (1, lo_from_bytea(0, '\x00ff00deadbeef'::bytea)),
                         (2, lo_from_bytea(0, decode(repeat('ab01', 300000), 'hex'))),
                         (3, lo_from_bytea(0, ''::bytea));
"#;

/// LATIN1 and SQL_ASCII databases: text in another encoding, and bytes in none.
const LATIN_SQL: &str = "CREATE TABLE words (id int PRIMARY KEY, w text); \
    INSERT INTO words SELECT g, 'café ÿ à ' || g FROM generate_series(1, 100) g; \
    COMMENT ON TABLE words IS 'mots accentués'";

const RAW_SQL: &str = "CREATE TABLE bytes (id int PRIMARY KEY, t text); \
    INSERT INTO bytes SELECT g, convert_from(decode('e9ff80' || lpad(to_hex(g), 2, '0'), 'hex'), 'SQL_ASCII') \
    FROM generate_series(1, 255) g; \
    DO $$ BEGIN EXECUTE 'COMMENT ON DATABASE raw IS ' || quote_literal(convert_from('\\xe9fe'::bytea, 'SQL_ASCII')); END $$";

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn setup(server: &PgServer, ws: &Workspace) {
    server.exec("postgres", ROLES);
    let odd = quote(ODD);
    server.exec(
        "postgres",
        &format!("CREATE DATABASE {odd} OWNER conf_owner CONNECTION LIMIT 50"),
    );
    server.exec(
        "postgres",
        &format!(
            "COMMENT ON DATABASE {odd} IS 'the odd one ✓ ''q'''; \
             ALTER DATABASE {odd} SET work_mem = '7MB'; \
             ALTER DATABASE {odd} SET search_path = \"$user\", public, \"Mixed Case \"\"Q\"\" ünï\"; \
             ALTER ROLE conf_app IN DATABASE {odd} SET statement_timeout = '1min'; \
             REVOKE CONNECT, TEMPORARY ON DATABASE {odd} FROM PUBLIC; \
             GRANT CONNECT ON DATABASE {odd} TO conf_app; \
             GRANT CONNECT, CREATE ON DATABASE {odd} TO conf_reader WITH GRANT OPTION"
        ),
    );
    server.exec(ODD, ODD_SQL);
    // lo_import reads a file on the server's side: one the server user can read.
    let lo = ws.path("lo.bin");
    std::fs::write(&lo, (0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()).unwrap();
    server.exec(
        ODD,
        &format!(
            "INSERT INTO files VALUES (4, lo_import('{}')); \
             DO $$ BEGIN \
               EXECUTE format('COMMENT ON LARGE OBJECT %s IS ''imported ✓''', (SELECT blob FROM files WHERE id = 4)); \
               EXECUTE format('ALTER LARGE OBJECT %s OWNER TO conf_app', (SELECT blob FROM files WHERE id = 1)); \
               EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO conf_reader', (SELECT blob FROM files WHERE id = 2)); \
             END $$",
            lo.display()
        ),
    );
    server.exec(
        "postgres",
        "CREATE DATABASE latin WITH TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C' OWNER conf_owner",
    );
    server.exec(
        "postgres",
        "CREATE DATABASE raw WITH TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C'",
    );
    server.exec("latin", LATIN_SQL);
    server.exec("latin", "COMMENT ON DATABASE latin IS 'base à accents'");
    server.exec("raw", RAW_SQL);
}

fn config(server: &PgServer, jobs: u32) -> String {
    [(ODD, "odd"), ("latin", "latin"), ("raw", "raw")]
        .iter()
        .map(|(db, name)| {
            format!(
                "[[app.source]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = '{}'\njobs = {jobs}\n\n",
                server.url("postgres", db)
            )
        })
        .fold("[[app]]\nname = \"conf\"\n\n".to_string(), |a, b| a + &b)
}

/// Everything a restore must bring back, as comparable values.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    schema: Vec<u8>,
    tables: Vec<(String, String)>,
    sequences: Vec<(String, String)>,
    large_objects: Vec<Vec<String>>,
    database: Vec<String>,
}

fn texts(
    c: &mut postgres::Client,
    sql: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> Vec<Vec<String>> {
    c.query(sql, args)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
        .collect()
}

fn schema_dump(server: &PgServer, db: &str) -> Vec<u8> {
    let out = std::process::Command::new(support::pg_bin().join("pg_dump"))
        .args([
            "--schema-only",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
            "--username",
            "postgres",
            "--dbname",
            db,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // \restrict lines carry a random key per run.
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.starts_with(b"\\restrict") && !l.starts_with(b"\\unrestrict"))
        .collect::<Vec<_>>()
        .join(&b'\n')
}

fn fingerprint(server: &PgServer, db: &str) -> Fingerprint {
    let mut c = server.client(db);
    let relations = texts(
        &mut c,
        "SELECT c.oid::regclass::text, c.relkind::text, c.relispopulated::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
        &[],
    );
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for r in relations {
        let (name, kind, populated) = (&r[0], &r[1], &r[2]);
        if kind == "S" {
            let v = texts(
                &mut c,
                &format!("SELECT last_value::text || '/' || is_called::text FROM {name}"),
                &[],
            );
            sequences.push((name.clone(), v[0][0].clone()));
        } else if populated == "false" {
            tables.push((name.clone(), "not populated".into()));
        } else {
            let q = format!("SELECT count(*)::text || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM {name} x");
            tables.push((name.clone(), texts(&mut c, &q, &[])[0][0].clone()));
        }
    }
    let large_objects = texts(
        &mut c,
        "SELECT oid::text, md5(lo_get(oid)), pg_get_userbyid(lomowner)::text, \
         coalesce(obj_description(oid, 'pg_largeobject'), ''), coalesce(lomacl::text, '') \
         FROM pg_largeobject_metadata ORDER BY oid",
        &[],
    );
    let database = texts(
        &mut server.client("postgres"),
        "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text, \
         datlocprovider::text, pg_get_userbyid(datdba)::text, datconnlimit::text, \
         coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(datacl) a), ''), \
         md5(coalesce(shobj_description(oid, 'pg_database'), '')), \
         coalesce((SELECT string_agg(coalesce(r.rolname, '*') || ':' || array_to_string(s.setconfig, ','), ';' ORDER BY 1) \
           FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid), '') \
         FROM pg_database d WHERE datname = $1",
        &[&db],
    )
    .remove(0);
    Fingerprint {
        schema: schema_dump(server, db),
        tables,
        sequences,
        large_objects,
        database,
    }
}

/// Changes every kind of thing a restore must put back, and adds things it must remove.
fn modify(server: &PgServer, db: &str) {
    let q = quote(db);
    server.exec(
        "postgres",
        &format!("COMMENT ON DATABASE {q} IS 'changed'; ALTER DATABASE {q} SET work_mem = '1MB'; ALTER DATABASE {q} OWNER TO postgres"),
    );
    let mut c = server.client(db);
    let tables = texts(
        &mut c,
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        &[],
    );
    for t in tables {
        c.batch_execute(&format!(
            "DELETE FROM {} WHERE ctid IN (SELECT ctid FROM {} LIMIT 3)",
            t[0], t[0]
        ))
        .unwrap();
    }
    c.batch_execute(
        "CREATE TABLE added_later (x int); INSERT INTO added_later VALUES (1); \
         CREATE SCHEMA extra; CREATE FUNCTION extra.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; \
         SELECT lo_from_bytea(0, 'extra');",
    )
    .unwrap();
}

/// Changes only rows and sequence values of the backup's own tables: a restore without
/// --clean must undo them exactly.
fn modify_rows(server: &PgServer, db: &str) {
    let mut c = server.client(db);
    let tables = texts(
        &mut c,
        "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
        &[],
    );
    for t in tables {
        c.batch_execute(&format!(
            "DELETE FROM {} WHERE ctid IN (SELECT ctid FROM {} LIMIT 2)",
            t[0], t[0]
        ))
        .unwrap();
    }
    let seqs = texts(
        &mut c,
        "SELECT c.oid::regclass::text FROM pg_class c WHERE relkind = 'S'",
        &[],
    );
    for s in seqs {
        c.batch_execute(&format!(
            "SELECT setval('{}', 77777)",
            s[0].replace('\'', "''")
        ))
        .unwrap();
    }
}

fn restore(ws: &Workspace, spec: &str, to: &str, extra: &[&str]) {
    let mut args = vec!["restore", spec, "--to", to];
    args.extend_from_slice(extra);
    ws.run(&args).assert_ok();
}

#[test]
fn hostile_postgres_databases_round_trip_exactly_into_new_and_over_existing_databases() {
    let server = PgServer::start();
    let ws = Workspace::new();
    setup(&server, &ws);
    ws.config(&config(&server, 1));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let cases = [
        (ODD, "odd", "copy of \"odd\" ü"),
        ("latin", "latin", "latin copy"),
        ("raw", "raw", "raw copy"),
    ];
    for (jobs, suffix) in [(1, ""), (2, " j2")] {
        ws.config(&config(&server, jobs));
        for (db, source, copy) in cases {
            let spec = format!("conf/{source}");
            let copy = format!("{copy}{suffix}");
            let to = server.url("postgres", &copy);
            let original = fingerprint(&server, db);
            assert_ne!(original.tables, vec![], "{db} has tables");
            if db == ODD {
                assert_eq!(original.large_objects.len(), 4, "large objects");
                assert!(original.sequences.len() >= 5, "{:?}", original.sequences);
                assert!(
                    original.database[8].contains("conf_app:statement_timeout=1min"),
                    "{:?}",
                    original.database
                );
            }

            restore(&ws, &spec, &to, &[]);
            assert_eq!(
                fingerprint(&server, &copy),
                original,
                "{db} into missing {copy}, jobs {jobs}"
            );

            modify_rows(&server, &copy);
            restore(&ws, &spec, &to, &["--force"]);
            assert_eq!(
                fingerprint(&server, &copy),
                original,
                "{db} over rows changed in {copy}, jobs {jobs}"
            );

            modify(&server, &copy);
            restore(&ws, &spec, &to, &["--force", "--clean"]);
            assert_eq!(
                fingerprint(&server, &copy),
                original,
                "{db} --clean over modified {copy}, jobs {jobs}"
            );
        }
    }
    let verified = ws.run(&["verify"]).assert_ok();
    for source in ["conf/odd", "conf/latin", "conf/raw"] {
        assert!(verified.stdout.contains(source), "{}", verified.stdout);
    }
}
