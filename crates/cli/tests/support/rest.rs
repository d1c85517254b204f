//! A throwaway REST server: `rustic-server` (rustic's REST server, built from crates.io
//! by scripts/install-deps) on a free loopback port with its data, an htpasswd file
//! with one user in a temp dir.

use super::{free_port, which};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const USER: &str = "backup";
const INSTALL_HINT: &str = "cargo install rustic_server@0.4.4 --locked (or scripts/install-deps)";

pub struct RestServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub password: String,
    child: Child,
}

fn binary() -> PathBuf {
    which("rustic-server")
        .or_else(|| {
            let home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
            Some(home.join("bin/rustic-server")).filter(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("rustic-server not found: {INSTALL_HINT}"))
}

impl RestServer {
    pub fn start() -> RestServer {
        let bin = binary();
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-test-rest-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("data")).unwrap();
        let password = format!("rest-pw-{}", std::process::id());
        // The server's own tool takes the password as an argument: test data only.
        let out = Command::new(&bin)
            .args(["auth", "add", "-f"])
            .arg(d.join("htpasswd"))
            .args(["-u", USER, "-p", &password])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // rustic-server wants an ACL file (in its data dir: `--acl-path` demands
        // `--private-repos`): the user may change the repository `site`.
        std::fs::write(
            d.join("data/acl.toml"),
            format!("[default]\n{USER} = \"Modify\"\n\n[site]\n{USER} = \"Modify\"\n"),
        )
        .unwrap();
        let mut server = RestServer {
            port: 0,
            dir,
            password,
            child: Command::new("true").spawn().unwrap(),
        };
        // A port found free can be taken (as some connection's source port) before
        // the server binds it: then it exits, and it gets another port.
        for _attempt in 0..3 {
            server.port = free_port();
            server.child = server.spawn(&bin);
            let up = super::port_opens(server.port, Duration::from_secs(20));
            let exited = server.child.try_wait().ok().flatten();
            if up && exited.is_none() {
                return server;
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
            eprintln!("rustic-server did not start ({exited:?}): {}", server.log());
        }
        panic!("rustic-server did not start three times: {}", server.log());
    }

    fn spawn(&self, bin: &std::path::Path) -> Child {
        let d = self.dir.path();
        let stderr = std::fs::File::create(d.join("stderr")).unwrap();
        // rustic-server 0.4.4 shuts itself down 3 s after starting when `CI` is set
        // (a test mode of its own, commands/serve.rs): CI sets it.
        Command::new(bin)
            .env_remove("CI")
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--path")
            .arg(d.join("data"))
            .arg("--htpasswd-file")
            .arg(d.join("htpasswd"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// `rest:http://backup@127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("rest:http://{USER}@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for RestServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // A failed test says whether the server was still up, and what it logged.
            eprintln!(
                "rustic-server on port {}: {:?}; its log:\n{}",
                self.port,
                self.child.try_wait(),
                self.log()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
