//! `lifeboat man [--dir DIR]`: the manual page, generated from the clap definition — one
//! roff page with every command on stdout, or that page and one per command in DIR.

use crate::Ctx;
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_help = "Read it with `lifeboat man | man -l -`.")]
pub struct ManArgs {
    /// Write lifeboat.1 and one lifeboat-COMMAND.1 per command into DIR instead
    /// (e.g. /usr/local/share/man/man1)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: ManArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = <crate::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    // Propagates the global flags and names the subcommands `lifeboat-backup` etc.
    cmd.build();
    let page = main_page(&cmd)?;
    let Some(dir) = args.dir else {
        crate::output::raw(&page)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let top = dir.join("lifeboat.1");
    std::fs::write(&top, &page).map_err(|e| anyhow::anyhow!("{}: {e}", top.display()))?;
    let mut written = vec![top];
    for sub in visible_subcommands(&cmd) {
        let path = Man::new(sub.clone())
            .generate_to(&dir)
            .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        written.push(path);
    }
    if !ctx.quiet {
        for path in &written {
            println!("{}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn visible_subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// clap_mangen's sections for the top command, then every command with its own
/// options, exit status, environment and files.
fn main_page(cmd: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut roff = Roff::new();
    commands_section(&mut roff, cmd);
    trailer_sections(&mut roff);
    out.extend_from_slice(roff.to_roff().as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

fn commands_section(roff: &mut Roff, cmd: &clap::Command) {
    roff.control("SH", ["COMMANDS"]);
    for sub in visible_subcommands(cmd) {
        roff.control("SS", [format!("lifeboat {}", sub.get_name()).as_str()]);
        let usage = sub.clone().render_usage().to_string();
        roff.text([bold(usage.trim_start_matches("Usage:").trim())]);
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            roff.control("PP", []);
            roff.text([roman(about.to_string())]);
        }
        let own = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"));
        for arg in own {
            roff.control("TP", []);
            roff.text(arg_label(arg));
            roff.text([roman(arg_help(arg))]);
        }
    }
}

/// `-s, --snapshot <ID>` or `<SPEC>...`.
fn arg_label(arg: &clap::Arg) -> Vec<Inline> {
    let value_names: Vec<String> = match arg.get_value_names() {
        Some(names) => names.iter().map(|n| n.to_string()).collect(),
        None => vec![arg.get_id().as_str().to_uppercase()],
    };
    let many = matches!(arg.get_num_args(), Some(r) if r.max_values() > 1);
    let dots = if many { "..." } else { "" };
    if arg.is_positional() {
        return vec![italic(format!("{}{dots}", value_names.join(" ")))];
    }
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("--{l}"));
    }
    let mut label = vec![bold(names.join(", "))];
    if arg.get_action().takes_values() {
        label.push(roman(" "));
        label.push(italic(format!("{}{dots}", value_names.join(" "))));
    }
    label
}

fn arg_help(arg: &clap::Arg) -> String {
    let mut help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if arg.get_action().takes_values() && !possible.is_empty() {
        help.push_str(&format!(" [possible values: {}]", possible.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if arg.get_action().takes_values() && !defaults.is_empty() {
        help.push_str(&format!(" [default: {}]", defaults.join(", ")));
    }
    help
}

/// A `.TP` list: a bold term and its text per entry.
fn list(roff: &mut Roff, heading: &str, entries: &[(&str, &str)]) {
    roff.control("SH", [heading]);
    for (term, text) in entries {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}

fn trailer_sections(roff: &mut Roff) {
    list(
        roff,
        "EXIT STATUS",
        &[
            ("0", "All done."),
            (
                "1",
                "Some backup, restore or verification failed; the output says which.",
            ),
            ("2", "Usage or configuration error."),
            (
                "3",
                "Repository problem: missing, wrong password, corrupt, or locked.",
            ),
            (
                "130",
                "Interrupted by SIGINT or SIGTERM, after the clean-up ran.",
            ),
        ],
    );
    list(
        roff,
        "ENVIRONMENT",
        &[
            (
                "LIFEBOAT_CONFIG",
                "The configuration file when --config is not given.",
            ),
            (
                "LIFEBOAT_LOG",
                "A tracing filter for stderr logging (e.g. debug).",
            ),
        ],
    );
    list(
        roff,
        "FILES",
        &[(
            "./lifeboat.toml",
            "The configuration file when neither --config nor LIFEBOAT_CONFIG is set. \
             Secrets are never written in it: *_env names an environment variable, \
             *_file a file.",
        )],
    );
    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("restic"),
        roman("(1), "),
        bold("pg_dump"),
        roman("(1), "),
        bold("systemd.timer"),
        roman("(5)"),
    ]);
}
