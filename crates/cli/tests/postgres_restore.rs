//! Postgres restores against real PostgreSQL servers: over existing data (`--force`,
//! safety backup, `--clean`), all databases with globals onto another server, into a
//! missing database keeping its encoding, locale, owner, ACL, comment and settings, and
//! a SQL_ASCII database with bytes that are not UTF-8.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::pg::{backed_up_shop, pg_config, shop};
use support::{PgServer, Workspace};

#[test]
fn restore_over_data_needs_force_and_takes_a_safety_backup_first() {
    let (server, ws) = backed_up_shop();
    let backed_up = server.fingerprint("shop");
    server.exec("shop", "DELETE FROM customers WHERE id > 10; CREATE TABLE added_later (x int); INSERT INTO added_later VALUES (1)");
    let changed = server.fingerprint("shop");

    let refused = ws.run(&["restore", "shop/db"]).assert_code(1);
    assert!(
        refused.stderr.contains("holds data") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        server.fingerprint("shop"),
        changed,
        "a refused restore changed nothing"
    );

    let plan = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    assert!(plan.stdout.contains("pre-restore"), "{}", plan.stdout);
    assert_eq!(
        server.fingerprint("shop"),
        changed,
        "--plan changed nothing"
    );

    ws.run(&["restore", "shop/db", "--force"]).assert_ok();
    let restored = server.fingerprint("shop");
    // --clean --if-exists drops what the backup has; a table created later stays.
    let without_added: Vec<_> = restored
        .iter()
        .filter(|(t, _, _)| t != "public.added_later")
        .cloned()
        .collect();
    assert_eq!(without_added, backed_up);

    let safety: Vec<_> = ws
        .snapshots_of("shop", "db")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .collect();
    assert_eq!(safety.len(), 1, "one safety backup");
    // The safety backup holds the changed state: restore it elsewhere and compare.
    let id = safety[0]["id"].as_str().unwrap();
    ws.run(&[
        "restore",
        "shop/db",
        "--snapshot",
        &id[..8],
        "--to",
        &server.url("postgres", "before"),
    ])
    .assert_ok();
    assert_eq!(server.fingerprint("before"), changed);
}

#[test]
fn all_databases_with_globals_restore_onto_another_server_and_verify() {
    let server = PgServer::start();
    shop(&server);
    server.create_db("crm");
    server.exec("crm", "CREATE TABLE leads (id int PRIMARY KEY, email text); INSERT INTO leads SELECT g, 'l' || g || '@x' FROM generate_series(1, 77) g;");
    server.exec(
        "postgres",
        "CREATE ROLE reporting LOGIN; CREATE ROLE auditors NOLOGIN; CREATE ROLE shop_owner",
    );
    server.exec("postgres", LATIN1_DB);
    server.exec("latin", LATIN1_PROPS);
    let ws = Workspace::new();
    ws.config(&format!(
        "[[app]]\nname = \"zync\"\n\n[[app.source]]\nname = \"cluster\"\nkind = \"postgres\"\nurl = \"{}\"\ndatabases = \"all\"\n",
        server.url("postgres", "postgres")
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let manifest = ws.manifest("zync/cluster");
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        vec![
            "crm.pgdump",
            "globals.sql",
            "latin.pgdump",
            "postgres.pgdump",
            "shop.pgdump"
        ]
    );
    let tables: Vec<&str> = manifest["facts"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"crm:public.leads") && tables.contains(&"shop:public.customers"),
        "{tables:?}"
    );

    let other = PgServer::start();
    ws.run(&[
        "restore",
        "zync/cluster",
        "--to",
        &other.url("postgres", "postgres"),
    ])
    .assert_ok();
    assert_eq!(other.fingerprint("shop"), server.fingerprint("shop"));
    assert_eq!(other.fingerprint("crm"), server.fingerprint("crm"));
    for db in ["shop", "crm", "latin"] {
        assert_eq!(
            database_properties(&other, db),
            database_properties(&server, db),
            "{db} created as it was on a fresh cluster"
        );
    }
    assert_eq!(other.fingerprint("latin"), server.fingerprint("latin"));
    let roles = other
        .client("postgres")
        .query(
            "SELECT rolname FROM pg_roles WHERE rolname IN ('reporting', 'auditors') ORDER BY 1",
            &[],
        )
        .unwrap();
    assert_eq!(roles.len(), 2, "globals restored the roles");

    let verified = ws.run(&["verify"]).assert_ok();
    assert!(
        verified.stdout.contains("globals restored"),
        "{}",
        verified.stdout
    );
}

#[test]
fn globals_with_one_database_bring_roles_along() {
    let server = PgServer::start();
    shop(&server);
    server.exec("postgres", "CREATE ROLE shop_owner LOGIN");
    server.exec("shop", "ALTER TABLE customers OWNER TO shop_owner");
    let ws = Workspace::new();
    ws.config(&format!("{}globals = true\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let other = PgServer::start();
    ws.run(&["restore", "shop/db", "--to", &other.url("postgres", "shop")])
        .assert_ok();
    let owner: String = other
        .client("shop")
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'customers'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        owner, "shop_owner",
        "the role existed before the tables were restored"
    );
    assert_eq!(other.fingerprint("shop"), server.fingerprint("shop"));
}

/// The properties of database `db` that a restore must keep, as text.
fn database_properties(server: &PgServer, db: &str) -> Vec<String> {
    let mut c = server.client("postgres");
    let row = c
        .query_one(
            "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text, \
             datlocprovider::text, pg_get_userbyid(datdba)::text, datconnlimit::text, \
             coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(datacl) a), ''), \
             md5(coalesce(shobj_description(oid, 'pg_database'), '')), \
             coalesce((SELECT string_agg(coalesce(r.rolname, '*') || ':' || array_to_string(s.setconfig, ','), ';' ORDER BY 1) \
               FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid), '') \
             FROM pg_database d WHERE datname = $1",
            &[&db],
        )
        .unwrap();
    (0..row.len()).map(|i| row.get(i)).collect()
}

const LATIN1_DB: &str = "CREATE DATABASE latin WITH TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C' OWNER shop_owner CONNECTION LIMIT 40";

const LATIN1_PROPS: &str = "COMMENT ON DATABASE latin IS 'caf\u{e9} \u{ff}'; \
    ALTER DATABASE latin SET work_mem = '7MB'; ALTER ROLE reporting IN DATABASE latin SET statement_timeout = '1min'; \
    REVOKE CONNECT, TEMPORARY ON DATABASE latin FROM PUBLIC; GRANT CONNECT ON DATABASE latin TO reporting; \
    CREATE TABLE words (id int PRIMARY KEY, w text); INSERT INTO words VALUES (1, 'caf\u{e9}'), (2, '\u{ff}\u{e0}')";

#[test]
fn restore_into_a_missing_database_keeps_encoding_locale_owner_acl_comment_and_settings() {
    let server = PgServer::start();
    server.exec(
        "postgres",
        "CREATE ROLE shop_owner LOGIN; CREATE ROLE reporting LOGIN",
    );
    server.exec("postgres", LATIN1_DB);
    server.exec("latin", LATIN1_PROPS);
    let ws = Workspace::new();
    ws.config(&pg_config(&server, "latin"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let original = database_properties(&server, "latin");
    assert_eq!(original[0], "LATIN1");
    for jobs in ["1", "2"] {
        ws.config(&format!("{}jobs = {jobs}\n", pg_config(&server, "latin")));
        let copy = format!("latin copy \"{jobs}\"");
        let to = server.url("postgres", &copy);
        let plan = ws
            .run(&["restore", "shop/db", "--to", &to, "--plan"])
            .assert_ok();
        assert!(
            plan.stdout.contains("as the backup's DATABASE entry says"),
            "{}",
            plan.stdout
        );
        ws.run(&["restore", "shop/db", "--to", &to]).assert_ok();
        // The ACL names the database's owner, not its name: equal across names.
        assert_eq!(
            database_properties(&server, &copy),
            original,
            "jobs = {jobs}"
        );
        assert_eq!(server.fingerprint(&copy), server.fingerprint("latin"));
    }
    // An existing database of another encoding: refused, unless --clean recreates it.
    server.create_db("utf8_one");
    server.exec("utf8_one", "CREATE TABLE t (x int)");
    let to = server.url("postgres", "utf8_one");
    let refused = ws
        .run(&["restore", "shop/db", "--to", &to, "--force"])
        .assert_code(1);
    assert!(
        refused.stderr.contains("encoding UTF8") && refused.stderr.contains("--clean"),
        "{}",
        refused.stderr
    );
    ws.run(&["restore", "shop/db", "--to", &to, "--force", "--clean"])
        .assert_ok();
    assert_eq!(database_properties(&server, "utf8_one"), original);
    assert_eq!(server.fingerprint("utf8_one"), server.fingerprint("latin"));
}

#[test]
fn restore_of_a_sql_ascii_database_with_non_utf8_bytes_keeps_them_and_restores_again() {
    let server = PgServer::start();
    server.exec(
        "postgres",
        "CREATE DATABASE raw WITH TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C'",
    );
    server.exec(
        "raw",
        "CREATE TABLE bytes (id int PRIMARY KEY, t text); \
         INSERT INTO bytes SELECT g, convert_from(decode('e9ff80' || lpad(to_hex(g), 2, '0'), 'hex'), 'SQL_ASCII') FROM generate_series(1, 200) g; \
         DO $$ BEGIN EXECUTE 'COMMENT ON DATABASE raw IS ' || quote_literal(convert_from('\\xe9fe'::bytea, 'SQL_ASCII')); END $$",
    );
    let ws = Workspace::new();
    ws.config(&pg_config(&server, "raw"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let to = server.url("postgres", "raw_copy");
    ws.run(&["restore", "shop/db", "--to", &to]).assert_ok();
    assert_eq!(
        database_properties(&server, "raw_copy"),
        database_properties(&server, "raw")
    );
    assert_eq!(server.fingerprint("raw_copy"), server.fingerprint("raw"));
    // The copy backs up and restores again, byte for byte.
    ws.config(&pg_config(&server, "raw_copy"));
    ws.run(&["backup"]).assert_ok();
    ws.run(&[
        "restore",
        "shop/db",
        "--to",
        &server.url("postgres", "raw_again"),
    ])
    .assert_ok();
    assert_eq!(server.fingerprint("raw_again"), server.fingerprint("raw"));
    ws.run(&["verify"]).assert_ok();
}

#[test]
fn restore_clean_drops_tables_that_are_not_in_the_backup() {
    let (server, ws) = backed_up_shop();
    let backed_up = server.fingerprint("shop");
    let props = database_properties(&server, "shop");
    server.exec("shop", "CREATE TABLE added_later (x int); INSERT INTO added_later VALUES (1); CREATE SCHEMA extra; CREATE TABLE extra.t (y int); DELETE FROM customers WHERE id > 5");
    let _idle = server.client("shop"); // a connected session does not stop --clean
    let plain = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    assert!(plain.stdout.contains("other objects"), "{}", plain.stdout);
    let plan = ws
        .run(&["restore", "shop/db", "--force", "--clean", "--plan"])
        .assert_ok();
    assert!(
        plan.stdout.contains("drop database shop")
            && plan.stdout.contains("objects not in the backup are gone"),
        "{}",
        plan.stdout
    );
    let help = ws.run(&["restore", "--help"]).assert_ok();
    assert!(
        help.stdout.contains("objects not in the backup are gone"),
        "{}",
        help.stdout
    );
    ws.run(&["restore", "shop/db", "--force", "--clean"])
        .assert_ok();
    assert_eq!(
        server.fingerprint("shop"),
        backed_up,
        "exactly the backup, nothing else"
    );
    assert_eq!(database_properties(&server, "shop"), props);
}
