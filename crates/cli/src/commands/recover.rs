//! `lifeboat recover --repo URL`: disaster recovery on a new host. Reads the app
//! configurations stored in the newest backups and writes a `lifeboat.toml` from them.

use crate::config::stored::{self, Found, PasswordRef};
use crate::exit::UsageError;
use crate::Ctx;
use lifeboat_core::ports::{Repository, SnapshotInfo};
use lifeboat_core::Secret;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// The repository: a local path, s3://BUCKET/PREFIX, sftp://USER@HOST/PATH
    #[arg(long, value_name = "URL")]
    repo: String,
    /// The variable holding the repository password [default: LIFEBOAT_PASSWORD]
    #[arg(long, value_name = "VAR", conflicts_with = "password_file")]
    password_env: Option<String>,
    /// A file holding the repository password
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// A backend option KEY=VALUE (endpoint, region), repeatable; not written to the file
    #[arg(long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Where to write the configuration (`-`: stdout) [default: --config, else ./lifeboat.toml]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Overwrite the file if it exists
    #[arg(long)]
    force: bool,
}

/// One app found in the repository.
#[derive(Debug, Serialize)]
struct AppFound {
    app: String,
    /// The backup whose manifest held the configuration.
    snapshot: Option<String>,
    time: Option<String>,
    hostname: Option<String>,
    stored: bool,
    sources: Vec<String>,
}

pub fn run(ctx: &Ctx, args: RecoverArgs) -> anyhow::Result<ExitCode> {
    let (password, reference) = password(&args)?;
    let options = backend_options(&args.options)?;
    let opts = super::options_for(&args.repo, password, options);
    let mut repo = lifeboat_repo::Repo::open(&opts)?;
    let (found, apps) = stored_configs(&mut repo)?;
    if found.is_empty() {
        let what = if apps.is_empty() {
            "holds no lifeboat backup"
        } else {
            "holds backups, but none with a stored configuration (made by an older lifeboat)"
        };
        anyhow::bail!("{} {what}: nothing to recover", args.repo);
    }
    let mut text = stored::recovered(&found, &args.repo, &reference).map_err(anyhow::Error::msg)?;
    text.push_str(&without_config(&apps));
    let out = args.out.clone().unwrap_or_else(|| ctx.config_path.clone());
    write_out(&out, &text, args.force)?;
    if ctx.json {
        crate::output::json(&serde_json::json!({ "written": out, "apps": apps }))?;
    } else if !ctx.quiet {
        summary(&out, &apps);
    }
    Ok(ExitCode::SUCCESS)
}

fn password(args: &RecoverArgs) -> anyhow::Result<(Secret<String>, PasswordRef)> {
    if let Some(file) = &args.password_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| UsageError(format!("--password-file {}: {e}", file.display())))?;
        let reference = PasswordRef::File(file.display().to_string());
        return Ok((
            Secret::new(text.trim_end_matches(['\n', '\r']).to_string()),
            reference,
        ));
    }
    let var = args
        .password_env
        .clone()
        .unwrap_or_else(|| "LIFEBOAT_PASSWORD".into());
    let value = std::env::var(&var).map_err(|_| {
        UsageError(format!(
            "the repository password: set ${var}, or give --password-env VAR or --password-file FILE"
        ))
    })?;
    Ok((Secret::new(value), PasswordRef::Env(var)))
}

fn backend_options(given: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|o| match o.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(UsageError(format!("--option `{o}`: expected KEY=VALUE")).into()),
        })
        .collect()
}

/// For each app (newest first), the configuration in its newest regular backup that
/// has one; and every app seen.
fn stored_configs(repo: &mut dyn Repository) -> anyhow::Result<(Vec<Found>, Vec<AppFound>)> {
    let mut snapshots: Vec<SnapshotInfo> = repo.list()?;
    snapshots.retain(|s| !s.pre_restore);
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.timestamp));
    let mut names: Vec<String> = Vec::new();
    for s in &snapshots {
        if !names.contains(&s.app) {
            names.push(s.app.clone());
        }
    }
    let reader = repo.reader()?;
    let (mut found, mut apps) = (Vec::new(), Vec::new());
    for app in names {
        let mine: Vec<&SnapshotInfo> = snapshots.iter().filter(|s| s.app == app).collect();
        let mut sources: Vec<String> = Vec::new();
        for s in &mine {
            let named = format!("{} ({})", s.source, s.kind);
            if !sources.contains(&named) {
                sources.push(named);
            }
        }
        let mut entry = AppFound {
            app: app.clone(),
            snapshot: None,
            time: None,
            hostname: None,
            stored: false,
            sources,
        };
        for s in mine {
            if let Some(text) = reader.manifest(&s.id)?.config {
                entry.snapshot = Some(s.short_id().to_string());
                entry.time = Some(s.display_time());
                entry.hostname = Some(s.hostname.clone());
                entry.stored = true;
                found.push(Found {
                    app: app.clone(),
                    text,
                });
                break;
            }
        }
        apps.push(entry);
    }
    Ok((found, apps))
}

/// Comments naming the apps whose backups hold no configuration.
fn without_config(apps: &[AppFound]) -> String {
    let mut text = String::new();
    for a in apps.iter().filter(|a| !a.stored) {
        text.push_str(&format!(
            "\n# app `{}` has backups but no stored configuration (made by an older lifeboat); its sources: {}\n",
            a.app,
            a.sources.join(", ")
        ));
    }
    text
}

fn write_out(out: &PathBuf, text: &str, force: bool) -> anyhow::Result<()> {
    if out.as_os_str() == "-" {
        print!("{text}");
        return Ok(());
    }
    if out.exists() && !force {
        return Err(UsageError(format!(
            "{} exists; give --force to overwrite it, or --out FILE (or --out - for stdout)",
            out.display()
        ))
        .into());
    }
    std::fs::write(out, text).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))
}

fn summary(out: &std::path::Path, apps: &[AppFound]) {
    for a in apps {
        match (&a.time, &a.hostname) {
            (Some(time), Some(host)) => eprintln!(
                "app {}: configuration of {time} from host {host} (snapshot {})",
                a.app,
                a.snapshot.as_deref().unwrap_or("")
            ),
            _ => eprintln!(
                "app {}: no stored configuration; its sources are listed as a comment",
                a.app
            ),
        }
    }
    if out.as_os_str() != "-" {
        eprintln!(
            "wrote {}; check it, set the secrets it names, then e.g. `lifeboat restore APP --plan`",
            out.display()
        );
    }
}
