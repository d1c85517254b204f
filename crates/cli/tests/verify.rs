//! `lifeboat verify`: restores into throwaway servers and temp dirs, compares with the
//! manifest, records the result, and leaves nothing behind.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;
use support::{wait_for, PgServer, Workspace};

fn shop(server: &PgServer) {
    server.create_db("shop");
    server.exec(
        "shop",
        "CREATE TABLE users (id serial PRIMARY KEY, name text); INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 1000) g;
         CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 5000) g;",
    );
}

fn config(ws: &Workspace, server: &PgServer, verify_sql: &str) {
    std::fs::create_dir_all(ws.path("data/sub")).unwrap();
    std::fs::write(ws.path("data/a.txt"), "hello").unwrap();
    std::fs::write(ws.path("data/sub/b.bin"), vec![7u8; 70_000]).unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"{}\"\nverify_sql = [{verify_sql}]\n\n\
         [[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n\n\
         [[app.source]]\nname = \"export\"\nkind = \"command\"\nbackup_command = \"seq 1 30000\"\n",
        server.url("postgres", "shop"),
        ws.path("data").display()
    ));
}

/// Throwaway servers and scratch dirs of this workspace's lifeboat still around.
fn leftovers(ws: &Workspace) -> (Vec<String>, Vec<String>) {
    let tmp = ws.path("tmp");
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let procs = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&tmp.display().to_string()))
        .map(str::to_string)
        .collect();
    let dirs = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("lifeboat-scratch-") || n.starts_with("lifeboat-verify-"))
        .collect();
    (procs, dirs)
}

#[test]
fn every_kind_verifies_and_list_shows_it() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    config(&ws, &server, "\"SELECT count(*) = 1000 FROM users\"");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let out = ws.run(&["verify"]).assert_ok();
    assert!(
        out.stdout.contains("shop/db")
            && out
                .stdout
                .contains("2 of 2 tables have the recorded row counts"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("verify_sql `SELECT count(*) = 1000 FROM users` returned true"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("files: 2 as recorded") && out.stdout.contains("sha256"),
        "{}",
        out.stdout
    );
    for s in ws.list() {
        assert_eq!(s["verified"], true, "{s}");
    }
    assert!(ws.run(&["list"]).assert_ok().stdout.contains('✓'));
    let json = ws.run(&["--json", "verify", "shop/db"]).assert_ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["reports"][0]["ok"], true);
}

#[test]
fn false_verify_sql_fails_naming_the_statement() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    config(&ws, &server, "\"SELECT count(*) > 1000000 FROM users\"");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "shop/db"]).assert_ok();
    let out = ws.run(&["verify", "shop/db"]).assert_code(1);
    assert!(
        out.stderr
            .contains("verify_sql `SELECT count(*) > 1000000 FROM users` did not return true"),
        "{}",
        out.stderr
    );
    assert_eq!(ws.snapshots_of("shop", "db")[0]["verified"], false);
}

/// Writes a copy of the latest shop/db backup whose manifest claims 7 more rows in
/// `public.orders` than the dump holds, through the repository layer.
fn tampered_backup(ws: &Workspace) -> String {
    let dump = ws.run_bytes(&["dump", "shop/db"]);
    let mut manifest: lifeboat_core::Manifest =
        serde_json::from_slice(&ws.run_bytes(&["dump", "shop/db", "--manifest"])).unwrap();
    for t in &mut manifest.facts.tables {
        if t.table == "public.orders" {
            t.rows += 7;
        }
    }
    let opts = lifeboat_repo::RepoOptions {
        url: ws.repo().display().to_string(),
        password: lifeboat_core::Secret::new(support::PASSWORD.to_string()),
        options: Default::default(),
        cache_dir: None,
        state_dir: None,
        lock_wait: std::time::Duration::from_secs(5),
    };
    let mut repo = lifeboat_repo::Repo::open(&opts).unwrap();
    let meta = lifeboat_repo::SnapshotMeta {
        root: "/shop/db".into(),
        tags: lifeboat_core::layout::tags("shop", "db", "postgres", "tampered"),
        time: jiff::Zoned::now(),
    };
    let entry = lifeboat_repo::StreamEntry {
        name: "shop.pgdump".into(),
        reader: Box::new(std::io::Cursor::new(dump)),
        hash: false,
    };
    let json = manifest.to_json();
    repo.store_streams(&meta, vec![entry], Box::new(move |_| Ok(json)))
        .unwrap()
        .id
}

#[test]
fn a_manifest_promising_more_rows_than_the_dump_holds_fails_naming_the_table() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    config(&ws, &server, "");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "shop/db"]).assert_ok();
    let id = tampered_backup(&ws);
    let out = ws
        .run(&["verify", "shop/db", "--snapshot", &id[..8]])
        .assert_code(1);
    assert!(
        out.stderr
            .contains("table public.orders: expected 5007 rows, found 5000"),
        "{}",
        out.stderr
    );
    assert_eq!(
        leftovers(&ws),
        (vec![], vec![]),
        "nothing left after a failed verification"
    );
}

#[test]
fn corrupted_pack_fails_verification_clearly() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path("data")).unwrap();
    std::fs::write(
        ws.path("data/big"),
        (0..400_000u32)
            .flat_map(|i| i.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    ws.config(&format!("[[app]]\nname = \"a\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n", ws.path("data").display()));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    for sub in std::fs::read_dir(ws.repo().join("data")).unwrap() {
        for pack in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = pack.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            let mid = bytes.len() / 3;
            bytes[mid] ^= 0x55;
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let out = ws.run(&["verify"]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("a/data")
            || out.stderr.to_lowercase().contains("decrypt")
            || out.stderr.contains("error"),
        "{}",
        out.stderr
    );
}

/// Interrupts a verify of a database large enough to take a while, once its throwaway
/// server is up: exit 130, no server, no temp dir, no verification recorded.
fn interrupt_mid_verify(signal: &str) {
    let server = PgServer::start();
    shop(&server);
    server.exec(
        "shop",
        "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 600000) g",
    );
    let ws = Workspace::new();
    config(&ws, &server, "");
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "shop/db"]).assert_ok();
    let mut child = ws
        .command(&["verify", "shop/db"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the throwaway server is up, then interrupt.
    assert!(
        wait_for(Duration::from_secs(30), || !leftovers(&ws).0.is_empty()),
        "throwaway server never started"
    );
    std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "SPEC: 130 for SIGINT and SIGTERM");
    assert!(
        wait_for(Duration::from_secs(10), || leftovers(&ws)
            == (vec![], vec![])),
        "leftovers: {:?}",
        leftovers(&ws)
    );
    let listed = ws.run(&["list", "--json"]);
    assert!(
        !listed.stdout.contains("\"verified\": false"),
        "an interrupted verification was recorded as a failure: {}",
        listed.stdout
    );
}

#[test]
fn sigterm_mid_verify_leaves_no_server_and_no_temp_dir() {
    interrupt_mid_verify("-TERM");
}

#[test]
fn sigint_mid_verify_leaves_no_server_and_no_temp_dir() {
    interrupt_mid_verify("-INT");
}
