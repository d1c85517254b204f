//! A throwaway FTP server: Debian's `vsftpd` on a free loopback port with its config in
//! a temp dir and one virtual user whose password hash is in that dir (pam_pwdfile,
//! Debian's libpam-pwdfile, through a PAM service file
//! `/etc/pam.d/lifeboat-test-ftp-PORT` that lives as long as the server: vsftpd only
//! authenticates through PAM). The virtual user works as the `ftp` account in `files/`.
//! pam_exec (no extra package) hung vsftpd's login, and so did vsftpd's own log file
//! (its pre-login process waits for a lock on it), hence neither.

use super::free_port;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const USER: &str = "backup";

pub struct Ftpd {
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub password: String,
    pam_service: PathBuf,
    child: Child,
}

impl Ftpd {
    pub fn start() -> Ftpd {
        use std::os::unix::fs::PermissionsExt;
        let vsftpd = PathBuf::from("/usr/sbin/vsftpd");
        assert!(
            vsftpd.is_file(),
            "vsftpd not found: apt-get install -y vsftpd"
        );
        assert!(
            super::is_root(),
            "the FTP tests run vsftpd as root (it writes a PAM service file)"
        );
        let dir = tempfile::Builder::new()
            .prefix("lifeboat-test-ftpd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(d.join("empty")).unwrap();
        std::fs::create_dir(d.join("files")).unwrap();
        let chown = Command::new("chown")
            .args(["ftp:ftp"])
            .arg(d.join("files"))
            .status()
            .unwrap();
        assert!(
            chown.success(),
            "chown ftp: is the vsftpd package installed?"
        );
        let password = format!("pw-{}", std::process::id());
        let pwdfile_module = "/lib/x86_64-linux-gnu/security/pam_pwdfile.so";
        assert!(
            std::path::Path::new(pwdfile_module).is_file(),
            "pam_pwdfile not found: apt-get install -y libpam-pwdfile"
        );
        let hash = Command::new("openssl")
            .args(["passwd", "-6", "-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(password.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap_or_else(|e| panic!("openssl: {e}: apt-get install -y openssl"));
        let hash = String::from_utf8(hash.stdout).unwrap();
        std::fs::write(d.join("passwd"), format!("{USER}:{}\n", hash.trim())).unwrap();
        let port = free_port();
        let service = format!("lifeboat-test-ftp-{port}");
        let pam_service = PathBuf::from("/etc/pam.d").join(&service);
        std::fs::write(
            &pam_service,
            format!(
                "auth required pam_pwdfile.so pwdfile={}/passwd\naccount required pam_permit.so\nsession required pam_permit.so\n",
                d.display()
            ),
        )
        .unwrap();
        let config = format!(
            "listen=YES\nlisten_ipv6=NO\nbackground=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
             anonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\nlocal_umask=022\n\
             guest_enable=YES\nguest_username=ftp\nvirtual_use_local_privs=YES\n\
             local_root={d}/files\nchroot_local_user=YES\nallow_writeable_chroot=YES\n\
             secure_chroot_dir={d}/empty\npam_service_name={service}\n\
             pasv_enable=YES\npasv_address=127.0.0.1\nport_enable=NO\n\
             seccomp_sandbox=NO\nisolate=NO\nisolate_network=NO\n\
             xferlog_enable=NO\n\
             max_clients=200\nmax_per_ip=200\nuse_localtime=NO\n",
            d = d.display()
        );
        std::fs::write(d.join("vsftpd.conf"), config).unwrap();
        let stderr = std::fs::File::create(d.join("stderr")).unwrap();
        let child = Command::new(&vsftpd)
            .arg(d.join("vsftpd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let server = Ftpd {
            port,
            dir,
            password,
            pam_service,
            child,
        };
        let up = super::port_opens(port, Duration::from_secs(20));
        assert!(up, "vsftpd did not start: {}", server.log());
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// `ftp://backup@127.0.0.1:PORT/name` (the path is inside the chroot).
    pub fn url(&self, name: &str) -> String {
        format!("ftp://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The served dir.
    pub fn files(&self) -> PathBuf {
        self.dir.path().join("files")
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.pam_service);
    }
}
