//! Disaster recovery without the old host: the configuration stored with every
//! backup, `lifeboat recover --repo URL`, and a restore driven by what it wrote.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use support::{files, Workspace, PASSWORD};

fn sqlite_rows(path: &std::path::Path) -> Vec<(i64, String)> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut stmt = db
        .prepare("SELECT id, name FROM users ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows
}

/// An app whose config uses relative paths (read from the config file's directory).
fn esp(ws: &Workspace) {
    files::tree(&ws.path("data"));
    let db = rusqlite::Connection::open(ws.path("app.db")).unwrap();
    db.execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ü'), (2, 'O''Brien');")
        .unwrap();
    ws.config(
        "[defaults]\ntimezone = \"Europe/Berlin\"\n\n[[app]]\nname = \"esp\"\nafter_restore = [\"echo restored\"]\n\n\
         [[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"data\"\nexclude = [\"log/\"]\nrestore_after = [\"db\"]\n\n\
         [[app.source]]\nname = \"db\"\nkind = \"sqlite\"\npath = \"app.db\"\n",
    );
}

fn runs(ws: &Workspace) -> Vec<serde_json::Value> {
    let out = ws.run(&["--json", "list", "--runs"]).assert_ok();
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn recover_writes_a_config_from_the_repository_that_restores_the_app_on_a_new_host() {
    let ws = Workspace::new();
    esp(&ws);
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup", "esp"]).assert_ok();
    ws.run(&["backup", "esp/data"]).assert_ok();
    let sets = runs(&ws);
    assert_eq!(sets[0]["complete"], true, "{sets:?}");
    assert_eq!(sets[1]["complete"], false);
    assert_eq!(sets[1]["state"], "incomplete: no backup of db");

    // The old host is gone: no config; a new one only knows the repository.
    std::fs::remove_file(ws.path("lifeboat.toml")).unwrap();
    let new_config = ws.path("newhost/lifeboat.toml");
    std::fs::create_dir(ws.path("newhost")).unwrap();
    let repo = ws.repo().display().to_string();
    let recover = ["recover", "--repo", &repo];
    let out = ws.run_with(&new_config, &recover).assert_ok();
    assert!(
        out.stderr.contains("app esp: configuration of"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(&new_config).unwrap();
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(
        text.contains("password_env = \"LIFEBOAT_PASSWORD\""),
        "{text}"
    );
    assert!(text.contains(&format!("url = \"{repo}\"")), "{text}");
    assert!(
        text.contains(&format!("path = \"{}\"", ws.path("data").display())),
        "absolute: {text}"
    );
    assert!(text.contains("timezone = \"Europe/Berlin\""), "{text}");
    assert!(text.contains("restore_after = [\"db\"]"), "{text}");

    // Never over an existing file without --force; a wrong password is exit 3.
    let again = ws.run_with(&new_config, &recover).assert_code(2);
    assert!(
        again.stderr.contains("exists; give --force"),
        "{}",
        again.stderr
    );
    let mut wrong = Workspace::new();
    wrong.env.retain(|(k, _)| k != "LIFEBOAT_PASSWORD");
    wrong
        .env
        .push(("LIFEBOAT_PASSWORD".into(), "not it".into()));
    let out = wrong
        .run(&["recover", "--repo", &repo, "--out", "-"])
        .assert_code(3);
    assert!(out.stderr.contains("wrong password"), "{}", out.stderr);

    // The recovered config restores the whole app elsewhere.
    let (to_data, to_db) = (ws.path("newhost/data"), ws.path("newhost/app.db"));
    let data_to = format!("data={}", to_data.display());
    let db_to = format!("db={}", to_db.display());
    let restore = ["restore", "esp", "--to", &data_to, "--to", &db_to];
    let out = ws.run_with(&new_config, &restore).assert_ok();
    assert!(
        out.stdout.contains("1. db (sqlite): restored"),
        "{}",
        out.stdout
    );
    let mut want = files::snapshot_of(&ws.path("data"));
    // `log/` matches a directory named log at any depth, as in .gitignore.
    want.retain(|(p, _)| !p.split('/').any(|part| part == "log"));
    assert_eq!(files::snapshot_of(&to_data), want);
    assert_eq!(
        sqlite_rows(&to_db),
        [(1, "ü".to_string()), (2, "O'Brien".to_string())]
    );
}

#[test]
fn recover_from_a_repository_without_backups_says_so() {
    let ws = Workspace::new();
    esp(&ws);
    ws.run(&["init"]).assert_ok();
    let repo = ws.repo().display().to_string();
    let out = ws
        .run(&["recover", "--repo", &repo, "--out", "-"])
        .assert_code(1);
    assert!(
        out.stderr.contains("holds no lifeboat backup"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_run_of_two_apps_is_complete_only_when_each_app_has_all_its_sources() {
    let ws = Workspace::new();
    esp(&ws);
    let text = std::fs::read_to_string(ws.path("lifeboat.toml")).unwrap();
    let shop_db = ws.path("shop.db");
    rusqlite::Connection::open(&shop_db).unwrap();
    let shop = format!(
        "\n[[app]]\nname = \"shop\"\n\n[[app.source]]\nname = \"db\"\nkind = \"sqlite\"\npath = \"{}\"\n",
        shop_db.display()
    );
    std::fs::write(ws.path("lifeboat.toml"), text + &shop).unwrap();
    ws.run(&["init"]).assert_ok();
    // shop's `db` is not esp's: esp still lacks its own.
    ws.run(&["backup", "esp/data", "shop/db"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let sets = runs(&ws);
    assert_eq!(sets[0]["complete"], false, "{sets:?}");
    assert_eq!(sets[0]["state"], "incomplete: no backup of esp/db");
    assert_eq!(sets[1]["complete"], true, "{sets:?}");
}
