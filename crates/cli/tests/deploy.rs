//! deploy/: the systemd units pass `systemd-analyze verify` (against the man pages
//! `lifeboat man` writes), and the Kubernetes manifests hold what running lifeboat
//! unattended needs: the schedule, one run at a time, the config from the ConfigMap
//! (valid for `lifeboat config --check`), passwords only from the Secret. A missing tool
//! fails the test naming the Debian package to install.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lifeboat");
/// Where the units expect the binary.
const INSTALLED: &str = "/usr/local/bin/lifeboat";

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

// ---- systemd ----

const UNITS: [&str; 3] = [
    "lifeboat-backup.service",
    "lifeboat-backup.timer",
    "lifeboat.service",
];

/// `Key=value` settings per `[Section]`, comments left out.
fn unit(rel: &str) -> BTreeMap<(String, String), Vec<String>> {
    let mut section = String::new();
    let mut settings: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in read(rel).lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{rel}: {line}"));
        settings
            .entry((section.clone(), key.to_string()))
            .or_default()
            .push(value.to_string());
    }
    settings
}

fn setting(settings: &BTreeMap<(String, String), Vec<String>>, section: &str, key: &str) -> String {
    let values = settings
        .get(&(section.to_string(), key.to_string()))
        .unwrap_or_else(|| panic!("no {key}= in [{section}]"));
    values.join(" ")
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let analyze = support::which("systemd-analyze")
        .unwrap_or_else(|| panic!("systemd-analyze not found: apt-get install -y systemd"));
    let dir = tempfile::tempdir().unwrap();
    let mut present: Vec<String> = std::fs::read_dir(deploy("systemd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let mut expected = UNITS.map(String::from).to_vec();
    expected.sort();
    assert_eq!(present, expected, "deploy/systemd/");
    // verify wants every ExecStart binary to exist: copies run the binary under test.
    for name in UNITS {
        let text = read(&format!("systemd/{name}"));
        let copy = text.replace(INSTALLED, BIN);
        if name.ends_with(".service") {
            assert!(text.contains(&format!("ExecStart={INSTALLED} ")), "{name}");
            assert_ne!(copy, text);
        }
        std::fs::write(dir.path().join(name), copy).unwrap();
    }
    // Documentation=man:lifeboat(1) is checked too (with man), against the pages
    // `lifeboat man` writes.
    support::which("man").unwrap_or_else(|| panic!("man not found: apt-get install -y man-db"));
    let man1 = dir.path().join("man/man1");
    let out = Command::new(BIN)
        .args(["-q", "man", "--dir"])
        .arg(&man1)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&analyze)
        .arg("verify")
        .args(UNITS.map(|u| format!("./{u}")))
        .current_dir(dir.path())
        .env("MANPATH", dir.path().join("man"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Unknown keys and bad values are only warnings (exit 0): any output fails too.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

#[test]
fn backup_service_is_a_hardened_oneshot_that_fails_on_a_failed_backup() {
    let s = unit("systemd/lifeboat-backup.service");
    assert_eq!(setting(&s, "Service", "Type"), "oneshot");
    assert_eq!(
        setting(&s, "Service", "ExecStart"),
        format!("{INSTALLED} --config /etc/lifeboat/lifeboat.toml backup")
    );
    // Passwords come from a file outside the unit, never from Environment= lines.
    assert!(
        s.contains_key(&("Service".into(), "EnvironmentFile".into()))
            || s.contains_key(&("Service".into(), "LoadCredential".into()))
    );
    for value in s.get(&("Service".into(), "Environment".into())).unwrap() {
        assert!(!value.to_uppercase().contains("PASSWORD"), "{value}");
    }
    assert_eq!(setting(&s, "Service", "ProtectSystem"), "strict");
    assert_eq!(
        setting(&s, "Service", "ReadWritePaths"),
        "/var/backups/lifeboat"
    );
    assert_eq!(setting(&s, "Service", "PrivateTmp"), "yes");
    assert_eq!(setting(&s, "Service", "NoNewPrivileges"), "yes");
    // Exit 1 (a failed backup) must leave the unit failed.
    assert!(!s.contains_key(&("Service".into(), "SuccessExitStatus".into())));
    assert!(read("systemd/lifeboat-backup.service").contains("#   OnFailure="));

    let t = unit("systemd/lifeboat-backup.timer");
    assert_eq!(setting(&t, "Timer", "OnCalendar"), "*-*-* 01:00:00");
    assert_eq!(setting(&t, "Timer", "Persistent"), "true");
    assert!(!setting(&t, "Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(setting(&t, "Install", "WantedBy"), "timers.target");
}

#[test]
fn daemon_service_stops_within_the_grace_and_its_command_line_parses() {
    let s = unit("systemd/lifeboat.service");
    assert_eq!(setting(&s, "Service", "Type"), "simple");
    assert!(setting(&s, "Service", "ExecStart").contains(" daemon"));
    assert_eq!(setting(&s, "Service", "Restart"), "on-failure");
    assert_eq!(setting(&s, "Service", "KillSignal"), "SIGTERM");
    assert_eq!(setting(&s, "Service", "TimeoutStopSec"), "60");
    let exec = setting(&s, "Service", "ExecStart");
    assert!(exec.contains("daemon --listen 127.0.0.1:9187"), "{exec}");
    assert_parses(exec.split_whitespace().skip(1));
}

// ---- Kubernetes ----

/// Every document of every manifest, by kind.
fn manifests() -> BTreeMap<String, Value> {
    let mut by_kind = BTreeMap::new();
    for entry in std::fs::read_dir(deploy("kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml"),
            "{}",
            path.display()
        );
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let kind = get(&value, "kind").as_str().unwrap().to_string();
            assert!(get(&value, "apiVersion").is_string(), "{}", path.display());
            assert!(
                get(&value, "metadata.name").is_string(),
                "{}",
                path.display()
            );
            assert!(by_kind.insert(kind.clone(), value).is_none(), "two {kind}s");
        }
    }
    by_kind
}

/// The value at a dotted path (`a.b.0.c`); a missing one fails naming the path.
fn get<'v>(value: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(value, |v, key| {
        let next = match key.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(key),
        };
        next.unwrap_or_else(|| panic!("no `{path}` (at `{key}`)"))
    })
}

fn str_at<'v>(value: &'v Value, path: &str) -> &'v str {
    get(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string"))
}

/// The Secret's keys with their (placeholder) values.
fn secret_data(secret: &Value) -> BTreeMap<String, String> {
    assert!(
        secret.get("data").is_none(),
        "placeholders go in stringData"
    );
    get(secret, "stringData")
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().into(), v.as_str().unwrap().into()))
        .collect()
}

/// Every `*_env` value in the configuration: the variables lifeboat reads secrets from.
fn env_names(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match v {
                    toml::Value::String(name) if k.ends_with("_env") => out.push(name.clone()),
                    _ => env_names(v, out),
                }
            }
        }
        toml::Value::Array(items) => items.iter().for_each(|v| env_names(v, out)),
        _ => {}
    }
}

/// Checks a pod spec against the other manifests; returns its container's command.
fn check_pod(what: &str, pod: &Value, all: &BTreeMap<String, Value>) -> Vec<String> {
    let config_map = &all["ConfigMap"];
    let secret = &all["Secret"];
    let secret_name = str_at(secret, "metadata.name");
    let keys = secret_data(secret);
    let containers = get(pod, "containers").as_sequence().unwrap();
    assert_eq!(containers.len(), 1, "{what}");
    let c = &containers[0];
    let command: Vec<String> = ["command", "args"]
        .iter()
        .filter_map(|k| c.get(*k))
        .flat_map(|v| v.as_sequence().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        command
            .first()
            .is_some_and(|p| p == "lifeboat" || p.ends_with("/lifeboat")),
        "{what}: {command:?}"
    );

    // Passwords: only through secretKeyRef into the Secret's keys, never a value.
    let mut from_secret = Vec::new();
    for var in get(c, "env").as_sequence().unwrap() {
        let name = str_at(var, "name");
        if let Some(value) = var.get("value") {
            let upper = name.to_uppercase();
            assert!(
                !["PASSWORD", "SECRET", "TOKEN", "KEY"]
                    .iter()
                    .any(|w| upper.contains(w)),
                "{what}: {name} has an inline value {value:?}"
            );
            continue;
        }
        assert_eq!(
            str_at(var, "valueFrom.secretKeyRef.name"),
            secret_name,
            "{what}"
        );
        let key = str_at(var, "valueFrom.secretKeyRef.key");
        assert!(keys.contains_key(key), "{what}: no key {key} in the Secret");
        from_secret.push(name.to_string());
    }
    let config: toml::Value = toml::from_str(lifeboat_toml(all)).unwrap();
    let mut wanted = Vec::new();
    env_names(&config, &mut wanted);
    assert!(!wanted.is_empty());
    for name in &wanted {
        assert!(
            from_secret.contains(name),
            "{what}: {name} not from the Secret"
        );
    }

    // The config from the ConfigMap at the path --config names; the repository on the PVC.
    let volumes: BTreeMap<&str, &Value> = get(pod, "volumes")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| (str_at(v, "name"), v))
        .collect();
    let mounts: BTreeMap<&str, &str> = get(c, "volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| (str_at(m, "mountPath"), str_at(m, "name")))
        .collect();
    let config_path = command
        .iter()
        .position(|a| a == "--config")
        .map(|i| command[i + 1].clone())
        .unwrap_or_else(|| panic!("{what}: no --config in {command:?}"));
    let (dir, file) = config_path.rsplit_once('/').unwrap();
    assert_eq!(file, "lifeboat.toml", "{what}");
    let config_volume = volumes[mounts.get(dir).unwrap_or_else(|| panic!("{what}: {dir}"))];
    assert_eq!(
        str_at(config_volume, "configMap.name"),
        str_at(config_map, "metadata.name"),
        "{what}"
    );
    let repo = config["repository"]["url"].as_str().unwrap();
    let repo_volume = volumes[mounts.get(repo).unwrap_or_else(|| panic!("{what}: {repo}"))];
    assert_eq!(
        str_at(repo_volume, "persistentVolumeClaim.claimName"),
        str_at(&all["PersistentVolumeClaim"], "metadata.name"),
        "{what}"
    );
    command
}

fn lifeboat_toml(all: &BTreeMap<String, Value>) -> &str {
    get(&all["ConfigMap"], "data")
        .get("lifeboat.toml")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the ConfigMap has no data.lifeboat.toml"))
}

#[test]
fn kubernetes_manifests_parse_and_fit_together() {
    let all = manifests();
    let kinds: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap",
            "CronJob",
            "Deployment",
            "PersistentVolumeClaim",
            "Secret"
        ]
    );

    let cron = &all["CronJob"];
    assert_eq!(str_at(cron, "apiVersion"), "batch/v1");
    assert_eq!(str_at(cron, "spec.schedule"), "0 1 * * *");
    assert_eq!(str_at(cron, "spec.concurrencyPolicy"), "Forbid");
    for limit in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        assert!(
            get(cron, &format!("spec.{limit}")).as_u64().is_some(),
            "{limit}"
        );
    }
    let job = get(cron, "spec.jobTemplate.spec");
    assert!(get(job, "backoffLimit").as_u64().unwrap() <= 1);
    let pod = get(job, "template.spec");
    assert_eq!(str_at(pod, "restartPolicy"), "Never");
    let command = check_pod("CronJob", pod, &all);
    let at = command.iter().position(|a| a == "backup");
    let app = at.and_then(|i| command.get(i + 1));
    let config: toml::Value = toml::from_str(lifeboat_toml(&all)).unwrap();
    let apps: Vec<&str> = config["app"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        app.is_some_and(|a| apps.contains(&a.as_str())),
        "the CronJob must run `lifeboat backup APP` for an app of {apps:?}: {command:?}"
    );

    let deployment = &all["Deployment"];
    assert_eq!(str_at(deployment, "apiVersion"), "apps/v1");
    assert_eq!(get(deployment, "spec.replicas").as_u64(), Some(1));
    assert_eq!(str_at(deployment, "spec.strategy.type"), "Recreate");
    let pod = get(deployment, "spec.template.spec");
    assert_eq!(get(pod, "terminationGracePeriodSeconds").as_u64(), Some(60));
    let command = check_pod("Deployment", pod, &all);
    assert!(command.iter().any(|a| a == "daemon"), "{command:?}");
    let probe = get(pod, "containers.0.livenessProbe.httpGet");
    assert_eq!(str_at(probe, "path"), "/healthz");
    assert_eq!(get(probe, "port").as_u64(), Some(9187));
    assert_parses(command.iter().skip(1).map(String::as_str));

    // No value of the Secret appears in any other manifest.
    let secret = secret_data(&all["Secret"]);
    for entry in std::fs::read_dir(deploy("kubernetes")).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("secret.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for value in secret.values() {
            assert!(!text.contains(value.as_str()), "{}", path.display());
        }
    }
}

fn config_check(toml_path: &Path, env: &BTreeMap<String, String>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(toml_path)
        .args(["config", "--check"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_configmaps_lifeboat_toml_passes_config_check_with_the_secrets_keys() {
    let all = manifests();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lifeboat.toml");
    let text = lifeboat_toml(&all);
    assert!(text.contains("kind = \"postgres\""), "{text}");
    std::fs::write(&path, text).unwrap();
    let mut env = secret_data(&all["Secret"]);
    for value in env.values_mut() {
        *value = "dummy".into();
    }
    let out = config_check(&path, &env);
    assert!(
        out.status.success(),
        "lifeboat config --check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Secret's keys are what makes it pass: without one, the check names it.
    let missing = env.keys().next_back().unwrap().clone();
    env.remove(&missing);
    let out = config_check(&path, &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&missing),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The arguments (after the binary) are ones lifeboat accepts: `--help` appended makes
/// clap check every flag before it prints the help.
fn assert_parses<'a>(args: impl Iterator<Item = &'a str>) {
    let args: Vec<&str> = args.collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeboat"))
        .args(&args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lifeboat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
