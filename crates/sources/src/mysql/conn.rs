//! Connection parameters of a MySQL/MariaDB server, the 0600 option file that hands
//! user, password, host and port to the stock clients (never argv, never
//! `MYSQL_PWD`), and running SQL through the stock `mariadb`/`mysql` client.

use crate::process::{run_to_end, PROBE_TIMEOUT};
use crate::scratch::find_binary;
use crate::SourceError;
use lifeboat_core::Secret;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a server (and optionally a database on it) is, parsed from
/// `mysql://USER@HOST[:PORT][/DB]`.
#[derive(Debug, Clone)]
pub struct MysqlTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: Option<String>,
    pub password: Option<Secret<String>>,
}

const DEFAULT_PORT: u16 = 3306;
const CLIENT_HINT: &str = "apt-get install -y mariadb-client";

impl MysqlTarget {
    pub fn parse(url: &str, password: Option<Secret<String>>) -> Result<Self, SourceError> {
        let invalid = |why: &str| SourceError::Invalid(format!("invalid mysql url: {why}"));
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or_else(|| invalid("must start with mysql://"))?;
        let (authority, dbname) = match rest.split_once('/') {
            Some((a, "")) => (a, None),
            Some((a, db)) => (a, Some(db)),
            None => (rest, None),
        };
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| invalid("missing USER@"))?;
        // Checked before anything else so that no later message can quote the password.
        if user.contains(':') {
            return Err(invalid(
                "passwords do not belong in urls; use password_env or password_file",
            ));
        }
        let (host, port) = split_host_port(hostport).ok_or_else(|| invalid("bad port"))?;
        if host.is_empty() || user.is_empty() || dbname.is_some_and(|d| d.contains(['/', '?', '#']))
        {
            return Err(invalid("expected mysql://USER@HOST[:PORT][/DB]"));
        }
        // `%40` in a user name, `%20` in a database name: URLs are percent-encoded.
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| invalid("bad %-escape (expected %XX, UTF-8)"))
        };
        Ok(Self {
            host: host.to_string(),
            port,
            user: decode(user)?,
            dbname: dbname.map(decode).transpose()?,
            password,
        })
    }

    /// The same server, another database.
    pub fn with_db(&self, db: &str) -> Self {
        Self {
            dbname: Some(db.to_string()),
            ..self.clone()
        }
    }

    /// The same server, no database.
    pub fn without_db(&self) -> Self {
        Self {
            dbname: None,
            ..self.clone()
        }
    }

    /// `mysql://USER@HOST:PORT[/DB]` (never with the password).
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let db = self
            .dbname
            .as_deref()
            .map(|d| format!("/{}", percent_encode(d)))
            .unwrap_or_default();
        format!(
            "mysql://{}@{host}:{}{db}",
            percent_encode(&self.user),
            self.port
        )
    }

    /// Writes the option file the clients read their credentials from.
    pub(crate) fn option_file(&self) -> Result<OptionFile, SourceError> {
        let mut text = format!(
            "[client]\nuser={}\nhost={}\nport={}\n",
            option_value(&self.user),
            option_value(&self.host),
            self.port
        );
        if let Some(password) = &self.password {
            text.push_str(&format!("password={}\n", option_value(password.expose())));
        }
        OptionFile::write(&text)
    }
}

/// Undoes `%XX` escapes; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Escapes what would change how a URL part parses (and `%` itself), so that
/// [`MysqlTarget::url`] parses back to the same target.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_control() || " %/?#@:[]".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT`.
fn split_host_port(hostport: &str) -> Option<(&str, u16)> {
    if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        return match after {
            "" => Some((host, DEFAULT_PORT)),
            _ => Some((host, after.strip_prefix(':')?.parse().ok()?)),
        };
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => Some((host, port.parse().ok()?)),
        None => Some((hostport, DEFAULT_PORT)),
    }
}

/// A value for an option file: quoted, with the escapes the clients understand, so
/// that `#`, quotes, backslashes and spaces survive.
fn option_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A 0600 `[client]` option file in its own temp dir; removed on drop, so keep it
/// alive until the child that reads it has exited.
pub struct OptionFile {
    /// Also the clients' HOME (see [`command`]).
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl OptionFile {
    fn write(text: &str) -> Result<Self, SourceError> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-mysql-")
            .tempdir()
            .map_err(SourceError::io("creating an option file directory"))?;
        let path = dir.path().join("client.cnf");
        let mut file = std::fs::OpenOptions::new()
            .mode(0o600)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(SourceError::io("writing the client option file"))?;
        file.write_all(text.as_bytes())
            .map_err(SourceError::io("writing the client option file"))?;
        Ok(Self { dir, path })
    }

    /// `--defaults-extra-file=PATH`: the clients honour it only as the first argument.
    fn arg(&self) -> OsString {
        let mut arg = OsString::from("--defaults-extra-file=");
        arg.push(&self.path);
        arg
    }
}

/// A stock client tool and the name to report it by.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
}

fn find_tool(names: &[&'static str]) -> Result<Tool, SourceError> {
    let path = find_binary(names, &[]).ok_or_else(|| SourceError::MissingTool {
        tool: names.join(" or "),
        hint: CLIENT_HINT.to_string(),
    })?;
    let name = names
        .iter()
        .copied()
        .find(|n| path.file_name().is_some_and(|f| f == *n))
        .unwrap_or(names[0]);
    Ok(Tool { name, path })
}

/// The interactive client: `mariadb`, else `mysql`.
pub(crate) fn client_tool() -> Result<Tool, SourceError> {
    find_tool(&["mariadb", "mysql"])
}

/// The dump tool: `mariadb-dump`, else `mysqldump`.
pub(crate) fn dump_tool() -> Result<Tool, SourceError> {
    find_tool(&["mariadb-dump", "mysqldump"])
}

/// What `tool --version` prints, for the manifest.
pub(crate) fn tool_version(tool: &Tool) -> Result<String, SourceError> {
    let mut cmd = Command::new(&tool.path);
    cmd.arg("--version");
    let what = format!("{} --version", tool.name);
    let out = run_to_end(&what, &mut cmd, None, Some(PROBE_TIMEOUT))
        .map_err(|e| missing_client(tool, e))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A command for `tool` reading its credentials from `options`.
///
/// The clients read `~/.my.cnf` (and MySQL's `~/.mylogin.cnf`) *after* the extra
/// file, so a `[client]` section there would override our user, password and even
/// host: a verify restore could land on the server named in an admin's `~/.my.cnf`.
/// HOME therefore points at the option file's private directory. System-wide files
/// (`/etc/mysql`, e.g. TLS settings) are still read, before ours. Variables that
/// would override or leak credentials are removed.
pub(crate) fn command(tool: &Path, options: &OptionFile) -> Command {
    let mut cmd = Command::new(tool);
    cmd.arg(options.arg()).env("HOME", options.dir.path());
    for var in [
        "MYSQL_PWD",
        "MYSQL_HOST",
        "MYSQL_TCP_PORT",
        "MYSQL_UNIX_PORT",
        "MYSQL_TEST_LOGIN_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Arguments both the client and the dump tool get: UTF-8 both ways (utf8mb4, so
/// that 4-byte characters survive), and rows as large as the protocol allows.
pub(crate) const COMMON_ARGS: [&str; 2] = [
    "--default-character-set=utf8mb4",
    "--max-allowed-packet=1073741824",
];

/// The client also gives up on an unreachable server instead of waiting for the
/// kernel's TCP timeout (the dump tool has no such option; the preflight query
/// covers it).
pub(crate) const CLIENT_ARGS: [&str; 1] = ["--connect-timeout=15"];

/// Runs `sql` against `target` (in its database, if any) with the stock client and
/// returns the rows, columns split on tabs. The SQL goes through stdin, so nothing it
/// contains shows in the process list.
pub fn query(target: &MysqlTarget, sql: &str) -> Result<Vec<Vec<String>>, SourceError> {
    let tool = client_tool()?;
    let options = target.option_file()?;
    let mut cmd = command(&tool.path, &options);
    cmd.args(COMMON_ARGS)
        .args(CLIENT_ARGS)
        .args(["--batch", "--skip-column-names"]);
    if let Some(db) = &target.dbname {
        cmd.arg(format!("--database={db}"));
    }
    // A client that could not connect exits without reading: its stderr says why.
    let out = run_to_end(tool.name, &mut cmd, Some(sql.as_bytes()), None)
        .map_err(|e| missing_client(&tool, e))?;
    if !out.status.success() {
        return Err(client_error(target, &out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| line.split('\t').map(unescape_batch).collect())
        .collect())
}

/// Undoes the escaping of `--batch` output (`\\`, `\t`, `\n`, `\0`).
fn unescape_batch(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// The first column of the first row, or an error naming `what`.
pub(crate) fn query_one(
    target: &MysqlTarget,
    sql: &str,
    what: &str,
) -> Result<String, SourceError> {
    query(target, sql)?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .ok_or_else(|| SourceError::Query(format!("{what}: no answer from {}", target.url())))
}

/// A client that is not there names the package to install.
fn missing_client(tool: &Tool, e: SourceError) -> SourceError {
    match e {
        SourceError::MissingTool { .. } => SourceError::MissingTool {
            tool: tool.name.into(),
            hint: CLIENT_HINT.into(),
        },
        e => e,
    }
}

/// Server error numbers that mean "could not get in" rather than "the SQL failed":
/// access denied (1044, 1045), unknown database (1049), host blocked or not allowed
/// (1129, 1130), too many connections (1040, 1203), and every client error (2xxx:
/// cannot connect, unknown host, lost connection, TLS, …).
fn is_connect_error(code: u32) -> bool {
    matches!(
        code,
        1040 | 1044 | 1045 | 1049 | 1129 | 1130 | 1203 | 2000..=2999
    )
}

/// The `NNNN` of a client message `ERROR NNNN (SQLSTATE)…` or `Got error: NNNN: …`.
fn error_code(stderr: &str) -> Option<u32> {
    let after = stderr
        .split_once("ERROR ")
        .or_else(|| stderr.split_once("Got error: "))
        .map(|(_, rest)| rest)?;
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// A failed client run as an error naming the server (never the password: the
/// clients print only "using password: YES").
pub(crate) fn client_error(target: &MysqlTarget, stderr: &str) -> SourceError {
    let detail = stderr.trim();
    match error_code(detail) {
        Some(code) if is_connect_error(code) => {
            SourceError::Connect(format!("cannot connect to {}: {detail}", target.url()))
        }
        _ => SourceError::Query(format!("{}: {detail}", target.url())),
    }
}

/// A string literal that means `value` whatever the server's sql_mode
/// (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`): a hex literal converted to UTF-8.
pub(crate) fn sql_string(value: &str) -> String {
    format!(
        "CONVERT(X'{}' USING utf8mb4)",
        hex::encode(value.as_bytes())
    )
}

/// Quotes an identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Names a tool receives as arguments must not look like options.
pub(crate) fn check_db_name(name: &str) -> Result<(), SourceError> {
    if name.is_empty() || name.starts_with('-') {
        return Err(SourceError::Invalid(format!(
            "invalid database name {name:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_refuses_passwords() {
        let t = MysqlTarget::parse("mysql://app@db.example:3307/shop", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("db.example", 3307, "app")
        );
        assert_eq!(t.dbname.as_deref(), Some("shop"));
        assert_eq!(t.url(), "mysql://app@db.example:3307/shop");
        let t = MysqlTarget::parse("mysql://root@localhost", None).unwrap();
        assert_eq!((t.port, t.dbname.clone()), (3306, None));
        assert_eq!(t.url(), "mysql://root@localhost:3306");
        assert_eq!(t.with_db("x").url(), "mysql://root@localhost:3306/x");
        assert_eq!(
            MysqlTarget::parse("mysql://u@h/", None).unwrap().dbname,
            None
        );
        let v6 = MysqlTarget::parse("mysql://u@[::1]:3310/d", None).unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 3310));
        assert_eq!(v6.url(), "mysql://u@[::1]:3310/d");
        for bad in [
            "postgres://u@h/d",
            "mysql://h/d",
            "mysql://u@h:x/d",
            "mysql://u@:3306/d",
            "mysql://u@h/d/e",
        ] {
            assert!(MysqlTarget::parse(bad, None).is_err(), "{bad}");
        }
        let err = MysqlTarget::parse("mysql://u:hunter2@h:notaport/d", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn url_parts_are_percent_decoded_and_round_trip() {
        let t = MysqlTarget::parse("mysql://app%40corp@h:3307/my%20db%2Fx%25", None).unwrap();
        assert_eq!(t.user, "app@corp");
        assert_eq!(t.dbname.as_deref(), Some("my db/x%"));
        assert_eq!(t.url(), "mysql://app%40corp@h:3307/my%20db%2Fx%25");
        let back = MysqlTarget::parse(&t.url(), None).unwrap();
        assert_eq!((back.user, back.dbname), (t.user, t.dbname));
        let t = MysqlTarget::parse("mysql://u@h/caf%C3%A9", None).unwrap();
        assert_eq!(t.dbname.as_deref(), Some("café"));
        assert_eq!(t.url(), "mysql://u@h:3306/café");
        for bad in ["mysql://u@h/a%zz", "mysql://u@h/a%4", "mysql://u@h/%FF"] {
            assert!(MysqlTarget::parse(bad, None).is_err(), "{bad}");
        }
        // A password is refused before decoding: `%3A` in a user name is a colon in the name.
        assert_eq!(
            MysqlTarget::parse("mysql://a%3Ab@h", None).unwrap().user,
            "a:b"
        );
    }

    #[test]
    fn option_values_are_quoted_and_escaped() {
        assert_eq!(option_value(r#"p"a\ss#w 'rd"#), r#""p\"a\\ss#w 'rd""#);
        assert_eq!(option_value("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn option_file_is_private_and_holds_the_password() {
        use std::os::unix::fs::PermissionsExt;
        let t = MysqlTarget::parse("mysql://u@h:1/d", Some(Secret::new("s3cret".into()))).unwrap();
        let file = t.option_file().unwrap();
        let meta = std::fs::metadata(&file.path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&file.path).unwrap();
        assert!(
            text.starts_with("[client]\n")
                && text.contains("password=\"s3cret\"")
                && text.contains("port=1")
        );
        assert!(file
            .arg()
            .to_string_lossy()
            .starts_with("--defaults-extra-file=/"));
    }

    #[test]
    fn clients_do_not_read_the_users_option_files() {
        let t = MysqlTarget::parse("mysql://u@h:1/d", None).unwrap();
        let file = t.option_file().unwrap();
        let cmd = command(Path::new("mariadb"), &file);
        let home = cmd
            .get_envs()
            .find(|(k, _)| *k == "HOME")
            .and_then(|(_, v)| v);
        assert_eq!(home, Some(file.dir.path().as_os_str()));
        assert!(!file.dir.path().join(".my.cnf").exists());
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        assert!(removed.contains(&std::ffi::OsStr::new("MYSQL_PWD")));
        assert_eq!(cmd.get_args().next(), Some(file.arg().as_os_str()));
    }

    #[test]
    fn a_missing_client_names_the_package() {
        let e = find_tool(&["no-such-mysql-client"]).unwrap_err();
        assert!(matches!(e, SourceError::MissingTool { .. }), "{e}");
        assert!(
            e.to_string().contains("apt-get install -y mariadb-client"),
            "{e}"
        );
    }

    #[test]
    fn classifies_client_errors() {
        let t = MysqlTarget::parse("mysql://u@127.0.0.1:9/d", None).unwrap();
        let e = client_error(
            &t,
            "ERROR 2002 (HY000): Can't connect to server on '127.0.0.1' (115)\n",
        );
        assert!(
            matches!(e, SourceError::Connect(_)) && e.to_string().contains("127.0.0.1:9"),
            "{e}"
        );
        let e = client_error(
            &t,
            "ERROR 1045 (28000): Access denied for user 'u'@'localhost' (using password: YES)",
        );
        assert!(matches!(e, SourceError::Connect(_)));
        let e = client_error(
            &t,
            "mariadb-dump: Got error: 1049: \"Unknown database 'd'\" when selecting the database",
        );
        assert!(matches!(e, SourceError::Connect(_)));
        let e = client_error(
            &t,
            "ERROR 1064 (42000) at line 1: You have an error in your SQL syntax",
        );
        assert!(matches!(e, SourceError::Query(_)));
    }

    #[test]
    fn unescapes_batch_output() {
        assert_eq!(unescape_batch(r"a\tb\nc\\d\0"), "a\tb\nc\\d\0");
        assert_eq!(unescape_batch("plain"), "plain");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(sql_string("a'"), "CONVERT(X'6127' USING utf8mb4)");
        assert!(
            check_db_name("-x").is_err()
                && check_db_name("").is_err()
                && check_db_name("x-1").is_ok()
        );
    }
}
