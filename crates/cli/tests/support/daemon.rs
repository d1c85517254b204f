//! A `lifeboat daemon` child for the tests: started with a JSON log in a file and a
//! free port, its log lines read while it runs, signals sent, its exit awaited; and a
//! minimal HTTP/1.1 GET against it.

use super::{wait_for, Workspace};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

/// A daemon started with `--log-format json`, its log going to a file.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    pub addr: String,
}

impl Daemon {
    /// Listens on a free loopback port (`addr`).
    pub fn start(ws: &Workspace) -> Daemon {
        let log = ws.path("daemon.log");
        let addr = format!("127.0.0.1:{}", super::free_port());
        let child = ws
            .command(&["daemon", "--log-format", "json", "--listen", &addr])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log, addr }
    }

    /// Every complete log line, parsed (each must be one JSON object). A line the
    /// daemon is writing right now (no newline yet) is left for the next read.
    pub fn lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    pub fn messages(&self, message: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["message"].as_str() == Some(message))
            .collect()
    }

    pub fn wait_for_messages(&self, message: &str, n: usize, timeout: Duration) {
        let ok = wait_for(timeout, || self.messages(message).len() >= n);
        assert!(
            ok,
            "no {n}× `{message}` within {timeout:?}; log:\n{}",
            self.text()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; its code.
    pub fn wait(mut self, timeout: Duration) -> (Option<i32>, String) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), self.text());
            }
            if std::time::Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!(
                    "daemon did not exit within {timeout:?}; log:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `GET path` with an optional bearer token: the status code and the body.
pub fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}
