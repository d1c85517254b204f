//! `lifeboat daemon`: the arguments; the daemon itself is `crate::daemon`.

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// One log line per event on stderr, as text or JSON (for log shippers)
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: crate::daemon::LogFormat,
}
