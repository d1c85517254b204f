//! The `lifeboat` binary: parses arguments, loads the configuration, wires the
//! repository and sources together, prints results and maps errors to exit codes.

mod commands;
mod config;
mod daemon;
mod exit;
mod journal;
mod notify;
mod output;
mod progress;
mod run_lock;
mod wire;

use clap::{Parser, Subcommand};
use lifeboat_core::CancelToken;

/// jemalloc instead of glibc's malloc: the archiver hands megabyte-sized chunk
/// buffers between threads, which glibc serves from per-thread arenas that only grow
/// (a 5 GiB stream backup peaked 40 MiB above a 2 GiB one) and from fresh mmaps
/// whose page faults showed up as system time. Built with one arena
/// (`.cargo/config.toml`): with one per thread, freed chunk buffers stayed resident in
/// each thread's arena.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "lifeboat",
    version,
    about = "Back up and restore the stateful parts of server applications"
)]
struct Cli {
    /// Configuration file (default: $LIFEBOAT_CONFIG, else ./lifeboat.toml)
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Machine-readable output on stdout
    #[arg(long, global = true)]
    json: bool,
    /// Only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More detail on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Cache of remote repositories, one dir per repository (default: $XDG_CACHE_HOME/lifeboat, else ~/.cache/lifeboat)
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the repository
    Init,
    /// Run one backup cycle now for the given apps/sources (all when none)
    Backup(commands::backup::BackupArgs),
    /// List backups
    List(commands::list::ListArgs),
    /// Print the resolved configuration with secrets masked
    Config(commands::config::ConfigArgs),
    /// Restore a source, or a whole app from one backup set
    Restore(commands::restore::RestoreArgs),
    /// Write a lifeboat.toml from the configuration stored in a repository (a new host)
    Recover(commands::recover::RecoverArgs),
    /// Copy to the copy_to repositories the backups they are missing
    Copy(commands::copy::CopyArgs),
    /// Write a stored dump to stdout
    Dump(commands::dump::DumpArgs),
    /// Check the repository's integrity
    Check(commands::check::CheckArgs),
    /// Prove backups restore: restore into throwaway servers and compare with the manifest
    Verify(commands::verify::VerifyArgs),
    /// Apply retention to the backups of the given apps/sources (all when none), then reclaim space
    Prune(commands::prune::PruneArgs),
    /// Run the schedules (backup, verify, prune) until SIGTERM
    Daemon(commands::daemon::DaemonArgs),
    /// Last backup and verification per source, next scheduled runs, repository size
    Status,
    /// Remove stale repository locks (left by crashed lifeboat or restic processes)
    Unlock(commands::unlock::UnlockArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command with --dir
    Man(commands::man::ManArgs),
}

/// What every command gets.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config_path: PathBuf,
    pub json: bool,
    pub quiet: bool,
    /// `--cache-dir`: where remote repositories keep rustic's cache and lifeboat's state.
    pub cache_dir: Option<PathBuf>,
    /// Set by SIGINT/SIGTERM; long operations stop at their next step.
    pub cancel: CancelToken,
}

fn init_logging(cli: &Cli) {
    // The daemon's log is its output: info lines (one per event) with their times.
    let daemon = match &cli.command {
        Command::Daemon(args) => Some(args.log_format),
        _ => None,
    };
    let level = match (cli.quiet, cli.verbose, daemon.is_some()) {
        (true, _, _) => "error",
        (false, 0, false) => "warn",
        (false, 0, true) | (false, 1, _) => "info",
        _ => "debug",
    };
    // opendal logs expected NotFound probes as warnings; rustic narrates at info.
    // Entry errors that rustic "ignores" are reported by lifeboat itself, once.
    let filter = format!("{level},opendal::services=error,rustic_core=error,rustic_backend=error");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFEBOAT_LOG")
                .unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false);
    match daemon {
        Some(daemon::LogFormat::Json) => builder.json().flatten_event(true).init(),
        Some(daemon::LogFormat::Text) => builder.with_ansi(false).init(),
        None => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .without_time()
            .init(),
    }
}

/// On SIGINT/SIGTERM, for every command (restic's model): the first signal only
/// cancels. The token is set, the children running now get SIGTERM (pg_restore then
/// cancels its queries) and SIGKILL 200 ms later, and the main thread unwinds: the
/// dump in progress fails (no partial snapshot), the remaining sources are skipped,
/// after_backup hooks run, throwaway servers and temp dirs are dropped, a restore says
/// what state it left its target in, and the exit code is 130 (`exit.rs`). A second
/// signal exits at once, removing throwaway servers first.
fn cancel_on_signals(cancel: CancelToken) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        let mut seen = 0;
        for _ in signals.forever() {
            seen += 1;
            if seen == 1 {
                cancel.cancel();
                let grace = std::time::Duration::from_millis(200);
                let stopped = lifeboat_sources::process::stop_running_children(grace);
                eprintln!("interrupted: stopping ({stopped} child process(es) stopped); press Ctrl-C again to quit at once");
                continue;
            }
            lifeboat_sources::process::kill_all_children();
            lifeboat_repo::ssh_masters::end_masters();
            let cleaned = lifeboat_sources::scratch::cleanup_all();
            eprintln!("interrupted again: quitting at once; removed {cleaned} throwaway server(s) and their data");
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    });
}

fn main() -> ExitCode {
    // Before any thread starts (see mark_this_process); the guard ends the SFTP
    // backend's ssh masters however main ends, an error or an interrupt included.
    lifeboat_repo::ssh_masters::mark_this_process();
    let _ssh_masters = lifeboat_repo::ssh_masters::EndMastersOnDrop;
    let cli = Cli::parse();
    init_logging(&cli);
    let cancel = CancelToken::new();
    // The daemon handles its own signals (grace period, reload).
    if !matches!(cli.command, Command::Daemon(_)) {
        cancel_on_signals(cancel.clone());
    }
    let ctx = Ctx {
        config_path: config::locate(cli.config.as_deref()),
        json: cli.json,
        quiet: cli.quiet,
        cache_dir: cli.cache_dir.clone(),
        cancel,
    };
    if let Some(dir) = &ctx.cache_dir {
        commands::set_cache_dir(dir.clone());
    }
    let result = match cli.command {
        Command::Init => commands::init::run(&ctx),
        Command::Backup(args) => commands::backup::run(&ctx, args),
        Command::List(args) => commands::list::run(&ctx, args),
        Command::Config(args) => commands::config::run(&ctx, args),
        Command::Restore(args) => commands::restore::run(&ctx, args),
        Command::Recover(args) => commands::recover::run(&ctx, args),
        Command::Copy(args) => commands::copy::run(&ctx, args),
        Command::Dump(args) => commands::dump::run(&ctx, args),
        Command::Check(args) => commands::check::run(&ctx, args),
        Command::Verify(args) => commands::verify::run(&ctx, args),
        Command::Prune(args) => commands::prune::run(&ctx, args),
        Command::Daemon(args) => daemon::run(&ctx, &args),
        Command::Status => commands::status::run(&ctx),
        Command::Unlock(args) => commands::unlock::run(&ctx, args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(&ctx, args),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    };
    // A command that ended because its tools were stopped by a signal was interrupted,
    // whatever error that caused (pg_restore: "terminated by user").
    if ctx.cancel.is_cancelled() {
        ExitCode::from(exit::INTERRUPTED)
    } else {
        code
    }
}
