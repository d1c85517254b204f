//! Whole-app restores through the binary on a mini seed-001 stack, every part real
//! and started here: PostgreSQL, MariaDB, two Redis servers, a files directory and a
//! `command` source (the cluster's secrets).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use lifeboat_sources::mysql::query;
use lifeboat_sources::scratch::mariadb::ScratchMariaDb;
use lifeboat_sources::scratch::redis::ScratchRedis;
use serde_json::Value;
use std::path::Path;
use support::{files, pg, PgServer, Workspace, PASSWORD};

/// Restore order the config's `restore_after` gives (config order breaks ties).
const ORDER: [&str; 6] = [
    "secrets",
    "system-storage",
    "zync",
    "system-mysql",
    "backend-redis",
    "system-redis",
];

struct Stack {
    pg: PgServer,
    mysql: ScratchMariaDb,
    backend: ScratchRedis,
    system: ScratchRedis,
    ws: Workspace,
}

impl Stack {
    fn start() -> Stack {
        let pg = PgServer::start();
        pg::shop(&pg);
        let mysql = ScratchMariaDb::start().unwrap();
        mysql.create_user("app", PASSWORD).unwrap();
        let sql = "CREATE DATABASE system; USE system;
            CREATE TABLE accounts (id INT PRIMARY KEY, name TEXT, logo BLOB);
            INSERT INTO accounts VALUES (1, 'O''Brien', X'00FF10'), (2, 'tab\\there', NULL);
            CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, kind VARCHAR(20));
            INSERT INTO events (kind) SELECT 'seq' FROM information_schema.columns LIMIT 300;";
        query(&mysql.root(), sql).unwrap();
        let backend = ScratchRedis::start_with_password(PASSWORD).unwrap();
        let system = ScratchRedis::start_with_password(PASSWORD).unwrap();
        for (server, tag) in [(&backend, "backend"), (&system, "system")] {
            redis(server, 0, &["SET", "s", tag]);
            redis(server, 0, &["RPUSH", "l", "a", "b", "\u{0}bin"]);
            redis(server, 0, &["HSET", "h", "f", "v"]);
            redis(server, 3, &["SET", "in-db3", "yes"]);
        }
        let mut ws = Workspace::new();
        files::tree(&ws.path("storage"));
        std::fs::write(
            ws.path("secrets.json"),
            "{\"kind\": \"List\", \"items\": [\"ü\"]}\n",
        )
        .unwrap();
        ws.env.push(("APP_DB_PASSWORD".into(), PASSWORD.into()));
        let stack = Stack {
            pg,
            mysql,
            backend,
            system,
            ws,
        };
        stack.ws.config(&stack.config(""));
        stack.ws.run(&["init"]).assert_ok();
        stack
    }

    /// The app, its sources in another order than they restore in; `secrets_extra`
    /// is appended to the secrets' restore command.
    fn config(&self, secrets_extra: &str) -> String {
        let ws = self.ws.path("");
        let hooks = ws.join("hooks.log");
        let (h, w) = (hooks.display(), ws.display());
        format!(
            r#"[[app]]
name = "3scale"
before_backup = ["echo before_backup >> {h}"]
after_backup = ["echo after_backup $LIFEBOAT_STATUS >> {h}"]
before_restore = ["echo before_restore $LIFEBOAT_SOURCES >> {h}"]
after_restore = ["echo after_restore $LIFEBOAT_STATUS >> {h}"]

[[app.source]]
name = "backend-redis"
kind = "redis"
url = "redis://127.0.0.1:{backend}"
password_env = "APP_DB_PASSWORD"
restore_after = ["system-mysql"]

[[app.source]]
name = "system-redis"
kind = "redis"
url = "redis://127.0.0.1:{system}"
password_env = "APP_DB_PASSWORD"
restore_after = ["system-mysql"]

[[app.source]]
name = "system-storage"
kind = "files"
path = "{w}/storage"
restore_after = ["secrets"]

[[app.source]]
name = "zync"
kind = "postgres"
url = "{pg}"
restore_after = ["secrets"]

[[app.source]]
name = "system-mysql"
kind = "mysql"
url = "mysql://app@127.0.0.1:{mysql}/system"
password_env = "APP_DB_PASSWORD"
restore_after = ["secrets"]

[[app.source]]
name = "secrets"
kind = "command"
backup_command = "cat {w}/secrets.json"
restore_command = "cat > {w}/secrets.json && echo restore secrets >> {h}{secrets_extra}"
filename = "secrets.json"
"#,
            backend = self.backend.port,
            system = self.system.port,
            pg = self.pg.url("postgres", "shop"),
            mysql = self.mysql.port,
        )
    }

    /// Every part's content, to compare before and after.
    fn state(&self) -> Vec<String> {
        let mut state = vec![format!("{:?}", self.pg.fingerprint("shop"))];
        state.push(format!("{:?}", mysql_checksum(&self.mysql)));
        state.push(format!("{:?}", redis_dump(&self.backend)));
        state.push(format!("{:?}", redis_dump(&self.system)));
        state.push(format!(
            "{:?}",
            files::snapshot_of(&self.ws.path("storage"))
        ));
        state.push(std::fs::read_to_string(self.ws.path("secrets.json")).unwrap_or_default());
        state
    }

    /// Everything gone: no database, empty Redis, an empty directory, no secrets.
    fn wipe(&self) {
        self.pg.exec("postgres", "DROP DATABASE shop WITH (FORCE)");
        query(&self.mysql.root(), "DROP DATABASE system").unwrap();
        redis(&self.backend, 0, &["FLUSHALL"]);
        redis(&self.system, 0, &["FLUSHALL"]);
        std::fs::remove_dir_all(self.ws.path("storage")).unwrap();
        std::fs::create_dir(self.ws.path("storage")).unwrap();
        std::fs::remove_file(self.ws.path("secrets.json")).unwrap();
    }

    fn hooks(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.ws.path("hooks.log")).unwrap_or_default();
        text.lines().map(str::to_string).collect()
    }
}

fn redis(server: &ScratchRedis, db: u32, args: &[&str]) -> Value {
    let mut conn = server.admin().unwrap();
    conn.call(&[b"SELECT", db.to_string().as_bytes()]).unwrap();
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let reply = conn.call(&args).unwrap();
    serde_json::json!(format!("{reply:?}"))
}

/// Each logical database's keys with their DUMP.
fn redis_dump(server: &ScratchRedis) -> Vec<String> {
    let mut out = Vec::new();
    for db in [0u32, 3] {
        let keys = redis(server, db, &["DBSIZE"]).to_string();
        out.push(format!("db{db} {keys}"));
        for key in ["s", "l", "h", "in-db3", "extra"] {
            out.push(redis(server, db, &["DUMP", key]).to_string());
        }
    }
    out
}

fn mysql_checksum(server: &ScratchMariaDb) -> Vec<Vec<String>> {
    let sql =
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'system' ORDER BY 1";
    let mut out = query(&server.root(), sql).unwrap_or_default();
    let sums = "SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, name, HEX(logo)) ORDER BY id)) FROM system.accounts
         UNION ALL SELECT COUNT(*), MD5(GROUP_CONCAT(CONCAT_WS('|', id, kind) ORDER BY id)) FROM system.events";
    out.extend(query(&server.root(), sums).unwrap_or_default());
    out
}

fn report(run: &support::Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all()))
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let name = s["source"].as_str().unwrap().to_string();
            (name, s["status"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The plan's text with what changes from run to run (ids, times, ports, paths)
/// replaced by names.
fn normalized(text: &str, plan: &Value, stack: &Stack) -> String {
    let mut text = text.replace(&stack.ws.path("").display().to_string(), "WS/");
    text = text.replace("WS//", "WS/");
    let set = plan["set"].as_str().unwrap();
    text = text
        .replace(set, "RUN")
        .replace(plan["set_time"].as_str().unwrap(), "TIME");
    for s in plan["sources"].as_array().unwrap() {
        let id = &s["snapshot"].as_str().unwrap()[..8];
        text = text.replace(id, &format!("<{}>", s["source"].as_str().unwrap()));
        text = text.replace(s["snapshot_time"].as_str().unwrap(), "TIME");
    }
    for (port, name) in [
        (stack.backend.port, "BACKEND"),
        (stack.system.port, "SYSTEM"),
        (stack.mysql.port, "MYSQL"),
    ] {
        text = text.replace(&port.to_string(), name);
    }
    text.replace(&stack.pg.url("postgres", "shop"), "PG")
}

fn assert_matches_file(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("LIFEBOAT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (LIFEBOAT_BLESS=1 writes it)", path.display()));
    assert_eq!(
        got,
        want,
        "{} differs (LIFEBOAT_BLESS=1 rewrites it)",
        path.display()
    );
}

#[test]
fn a_whole_app_restores_identically_in_restore_after_order_between_its_hooks() {
    let stack = Stack::start();
    let ws = &stack.ws;
    ws.run(&["backup", "3scale"]).assert_ok();
    let backed_up = stack.state();

    stack.wipe();
    let run = ws.run(&["--json", "restore", "3scale"]).assert_ok();
    let restored = report(&run);
    assert_eq!(stack.state(), backed_up, "every part identical");
    let order: Vec<String> = statuses(&restored).into_iter().map(|(n, _)| n).collect();
    assert_eq!(order, ORDER);
    assert!(statuses(&restored).iter().all(|(_, s)| s == "restored"));
    assert_eq!(
        stack.hooks(),
        [
            "before_backup".to_string(),
            "after_backup ok".into(),
            format!("before_restore {}", ORDER.join(",")),
            "restore secrets".into(),
            "after_restore ok".into(),
        ]
    );

    // Over existing data: changes, an extra table and key; `--clean --force` takes a
    // safety set first and leaves every part as the backup has it.
    stack.pg.exec(
        "shop",
        "DELETE FROM customers WHERE id < 100; CREATE TABLE stray (x int)",
    );
    query(
        &stack.mysql.root(),
        "DELETE FROM system.events WHERE id < 50; CREATE TABLE system.stray (x INT)",
    )
    .unwrap();
    redis(&stack.backend, 0, &["SET", "extra", "1"]);
    redis(&stack.system, 3, &["SET", "s", "changed"]);
    files::write(&ws.path("storage/new.txt"), "not in the backup\n", 0o644);
    std::fs::write(ws.path("secrets.json"), "changed\n").unwrap();
    let changed = stack.state();

    let refused = ws.run(&["restore", "3scale"]).assert_code(1);
    assert!(
        refused.stderr.contains("hold data") && refused.stderr.contains("Nothing was changed"),
        "{}",
        refused.all()
    );
    assert_eq!(stack.state(), changed, "a refused restore changes nothing");

    let plan_json = report(
        &ws.run(&[
            "--json", "restore", "3scale", "--plan", "--force", "--clean",
        ])
        .assert_ok(),
    );
    let plan_text = ws
        .run(&["restore", "3scale", "--plan", "--force", "--clean"])
        .assert_ok()
        .stdout;
    assert_eq!(stack.state(), changed, "a plan changes nothing");
    assert_matches_file(
        "app_restore_plan.txt",
        &normalized(&plan_text, &plan_json, &stack),
    );

    let run = ws
        .run(&["--json", "restore", "3scale", "--force", "--clean"])
        .assert_ok();
    let over = report(&run);
    assert_eq!(
        stack.state(),
        backed_up,
        "--clean --force: every part as backed up"
    );
    let safety_run = over["run_id"].as_str().unwrap();
    let listed = ws.list();
    let mut covered: Vec<&str> = listed
        .iter()
        .filter(|s| s["run_id"] == safety_run)
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    covered.sort();
    // A command target never "holds data": the other five are in one safety set.
    assert_eq!(
        covered,
        [
            "backend-redis",
            "system-mysql",
            "system-redis",
            "system-storage",
            "zync"
        ]
    );

    // The safety set restores as a set: the changed state comes back.
    ws.run(&[
        "restore",
        "3scale",
        "--snapshot",
        safety_run,
        "--skip",
        "secrets",
        "--force",
        "--clean",
    ])
    .assert_ok();
    let mut back = stack.state();
    let mut want = changed.clone();
    // The secrets were left out (a command target has no safety backup).
    back.pop();
    want.pop();
    assert_eq!(
        back, want,
        "the safety set brings back the state before the restore"
    );
}

#[test]
fn a_failure_mid_restore_names_what_was_restored_and_after_restore_does_not_run() {
    let stack = Stack::start();
    let ws = &stack.ws;
    ws.run(&["backup", "3scale"]).assert_ok();
    stack.wipe();
    // MariaDB dies while the restore runs (after the targets were checked).
    let kill = format!(" && kill -9 {}", stack.mysql.pid());
    ws.config(&stack.config(&kill));
    let run = ws.run(&["--json", "restore", "3scale"]).assert_code(1);
    let report = report(&run);
    assert_eq!(
        statuses(&report),
        [
            ("secrets".to_string(), "restored".to_string()),
            ("system-storage".into(), "restored".into()),
            ("zync".into(), "restored".into()),
            ("system-mysql".into(), "failed".into()),
            ("backend-redis".into(), "not_attempted".into()),
            ("system-redis".into(), "not_attempted".into()),
        ]
    );
    let error = report["sources"][3]["error"].as_str().unwrap();
    assert!(error.starts_with("3scale/system-mysql: "), "{error}");
    assert!(!error.contains(PASSWORD));
    assert_eq!(report["after_restore_ran"], false);
    assert!(
        !stack.hooks().iter().any(|h| h.starts_with("after_restore")),
        "{:?}",
        stack.hooks()
    );
    let resume = report["resume"].as_str().unwrap();
    assert!(
        resume.contains("--only system-mysql,backend-redis,system-redis --force"),
        "{resume}"
    );
    assert_eq!(
        redis(&stack.backend, 0, &["DBSIZE"]),
        serde_json::json!("Int(0)"),
        "not attempted: untouched"
    );

    // The text form says the same to a person.
    let text = ws
        .run(&["restore", "3scale", "--only", "backend-redis"])
        .assert_ok()
        .stdout;
    assert!(
        text.contains("1. backend-redis (redis, after system-mysql): restored"),
        "{text}"
    );
}
