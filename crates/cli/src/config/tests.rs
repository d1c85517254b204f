use super::*;

fn check(text: &str) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifeboat.toml");
    std::fs::write(&path, text).unwrap();
    load(&path)
}

fn error_of(text: &str) -> String {
    match check(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = r#"
[repository]
url = "/tmp/repo"
password_env = "LIFEBOAT_TEST_PW"

[[app]]
name = "esp"

[[app.source]]
name = "db"
kind = "postgres"
url = "postgres://esp@localhost:1487/lab7"

[[app.source]]
name = "data"
kind = "files"
path = "/home/esp/data"
exclude = ["log/", "run/"]
restore_after = ["db"]
"#;

/// Every test sets the same variable to the same value, so parallel tests agree.
fn with_pw<T>(f: impl FnOnce() -> T) -> T {
    std::env::set_var("LIFEBOAT_TEST_PW", "pw");
    f()
}

#[test]
fn good_config_loads() {
    let loaded = with_pw(|| check(GOOD)).unwrap();
    assert_eq!(loaded.config.apps[0].sources.len(), 2);
    assert_eq!(loaded.config.repository.password.expose(), "pw");
}

#[test]
fn unknown_key_names_file_line_column_and_key() {
    let e = with_pw(|| error_of(&GOOD.replace("exclude = [", "excludes = [")));
    assert!(e.contains("lifeboat.toml:18:1"), "{e}");
    assert!(e.contains("excludes"), "{e}");
}

#[test]
fn wrong_type_names_the_key() {
    let e = with_pw(|| error_of(&GOOD.replace("exclude = [\"log/\", \"run/\"]", "exclude = 7")));
    assert!(e.contains(":18:"), "{e}");
    assert!(e.contains("key `exclude`"), "{e}");
}

#[test]
fn missing_secret_names_the_variable() {
    let e = error_of(&GOOD.replace("LIFEBOAT_TEST_PW", "LIFEBOAT_NOT_SET_ANYWHERE"));
    assert!(e.contains("lifeboat.toml:4:16"), "{e}");
    assert!(e.contains("repository.password_env"), "{e}");
    assert!(e.contains("LIFEBOAT_NOT_SET_ANYWHERE is not set"), "{e}");
}

#[test]
fn duplicate_names_point_at_both() {
    let e = with_pw(|| error_of(&GOOD.replace("name = \"data\"", "name = \"db\"")));
    assert!(e.contains("lifeboat.toml:15:8"), "{e}");
    assert!(e.contains("duplicate source name `db`"), "{e}");
    assert!(e.contains("first defined at"), "{e}");
}

#[test]
fn key_of_another_kind_is_rejected() {
    let e = with_pw(|| {
        error_of(&GOOD.replace(
            "path = \"/home/esp/data\"",
            "path = \"/x\"\nurl = \"postgres://a@b/c\"",
        ))
    });
    assert!(e.contains("app.source.url"), "{e}");
    assert!(e.contains("does not apply to kind `files`"), "{e}");
}

#[test]
fn password_in_url_is_rejected_without_echoing_it() {
    let e = with_pw(|| error_of(&GOOD.replace("esp@localhost", "esp:s3cr3t@localhost")));
    assert!(e.contains("app.source.url"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");
}

#[test]
fn unknown_kind_and_bad_restore_after() {
    let e = with_pw(|| {
        error_of(
            &GOOD
                .replace("kind = \"files\"", "kind = \"mongo\"")
                .replace("[\"db\"]", "[\"nope\"]"),
        )
    });
    assert!(e.contains("unknown kind `mongo`"), "{e}");
    assert!(e.contains("`nope` is not another source"), "{e}");
}

#[test]
fn a_restore_after_cycle_is_an_error_at_the_edge_naming_the_loop() {
    let text = GOOD.replace(
        "name = \"db\"\nkind = \"postgres\"",
        "name = \"db\"\nrestore_after = [\"data\"]\nkind = \"postgres\"",
    );
    assert!(text.contains("restore_after = [\"data\"]"), "{text}");
    let e = with_pw(|| error_of(&text));
    assert!(
        e.contains("lifeboat.toml:11:18: key `app.source.restore_after`: restore_after goes round in a circle: db → data → db"),
        "{e}"
    );
}

#[test]
fn malformed_toml_has_a_position() {
    let e = with_pw(|| error_of("[repository\nurl = 1"));
    assert!(e.contains("lifeboat.toml:1:"), "{e}");
}

fn one_source(body: &str) -> String {
    format!("[repository]\nurl = \"/tmp/r\"\npassword_env = \"LIFEBOAT_TEST_PW\"\n\n[[app]]\nname = \"a\"\n\n[[app.source]]\nname = \"s\"\n{body}")
}

#[test]
fn each_kind_requires_its_keys() {
    for (body, key) in [
        (
            "kind = \"command\"\nfilename = \"x.json\"\n",
            "app.source.backup_command",
        ),
        (
            "kind = \"bucket\"\nendpoint = \"http://127.0.0.1:9000\"\n",
            "app.source.url",
        ),
        ("kind = \"postgres\"\n", "app.source.url"),
        ("kind = \"mysql\"\n", "app.source.url"),
        ("kind = \"redis\"\n", "app.source.url"),
        ("kind = \"sqlite\"\n", "app.source.path"),
        ("kind = \"files\"\n", "app.source.path"),
        (
            "kind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\nrestore_mode = \"offline\"\n",
            "app.source.data_dir",
        ),
    ] {
        let e = with_pw(|| error_of(&one_source(body)));
        assert!(
            e.contains(&format!("key `{key}`")) && e.contains("lifeboat.toml:8:1"),
            "{body}: {e}"
        );
    }
}

#[test]
fn kind_values_are_checked() {
    for (body, needle) in [
        (
            "kind = \"mysql\"\nurl = \"mysql://u@h/db\"\ndatabases = 3\n",
            "expected \"all\" or a list",
        ),
        (
            "kind = \"postgres\"\nurl = \"postgres://u@h/db\"\ndatabases = [\"a\"]\n",
            "only `\"all\"`",
        ),
        (
            "kind = \"redis\"\nurl = \"redis://h:1\"\nrestore_mode = \"sideways\"\n",
            "expected \"online\" or \"offline\"",
        ),
        ("kind = \"bucket\"\nurl = \"gs://x/y\"\n", "app.source.url"),
        (
            "kind = \"command\"\nbackup_command = \"true\"\nfilename = \"../etc/passwd\"\n",
            "not a valid file name",
        ),
        (
            "kind = \"files\"\npath = \"/x\"\nverify_sql = [\"select 1\"]\n",
            "only to database kinds",
        ),
        (
            "kind = \"bucket\"\nurl = \"s3://b/p\"\nsecret_key_env = \"LIFEBOAT_NO_SUCH_VAR\"\n",
            "LIFEBOAT_NO_SUCH_VAR is not set",
        ),
    ] {
        let e = with_pw(|| error_of(&one_source(body)));
        assert!(e.contains(needle), "{body}: {e}");
    }
}

#[test]
fn every_kind_of_the_seeds_loads() {
    let body = "kind = \"mysql\"\nurl = \"mysql://root@127.0.0.1:3306/system\"\n\n\
        [[app.source]]\nname = \"r\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\nflush = false\n\n\
        [[app.source]]\nname = \"q\"\nkind = \"sqlite\"\npath = \"/srv/app/db.sqlite3\"\n\n\
        [[app.source]]\nname = \"k\"\nkind = \"command\"\nbackup_command = \"kubectl get secrets -o json\"\nrestore_command = \"kubectl apply -f -\"\nfilename = \"secrets.json\"\n\n\
        [[app.source]]\nname = \"b\"\nkind = \"bucket\"\nurl = \"s3://artifacts/habitat\"\nendpoint = \"http://127.0.0.1:9000\"\n\n\
        [[app.source]]\nname = \"p\"\nkind = \"postgres\"\nurl = \"postgres://zync@127.0.0.1:5432/zync\"\ndatabases = \"all\"\n";
    let loaded = with_pw(|| check(&one_source(body))).unwrap();
    let kinds: Vec<&str> = loaded.config.apps[0]
        .sources
        .iter()
        .map(|s| s.kind.name())
        .collect();
    assert_eq!(
        kinds,
        ["mysql", "redis", "sqlite", "command", "bucket", "postgres"]
    );
}

#[test]
fn every_seed_example_config_loads() {
    for var in [
        "LIFEBOAT_PASSWORD",
        "ESP_DB_PASSWORD",
        "MYSQL_ROOT_PASSWORD",
        "ZYNC_DB_PASSWORD",
        "HETS_DB_PASSWORD",
        "EAGLE_DB_PASSWORD",
        "IGNY8_DB_PASSWORD",
        "BUILDER_DB_PASSWORD",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
    ] {
        std::env::set_var(var, "example");
    }
    std::env::set_var("WEBHOOK_URL", "https://chat.example.org/hooks/example");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // password_file examples point at files of the seed's host: use a temp one.
        let pwfile = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(pwfile.path(), "example\n").unwrap();
        let text = text.replace(
            "/hab/svc/builder-api/config/pwfile",
            &pwfile.path().display().to_string(),
        );
        let copy = tempfile::tempdir().unwrap();
        let file = copy.path().join(path.file_name().unwrap());
        std::fs::write(&file, text).unwrap();
        if let Err(e) = load(&file) {
            panic!("{}: {e}", path.display());
        }
        seen += 1;
    }
    assert_eq!(seen, 5, "one example per seed");
}

/// GOOD with `extra` inserted before the first `[[app]]`, and `app_extra` in it.
fn with_schedules(extra: &str, app_extra: &str) -> String {
    GOOD.replacen(
        "[[app]]\nname = \"esp\"\n",
        &format!("{extra}\n[[app]]\nname = \"esp\"\n{app_extra}\n"),
        1,
    )
}

#[test]
fn schedules_inherit_from_defaults_and_daemon_has_defaults() {
    let text = with_schedules(
        "[defaults]\nschedule = \"0 1 * * *\"\nverify_schedule = \"0 6 * * 0\"\n",
        "prune_schedule = \"0 3 * * *\"",
    );
    let loaded = with_pw(|| check(&text)).unwrap();
    let app = &loaded.config.apps[0];
    assert_eq!(
        app.schedules.backup.as_ref().map(|s| s.text()),
        Some("0 1 * * *")
    );
    assert_eq!(
        app.schedules.verify.as_ref().map(|s| s.text()),
        Some("0 6 * * 0")
    );
    assert_eq!(
        app.schedules.prune.as_ref().map(|s| s.text()),
        Some("0 3 * * *")
    );
    assert_eq!(loaded.config.daemon.max_parallel, 2);
    assert!(loaded.config.daemon.catch_up);
    assert_eq!(loaded.config.daemon.shutdown_grace_secs, 30);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let every = with_schedules("", "every = \"6h\"");
    let loaded = with_pw(|| check(&every)).unwrap();
    let backup = loaded.config.apps[0].schedules.backup.clone().unwrap();
    assert!(backup.is_interval());
}

#[test]
fn schedule_errors_name_file_line_column_and_key() {
    // Line 9 is the first line after the app name; columns point into the expression.
    let cases = [
        (
            "schedule = \"0 25 * * *\"",
            "lifeboat.toml:9:15",
            "app.schedule",
            "hour 25 is out of range 0-23",
        ),
        (
            "schedule = \"0 1 * *\"",
            "lifeboat.toml:9:13",
            "app.schedule",
            "5 fields",
        ),
        (
            "schedule = \"0 0 30 2 *\"",
            "lifeboat.toml:9:12",
            "app.schedule",
            "never matches",
        ),
        (
            "verify_schedule = \"0 0 * * funday\"",
            "lifeboat.toml:9:28",
            "app.verify_schedule",
            "`funday`",
        ),
        (
            "every = \"6 hours\"",
            "lifeboat.toml:9:9",
            "app.every",
            "unknown unit",
        ),
        (
            "every = \"0s\"",
            "lifeboat.toml:9:9",
            "app.every",
            "longer than 0s",
        ),
        (
            "schedule = \"@daily\"\nevery = \"1h\"",
            "lifeboat.toml:10:9",
            "app.every",
            "not both",
        ),
    ];
    for (app_extra, at, key, message) in cases {
        let e = with_pw(|| error_of(&with_schedules("", app_extra)));
        assert!(
            e.contains(&format!("{at}: key `{key}`")),
            "{app_extra}: {e}"
        );
        assert!(e.contains(message), "{app_extra}: {e}");
    }
}

#[test]
fn daemon_errors_name_file_line_column_and_key() {
    let cases = [
        ("max_parallel = 0", "daemon.max_parallel", "at least 1"),
        ("shutdown_grace = \"soon\"", "daemon.shutdown_grace", "soon"),
        ("listen = \"localhost\"", "daemon.listen", "not an address"),
        ("catch_up = \"yes\"", "catch_up", "expected a boolean"),
        ("max_parallel = -2", "max_parallel", "invalid value"),
    ];
    for (line, key, message) in cases {
        let e = with_pw(|| error_of(&with_schedules(&format!("[daemon]\n{line}\n"), "")));
        assert!(e.contains("lifeboat.toml:7:"), "{line}: {e}");
        assert!(e.contains(key) && e.contains(message), "{line}: {e}");
    }
}

#[test]
fn hook_timeout_inherits_and_errors_name_the_key() {
    let text = with_schedules("[defaults]\nhook_timeout = \"90s\"\n", "");
    let loaded = with_pw(|| check(&text)).unwrap();
    assert_eq!(loaded.config.apps[0].hook_timeout_secs, 90);
    let own = with_pw(|| check(&with_schedules("", "hook_timeout = \"2m\""))).unwrap();
    assert_eq!(own.config.apps[0].hook_timeout_secs, 120);
    let none = with_pw(|| check(GOOD)).unwrap();
    assert_eq!(none.config.apps[0].hook_timeout_secs, 300);
    for (value, message) in [("0s", "longer than 0s"), ("soon", "soon")] {
        let e = with_pw(|| error_of(&with_schedules("", &format!("hook_timeout = \"{value}\""))));
        assert!(
            e.contains("lifeboat.toml:9:16: key `app.hook_timeout`"),
            "{e}"
        );
        assert!(e.contains(message), "{e}");
    }
}
