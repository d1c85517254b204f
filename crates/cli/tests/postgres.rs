//! The postgres kind against a real PostgreSQL started by the test.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::time::Duration;
use support::{script, wait_for, PgServer, Workspace, PASSWORD};

const SCHEMA: &str = r#"
CREATE TABLE customers (id serial PRIMARY KEY, name text, note text);
INSERT INTO customers (name, note) SELECT 'c' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE E'line1\nline2\ttab ' || g END FROM generate_series(1, 2000) g;
CREATE TABLE blobs (id int PRIMARY KEY, data bytea);
INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g * 3)::text), 'hex') FROM generate_series(1, 500) g;
CREATE TABLE docs (id int PRIMARY KEY, body jsonb);
INSERT INTO docs SELECT g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'ü', g)) FROM generate_series(1, 300) g;
CREATE SCHEMA billing;
CREATE TABLE billing."Invoice Lines" (id int PRIMARY KEY, amount numeric(10, 2));
INSERT INTO billing."Invoice Lines" SELECT g, g / 3.0 FROM generate_series(1, 50) g;
CREATE TABLE empty_one (id int);
"#;

fn shop(server: &PgServer) {
    server.create_db("shop");
    server.exec("shop", SCHEMA);
}

fn pg_config(server: &PgServer, db: &str) -> String {
    format!(
        "[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"postgres\"\nurl = \"{}\"\n",
        server.url("postgres", db)
    )
}

/// A `pg_dump` wrapper placed first on PATH: it claims a new major version so lifeboat
/// picks it, records how it was called, and runs `body` (with $REAL set).
fn pg_dump_wrapper(ws: &mut Workspace, body: &str) {
    let dir = ws.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let real = support::pg_bin().join("pg_dump");
    script(
        &dir.join("pg_dump"),
        &format!(
            "if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.0'; exit 0; fi\n\
             REAL={real}\nW={w}\n\
             printf '%s\\n' \"$@\" > $W/argv\nstat -c %a \"$PGPASSFILE\" > $W/passfile-mode 2>/dev/null\n\
             env | grep -c PGPASSWORD= > $W/pgpassword-count\n{body}",
            real = real.display(),
            w = dir.display()
        ),
    );
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    ws.env.push(("PATH".into(), path));
}

/// A server with the `shop` database and a workspace holding one backup of it.
fn backed_up_shop() -> (PgServer, Workspace) {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    (server, ws)
}

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

fn assert_no_db_snapshot(ws: &Workspace) {
    assert!(
        ws.snapshots_of("shop", "db").is_empty(),
        "lifeboat lists no db backup"
    );
    let restic = ws.restic(&["snapshots", "--json", "--tag", "source=db"]);
    assert!(restic.status.success());
    let snaps: Vec<serde_json::Value> = serde_json::from_slice(&restic.stdout).unwrap();
    assert!(snaps.is_empty(), "restic sees no db snapshot: {snaps:?}");
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

/// A wrapper that lets pg_dump stall after 200 kB and records its pid, so the test can
/// break it mid-stream.
const SLOW_DUMP: &str = "fifo=$W/fifo; rm -f $fifo; mkfifo $fifo\n$REAL \"$@\" > $fifo &\npid=$!; echo $pid > $W/pid\n(head -c 200000; sleep 4; cat) < $fifo\nwait $pid";

fn big_shop(server: &PgServer) {
    shop(server);
    server.exec("shop", "INSERT INTO blobs SELECT g, decode(repeat(md5(g::text), 64), 'hex') FROM generate_series(1000, 40000) g");
}

/// Runs `lifeboat backup` with the stalling pg_dump, calls `interrupt` once pg_dump runs,
/// and returns the exit code and stderr.
fn interrupted_backup(ws: &Workspace, interrupt: impl FnOnce(&str)) -> (Option<i32>, String) {
    let child = ws
        .command(&["backup"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = ws.path("bin/pid");
    assert!(wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty())
    }));
    interrupt(std::fs::read_to_string(&pid_file).unwrap().trim());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn server_vanishing_mid_dump_leaves_no_snapshot() {
    let server = PgServer::start();
    big_shop(&server);
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, SLOW_DUMP);
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    let (code, stderr) = interrupted_backup(&ws, |_| {
        std::thread::sleep(Duration::from_millis(500));
        server.kill();
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/db") && stderr.contains("pg_dump failed"),
        "{stderr}"
    );
    drop(server);
    assert_no_db_snapshot(&ws);
}

#[test]
fn dump_killed_mid_stream_leaves_no_snapshot() {
    let server = PgServer::start();
    big_shop(&server);
    let mut ws = Workspace::new();
    pg_dump_wrapper(&mut ws, SLOW_DUMP);
    ws.config(&pg_config(&server, "shop"));
    ws.run(&["init"]).assert_ok();
    let (code, stderr) = interrupted_backup(&ws, |pid| {
        std::process::Command::new("kill")
            .args(["-9", pid])
            .status()
            .unwrap();
    });
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("shop/db") && stderr.contains("pg_dump failed (exit code 137)"),
        "{stderr}"
    );
    assert_no_db_snapshot(&ws);
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

/// A session that holds `table` (an open transaction that read it), named `app`.
fn hold_table(server: &PgServer, table: &str, app: &str) -> (postgres::Client, i32) {
    let mut holder = server.client("shop");
    holder
        .batch_execute(&format!(
            "SET application_name = '{app}'; BEGIN; SELECT count(*) FROM {table}"
        ))
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    (holder, pid)
}

fn safety_id(ws: &Workspace) -> String {
    let safety: Vec<_> = ws
        .snapshots_of("shop", "db")
        .into_iter()
        .filter(|s| s["pre_restore"] == true)
        .collect();
    assert_eq!(safety.len(), 1, "one safety backup");
    safety[0]["id"].as_str().unwrap()[..8].to_string()
}

#[test]
fn restore_blocked_by_a_lock_fails_after_lock_timeout_naming_the_holder_and_the_safety_backup() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&format!("{}lock_timeout = 2\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let plan = ws
        .run(&["restore", "shop/db", "--force", "--plan"])
        .assert_ok();
    assert!(
        plan.stdout.contains("at most 2 s for each lock"),
        "{}",
        plan.stdout
    );
    let (_holder, pid) = hold_table(&server, "customers", "report-runner");
    let start = std::time::Instant::now();
    let out = ws.run(&["restore", "shop/db", "--force"]).assert_code(1);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "it did not wait forever"
    );
    for wanted in [
        "lock_timeout".to_string(),
        format!("pid {pid}"),
        "report-runner".into(),
        "public.customers".into(),
        "idle in transaction".into(),
        format!(
            "may be partly restored; its previous state is in safety backup {}",
            safety_id(&ws)
        ),
    ] {
        assert!(out.stderr.contains(&wanted), "{wanted:?} in {}", out.stderr);
    }
}

#[test]
fn sigterm_mid_restore_says_the_target_may_be_partly_restored_and_names_the_safety_backup() {
    let server = PgServer::start();
    shop(&server);
    let ws = Workspace::new();
    ws.config(&format!("{}lock_timeout = 0\n", pg_config(&server, "shop")));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let (_holder, _) = hold_table(&server, "customers", "report-runner");
    let child = ws
        .command(&["restore", "shop/db", "--force"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut watch = server.client("postgres");
    let waiting = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'lifeboat-restore-%' AND wait_event_type = 'Lock'", &[])
            .unwrap()
            .get(0)
    };
    assert!(
        wait_for(Duration::from_secs(60), || waiting(&mut watch) > 0),
        "pg_restore never waited for the lock"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let wanted = format!(
        "{} may be partly restored; its previous state is in safety backup {}",
        server.url("postgres", "shop"),
        safety_id(&ws)
    );
    assert!(stderr.contains(&wanted), "{wanted:?} in {stderr}");
    assert!(!stderr.contains("nothing partial was saved"), "{stderr}");
    assert!(
        wait_for(Duration::from_secs(20), || waiting(&mut watch) == 0),
        "pg_restore was stopped with lifeboat, not left waiting"
    );
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
