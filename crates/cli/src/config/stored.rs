//! The configuration as it is stored in the repository with every backup (one
//! document per app: the file without the other apps, paths made absolute), and the
//! `lifeboat.toml` that `lifeboat recover` writes back from those documents.

use std::path::Path;
use toml_edit::{DocumentMut, Item, Table};

/// Keys whose string value is a path on the host (relative ones are read from the
/// configuration file's directory, so they are stored absolute).
fn is_path_key(key: &str) -> bool {
    key == "path" || key == "data_dir" || key.ends_with("_file")
}

/// The stored document of each app in `text` (the configuration file at `path`), in
/// the file's order, with `secrets` masked should one have been written in the file.
pub fn app_documents(
    text: &str,
    path: &Path,
    secrets: &lifeboat_core::Redactor,
) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let names: Vec<String> = apps(&doc)
        .map(|t| {
            t.get("name")
                .and_then(Item::as_str)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    names
        .into_iter()
        .map(|name| {
            let mut one = doc.clone();
            keep_only_app(&mut one, &name);
            absolute_paths(one.as_table_mut(), &base);
            one.decor_mut().set_prefix(format!(
                "# The configuration of app `{name}` stored by lifeboat {} from {}\n",
                env!("CARGO_PKG_VERSION"),
                path.display()
            ));
            (name, secrets.apply(&one.to_string()))
        })
        .collect()
}

fn apps(doc: &DocumentMut) -> impl Iterator<Item = &Table> {
    doc.get("app")
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(|a| a.iter())
}

fn keep_only_app(doc: &mut DocumentMut, name: &str) {
    if let Some(apps) = doc.get_mut("app").and_then(Item::as_array_of_tables_mut) {
        apps.retain(|t| t.get("name").and_then(Item::as_str) == Some(name));
    }
}

/// Every path value under `table` made absolute against `base`; a local repository
/// url too.
fn absolute_paths(table: &mut Table, base: &Path) {
    for (key, item) in table.iter_mut() {
        let local_url = key == "url" && item.as_str().is_some_and(|u| !u.contains("://"));
        if is_path_key(&key) || local_url {
            if let Some(text) = item.as_str().filter(|p| !Path::new(p).is_absolute()) {
                let joined =
                    std::path::absolute(base.join(text)).unwrap_or_else(|_| base.join(text));
                *item = toml_edit::value(joined.display().to_string());
            }
            continue;
        }
        match item {
            Item::Table(t) => absolute_paths(t, base),
            Item::ArrayOfTables(list) => list.iter_mut().for_each(|t| absolute_paths(t, base)),
            _ => {}
        }
    }
}

/// One app's stored document as found in the repository.
#[derive(Debug, Clone)]
pub struct Found {
    pub app: String,
    pub text: String,
}

/// What `recover` writes: the newest app's document as the base (repository,
/// defaults, daemon, notifications), each app's own table from its own document,
/// the repository url (and password reference) the user gave.
pub fn recovered(found: &[Found], url: &str, password: &PasswordRef) -> Result<String, String> {
    let Some(newest) = found.first() else {
        return Err("no stored configuration".into());
    };
    let mut doc = parse(newest)?;
    let shared = without_apps(&doc);
    let mut tables = toml_edit::ArrayOfTables::new();
    for one in found {
        let parsed = parse(one)?;
        let Some(mut table) = apps(&parsed).next().cloned() else {
            continue;
        };
        if without_apps(&parsed) != shared {
            table.decor_mut().set_prefix(format!(
                "\n# NOTE: app `{}` was stored with other top-level settings ([repository], [defaults], …)\n# than app `{}`, whose settings are used here; compare with `lifeboat dump {}/SOURCE --manifest`.\n",
                one.app, newest.app, one.app
            ));
        }
        tables.push(table);
    }
    doc.insert("app", Item::ArrayOfTables(tables));
    let repo = doc
        .entry("repository")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .ok_or("the stored [repository] is not a table")?;
    repo.insert("url", toml_edit::value(url));
    password.apply(repo);
    doc.decor_mut().set_prefix(format!(
        "# Written by `lifeboat recover` from the configuration stored in {url}.\n# Check each source's url, path and *_env/*_file secret before restoring.\n"
    ));
    Ok(doc.to_string())
}

fn parse(found: &Found) -> Result<DocumentMut, String> {
    found.text.parse::<DocumentMut>().map_err(|e| {
        format!(
            "the stored configuration of app `{}` does not parse: {e}",
            found.app
        )
    })
}

/// Everything but the apps, as values (comments and layout aside).
fn without_apps(doc: &DocumentMut) -> Option<toml::Value> {
    let mut rest = doc.clone();
    rest.remove("app");
    toml::from_str(&rest.to_string()).ok()
}

/// How the recovered configuration names the repository password.
#[derive(Debug, Clone, Default)]
pub enum PasswordRef {
    /// Keep what was stored.
    #[default]
    Stored,
    Env(String),
    File(String),
}

impl PasswordRef {
    fn apply(&self, repo: &mut Table) {
        let (key, value) = match self {
            PasswordRef::Stored => return,
            PasswordRef::Env(v) => ("password_env", v),
            PasswordRef::File(f) => ("password_file", f),
        };
        repo.remove("password_env");
        repo.remove("password_file");
        repo.insert(key, toml_edit::value(value.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# ours
[repository]
url = "./repo"
password_env = "LB_PW"

[defaults]
timezone = "Europe/Berlin"

[[app]]
name = "a"
after_restore = ["make install"]

[[app.source]]
name = "data"
kind = "files"
path = "data"

[[app]]
name = "b"

[[app.source]]
name = "db"
kind = "postgres"
url = "postgres://b@db:5432/b"
password_file = "secrets/b"
"#;

    fn docs() -> Vec<(String, String)> {
        let secrets = lifeboat_core::Redactor::default();
        app_documents(FILE, Path::new("/etc/lifeboat/lifeboat.toml"), &secrets)
    }

    #[test]
    fn each_app_is_stored_alone_with_absolute_paths() {
        let docs = docs();
        let names: Vec<&str> = docs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let a = &docs[0].1;
        assert!(a.contains("path = \"/etc/lifeboat/data\""), "{a}");
        assert!(a.contains("url = \"/etc/lifeboat/repo\""), "{a}");
        assert!(a.contains("timezone = \"Europe/Berlin\""), "{a}");
        assert!(!a.contains("name = \"b\""), "{a}");
        let b = &docs[1].1;
        assert!(
            b.contains("password_file = \"/etc/lifeboat/secrets/b\""),
            "{b}"
        );
        assert!(b.contains("url = \"postgres://b@db:5432/b\""), "{b}");
    }

    #[test]
    fn recover_joins_the_apps_under_the_given_repository_and_password() {
        let found: Vec<Found> = docs()
            .into_iter()
            .map(|(app, text)| Found { app, text })
            .collect();
        let text = recovered(&found, "/mnt/usb/repo", &PasswordRef::Env("NEW_PW".into())).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["repository"]["url"].as_str(), Some("/mnt/usb/repo"));
        assert_eq!(doc["repository"]["password_env"].as_str(), Some("NEW_PW"));
        let apps: Vec<&str> = apps(&doc).filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(apps, ["a", "b"]);
        assert!(!text.contains("NOTE"), "same top-level settings: {text}");
        assert!(
            text.contains("after_restore = [\"make install\"]"),
            "{text}"
        );
    }

    #[test]
    fn an_app_stored_with_other_top_level_settings_is_marked() {
        let mut found: Vec<Found> = docs()
            .into_iter()
            .map(|(app, text)| Found { app, text })
            .collect();
        found[1].text = found[1].text.replace("Europe/Berlin", "UTC");
        let text = recovered(&found, "/r", &PasswordRef::Stored).unwrap();
        assert!(
            text.contains("# NOTE: app `b` was stored with other top-level settings"),
            "{text}"
        );
        assert!(text.contains("password_env = \"LB_PW\""), "{text}");
    }

    #[test]
    fn a_secret_written_in_the_file_is_masked() {
        let secrets = lifeboat_core::Redactor::new(vec!["hunter22".to_string()]);
        let text = FILE.replace("make install", "deploy --token hunter22");
        let docs = app_documents(&text, Path::new("/x/lifeboat.toml"), &secrets);
        assert!(!docs[0].1.contains("hunter22"), "{}", docs[0].1);
    }
}
