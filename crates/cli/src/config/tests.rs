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
fn malformed_toml_has_a_position() {
    let e = with_pw(|| error_of("[repository\nurl = 1"));
    assert!(e.contains("lifeboat.toml:1:"), "{e}");
}
