//! A throwaway OpenSSH server for SFTP repositories: `sshd` from Debian's
//! openssh-server on a free loopback port, with a generated host key and a generated
//! client key as its only authorized key, everything in a temp dir. Runs as the
//! current user (root here, hence `PermitRootLogin prohibit-password`).

use super::{free_port, which};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub struct Sshd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

fn keygen(path: &Path) {
    let keygen = which("ssh-keygen")
        .unwrap_or_else(|| panic!("ssh-keygen not found: apt-get install -y openssh-client"));
    let out = Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lifeboat-test", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    pub fn start() -> Sshd {
        // sshd re-executes itself and wants an absolute path.
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(
            sshd.is_file(),
            "sshd not found: apt-get install -y openssh-server"
        );
        // opendal's SFTP service runs the ssh client.
        which("ssh").unwrap_or_else(|| panic!("ssh not found: apt-get install -y openssh-client"));
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-test-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir(d.join("data")).unwrap();
        // Privilege separation wants this dir (the package's service would create it).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\n\
             Subsystem sftp internal-sftp\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Sshd { port, dir, child };
        let up = super::port_opens(port, Duration::from_secs(20));
        assert!(up, "sshd did not start: {}", server.log());
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// Where repositories go.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `sftp://USER@127.0.0.1:PORT/DATA/name` for the current user.
    pub fn url(&self, name: &str) -> String {
        let user = std::env::var("USER")
            .ok()
            .or_else(|| super::is_root().then(|| "root".to_string()))
            .unwrap_or_else(|| "root".into());
        format!(
            "sftp://{user}@127.0.0.1:{}{}/{name}",
            self.port,
            self.data().display()
        )
    }

    /// This server's entry for a known_hosts file.
    pub fn known_hosts_line(&self) -> String {
        let key = std::fs::read_to_string(self.dir.path().join("host_key.pub")).unwrap();
        let mut parts = key.split_whitespace();
        let (kind, blob) = (parts.next().unwrap(), parts.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {blob}", self.port)
    }

    /// The command lines of the running `ssh` processes that belong to this server's
    /// clients: those naming this test's key (in the temp dir) or port.
    pub fn ssh_clients(&self) -> Vec<String> {
        let dir = self.dir.path().display().to_string();
        let port = format!("{}", self.port);
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
                .is_none()
            {
                continue;
            }
            let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_ssh = args
                .first()
                .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "ssh"));
            if is_ssh && args.iter().any(|a| a.contains(&dir) || *a == port) {
                found.push(args.join(" "));
            }
        }
        found
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Edits of the user's known_hosts file, one at a time (tests run in parallel).
static KNOWN_HOSTS: Mutex<()> = Mutex::new(());

/// A line in `~/.ssh/known_hosts` for as long as this lives. ssh reads the known
/// hosts of the user's home from the password database, not `$HOME`, and opendal's
/// SFTP service offers no other file, so the test adds its server's key there (the
/// default, strict host key checking then passes) and removes it again on drop.
pub struct KnownHost {
    file: PathBuf,
    line: String,
}

impl KnownHost {
    pub fn add(sshd: &Sshd) -> KnownHost {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap();
        let ssh_dir = home.join(".ssh");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        let file = ssh_dir.join("known_hosts");
        let line = sshd.known_hosts_line();
        let _guard = KNOWN_HOSTS.lock().unwrap_or_else(|p| p.into_inner());
        let mut text = std::fs::read_to_string(&file).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line);
        text.push('\n');
        std::fs::write(&file, text).unwrap();
        KnownHost { file, line }
    }
}

impl Drop for KnownHost {
    fn drop(&mut self) {
        let _guard = KNOWN_HOSTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(text) = std::fs::read_to_string(&self.file) {
            let kept: String = text
                .lines()
                .filter(|l| *l != self.line)
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(&self.file, kept);
        }
    }
}
