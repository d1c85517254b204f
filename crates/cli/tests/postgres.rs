//! The postgres kind against a real PostgreSQL started by the test: backups and dumps
//! (round trip, row counts of the dumped snapshot, passwords, a failing pg_dump, an
//! unreachable server, stock restic reading them). Restores are in
//! `postgres_restore.rs`, dumps and restores cut short in `postgres_interrupt.rs`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;
use support::pg::{assert_no_db_snapshot, backed_up_shop, pg_config, pg_dump_wrapper, shop};
use support::{PgServer, Workspace, PASSWORD};

#[test]
fn round_trip_restores_every_table_identically_into_another_database() {
    let (server, ws) = backed_up_shop();

    let manifest = ws.manifest("shop/db");
    let counts: Vec<(String, i64)> = manifest["facts"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    let original = server.fingerprint("shop");
    let expected: Vec<(String, i64)> = original.iter().map(|(t, n, _)| (t.clone(), *n)).collect();
    assert_eq!(counts, expected, "manifest row counts");
    assert!(manifest["tool_versions"][0]
        .as_str()
        .unwrap()
        .starts_with("pg_dump (PostgreSQL)"));

    ws.run(&[
        "restore",
        "shop/db",
        "--to",
        &server.url("postgres", "shop_copy"),
    ])
    .assert_ok();
    assert_eq!(server.fingerprint("shop_copy"), original);
    // jobs = 1: streamed from the repository straight into pg_restore (the default
    // spools to a file for pg_restore --jobs)
    ws.config(&format!("{}jobs = 1\n", pg_config(&server, "shop")));
    let to = server.url("postgres", "shop_stream");
    let plan = ws
        .run(&["restore", "shop/db", "--to", &to, "--plan"])
        .assert_ok();
    assert!(plan.stdout.contains("--jobs 1"), "{}", plan.stdout);
    ws.run(&["restore", "shop/db", "--to", &to]).assert_ok();
    assert_eq!(server.fingerprint("shop_stream"), original);
}

#[test]
fn row_counts_are_those_of_the_dumped_snapshot_while_writers_insert() {
    let server = PgServer::start();
    shop(&server);
    server.exec(
        "shop",
        "INSERT INTO customers (name) SELECT 'bulk' FROM generate_series(1, 200000)",
    );
    let ws = Workspace::new();
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut client = server.client("shop");
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                client.batch_execute("INSERT INTO customers (name) SELECT 'w' FROM generate_series(1, 100); INSERT INTO docs VALUES (100000 + (random() * 1e9)::int, '{}')").unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    ws.run(&["backup"]).assert_ok();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        writer.join().unwrap() > 0,
        "the writer ran during the backup"
    );

    ws.run(&[
        "restore",
        "shop/db",
        "--to",
        &server.url("postgres", "copy"),
    ])
    .assert_ok();
    let manifest = ws.manifest("shop/db");
    for table in manifest["facts"]["tables"].as_array().unwrap() {
        let name = table["table"].as_str().unwrap();
        let restored = server
            .fingerprint("copy")
            .into_iter()
            .find(|(t, _, _)| t == name)
            .unwrap()
            .1;
        assert_eq!(
            table["rows"].as_i64().unwrap(),
            restored,
            "{name}: manifest vs dumped data"
        );
    }
}

#[test]
fn password_reaches_pg_dump_only_through_a_0600_passfile() {
    let server = PgServer::start();
    shop(&server);
    server.exec(
        "postgres",
        &format!("CREATE ROLE app LOGIN PASSWORD '{PASSWORD}' ; GRANT pg_read_all_data TO app"),
    );
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, "exec $REAL \"$@\"");
    ws.env.push(("SHOP_DB_PASSWORD".into(), PASSWORD.into()));
    ws.config(&format!(
        "{}password_env = \"SHOP_DB_PASSWORD\"\n",
        pg_config(&server, "shop").replace("postgres@", "app@")
    ));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["-v", "backup"]).assert_ok();
    let argv = std::fs::read_to_string(ws.path("bin/argv")).unwrap();
    assert!(
        argv.contains("--snapshot"),
        "pg_dump ran from the exported snapshot: {argv}"
    );
    assert!(!argv.contains(PASSWORD), "password in argv: {argv}");
    assert_eq!(
        std::fs::read_to_string(ws.path("bin/passfile-mode"))
            .unwrap()
            .trim(),
        "600"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path("bin/pgpassword-count"))
            .unwrap()
            .trim(),
        "0"
    );
    assert!(!out.all().contains(PASSWORD));
    let config = ws.run(&["config"]).assert_ok();
    assert!(
        !config.all().contains(PASSWORD) && config.stdout.contains("****"),
        "{}",
        config.stdout
    );
    let manifest = String::from_utf8(ws.run_bytes(&["dump", "shop/db", "--manifest"])).unwrap();
    assert!(!manifest.contains(PASSWORD));

    ws.env.retain(|(k, _)| k != "SHOP_DB_PASSWORD");
    ws.env.push(("SHOP_DB_PASSWORD".into(), "wrong".into()));
    let wrong = ws.run(&["backup"]).assert_code(1);
    assert!(
        wrong.stderr.contains("password authentication failed"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.all().contains("wrong\n") && !wrong.all().contains(PASSWORD));
}

fn data_source(ws: &Workspace) -> String {
    std::fs::create_dir_all(ws.path("data")).unwrap();
    std::fs::write(ws.path("data/file.txt"), "kept").unwrap();
    format!(
        "\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n",
        ws.path("data").display()
    )
}

#[test]
fn failing_pg_dump_leaves_no_snapshot_and_other_sources_still_run() {
    let server = PgServer::start();
    shop(&server);
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, "$REAL \"$@\" | head -c 3000\necho 'pg_dump: error: simulated failure on table blobs' >&2\nexit 1");
    let files = data_source(&ws);
    ws.config(&format!("{}{files}", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(out.stderr.contains("shop/db"), "{}", out.stderr);
    assert!(
        out.stderr.contains("pg_dump failed (exit code 1)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("simulated failure on table blobs"),
        "stderr tail: {}",
        out.stderr
    );
    assert_no_db_snapshot(&ws);
    assert_eq!(
        ws.snapshots_of("shop", "data").len(),
        1,
        "the files source still ran"
    );
}

#[test]
fn unreachable_server_fails_naming_host_and_port() {
    let port = support::free_port();
    let ws = Workspace::new();
    ws.config(&format!("[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{port}/shop\"\n"));
    ws.run(&["init"]).assert_ok();
    let out = ws.run(&["backup"]).assert_code(1);
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("shop/db"), "{}", out.stderr);
}

#[test]
fn stock_restic_reads_what_lifeboat_wrote_byte_for_byte() {
    let (_server, ws) = backed_up_shop();
    let ours = ws.run_bytes(&["dump", "shop/db"]);
    assert!(
        ours.starts_with(b"PGDMP"),
        "a pg_dump custom-format archive"
    );

    let snapshots = ws.restic(&["snapshots", "--json"]);
    assert!(
        snapshots.status.success(),
        "{}",
        String::from_utf8_lossy(&snapshots.stderr)
    );
    let dumped = ws.restic(&["dump", "latest", "/shop/db/shop.pgdump"]);
    assert!(
        dumped.status.success(),
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    assert!(
        dumped.stdout == ours,
        "restic dump differs from lifeboat dump"
    );

    // restic restore writes size-0 stream nodes as empty files; lifeboat's are whole.
    let target = ws.path("restic-restore");
    let restored = ws.restic(&["restore", "latest", "--target", target.to_str().unwrap()]);
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(std::fs::read(target.join("shop/db/shop.pgdump")).unwrap() == ours);
    let check = ws.restic(&["check", "--read-data"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // and pg_restore accepts the dump as written by restic
    let list = std::process::Command::new(support::pg_bin().join("pg_restore"))
        .arg("--list")
        .arg(target.join("shop/db/shop.pgdump"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("TABLE DATA public blobs"));
}

#[test]
fn dump_of_several_files_refuses_listing_them_and_file_picks_one() {
    let server = PgServer::start();
    shop(&server);
    server.exec("postgres", "CREATE ROLE reporting LOGIN");
    let ws = Workspace::new();
    ws.config(&format!("{}globals = true\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let refused = ws.run(&["dump", "shop/db"]).assert_code(1);
    assert!(
        refused.stderr.contains("globals.sql, shop.pgdump") && refused.stderr.contains("--file"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "nothing written");
    let globals =
        String::from_utf8(ws.run_bytes(&["dump", "shop/db", "--file", "globals.sql"])).unwrap();
    assert!(globals.contains("CREATE ROLE reporting"), "{globals}");
    let archive = ws.run_bytes(&["dump", "shop/db", "--file", "shop.pgdump"]);
    let restic = ws.restic(&["dump", "latest", "/shop/db/shop.pgdump"]);
    assert!(archive.starts_with(b"PGDMP") && archive == restic.stdout);
    let unknown = ws
        .run(&["dump", "shop/db", "--file", "nope"])
        .assert_code(1);
    assert!(
        unknown.stderr.contains("globals.sql, shop.pgdump"),
        "{}",
        unknown.stderr
    );
}
