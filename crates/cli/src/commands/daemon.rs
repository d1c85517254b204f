//! `lifeboat daemon`: the arguments; the daemon itself is `crate::daemon`.

#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// Serve HTTP (/healthz, /metrics, /api/status, the dashboard) on this address
    /// [default: `[daemon] listen`, else 127.0.0.1:9187]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// One log line per event on stderr, as text or JSON (for log shippers)
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: crate::daemon::LogFormat,
}
