//! The files conformance suites' comparison: a tree's fingerprint (type, mode, owner,
//! mtime to the nanosecond, content, link target, device, hard-link groups, `user.*`
//! xattrs, sparseness) and its diff, the changes made to a tree before a restore over
//! it, and the small file helpers both suites use.

use super::Workspace;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a tree holds at one relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    kind: String,
    mode: u32,
    uid: u32,
    gid: u32,
    /// (seconds, nanoseconds); None for symlinks' when not compared.
    mtime: (i64, i64),
    /// File content hash, link target or device number.
    body: String,
    /// Other paths of the same inode (hard links), sorted.
    links: Vec<Vec<u8>>,
    /// For files of 16 MiB or more: "sparse" when less than half is allocated.
    alloc: &'static str,
    xattrs: Vec<(String, Vec<u8>)>,
}

pub type Tree = BTreeMap<Vec<u8>, Entry>;

pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_symlink() {
        "symlink"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "chardev"
    } else {
        "blockdev"
    }
}

pub fn hash(bytes: &[u8]) -> String {
    // FNV-1a is enough to tell contents apart in a test.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{}:{h:016x}", bytes.len())
}

pub fn user_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = xattr::list(path)
        .unwrap()
        .filter(|n| n.as_bytes().starts_with(b"user."))
        .map(|n| {
            let v = xattr::get(path, &n).unwrap().unwrap_or_default();
            (n.to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort();
    out
}

/// Every entry under `root` (and `root` itself as the empty path).
pub fn fingerprint(root: &Path) -> Tree {
    let mut raw: Vec<(Vec<u8>, PathBuf, std::fs::Metadata)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let meta = std::fs::symlink_metadata(&dir).unwrap();
        raw.push((rel(root, &dir), dir.clone(), meta));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                raw.push((rel(root, &path), path, meta));
            }
        }
    }
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    for (r, _, m) in &raw {
        if m.is_file() && m.nlink() > 1 {
            inodes.entry(m.ino()).or_default().push(r.clone());
        }
    }
    raw.into_iter()
        .map(|(r, path, m)| {
            let kind = kind_of(&m);
            let body = match kind {
                "file" => hash(&std::fs::read(&path).unwrap()),
                "symlink" => hex(std::fs::read_link(&path).unwrap().as_os_str().as_bytes()),
                "chardev" | "blockdev" => format!("{:x}", m.rdev()),
                _ => String::new(),
            };
            let mut links = inodes.get(&m.ino()).cloned().unwrap_or_default();
            links.sort();
            let alloc = match (kind, m.len() >= 16 << 20) {
                ("file", true) if m.blocks() * 512 * 2 < m.len() => "sparse",
                ("file", true) => "dense",
                _ => "-",
            };
            let xattrs = if kind == "symlink" {
                Vec::new()
            } else {
                user_xattrs(&path)
            };
            let entry = Entry {
                kind: kind.to_string(),
                mode: if kind == "symlink" {
                    0
                } else {
                    m.mode() & 0o7777
                },
                uid: m.uid(),
                gid: m.gid(),
                mtime: (m.mtime(), m.mtime_nsec()),
                body,
                links,
                alloc,
                xattrs,
            };
            (r, entry)
        })
        .collect()
}

pub fn rel(root: &Path, path: &Path) -> Vec<u8> {
    path.strip_prefix(root)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Differences between two trees, one line each (empty when equal).
pub fn diff(want: &Tree, got: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, w) in want {
        let name = String::from_utf8_lossy(path).escape_debug().to_string();
        match got.get(path) {
            None => out.push(format!("missing {name}")),
            Some(g) if g != w => out.push(format!("{name}: want {w:?}\n   got {g:?}")),
            Some(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        out.push(format!(
            "extra {}",
            String::from_utf8_lossy(path).escape_debug()
        ));
    }
    out
}

pub fn sh(cmd: &str, args: &[&OsStr]) {
    let st = Command::new(cmd).args(args).status().unwrap();
    assert!(st.success(), "{cmd} {args:?}");
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The modified state a restore over the existing tree meets: contents changed,
/// types changed (file ↔ dir, symlink ↔ file, FIFO → dir), modes and owners changed,
/// hard links regrouped, and a stray file in every directory.
pub fn mutate(root: &Path) {
    let mut paths = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort();
    for (i, path) in paths.iter().enumerate() {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue; // under a directory replaced earlier
        };
        let kind = kind_of(&meta);
        match (i % 3, kind) {
            (0, "dir") => {
                std::fs::remove_dir_all(path).unwrap();
                std::fs::write(path, b"was a dir").unwrap();
            }
            (0, "file") => {
                std::fs::remove_file(path).unwrap();
                write(&path.join("was-a-file"), b"inside");
            }
            (0, "symlink") | (1, "fifo") | (1, "socket") => {
                std::fs::remove_file(path).unwrap();
                std::fs::write(path, b"was special").unwrap();
            }
            (1, "file") => {
                std::fs::remove_file(path).unwrap();
                std::os::unix::fs::symlink("/etc/hostname", path).unwrap();
            }
            (_, "file") => {
                std::fs::write(path, b"changed content, other length").unwrap();
                chmod(path, 0o666);
            }
            (_, "dir") => chmod(path, 0o777),
            (_, "fifo") => {
                std::fs::remove_file(path).unwrap();
                std::fs::create_dir(path).unwrap();
                write(&path.join("inside"), b"x");
            }
            _ => {}
        }
    }
    // A stray hard link to a file the backup has (it must not be written through).
    if let Some(file) = paths
        .iter()
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
    {
        let _ = std::fs::hard_link(file, root.join("stray-hardlink"));
    }
    for dir in paths
        .iter()
        .chain(std::iter::once(&root.to_path_buf()))
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
    {
        std::fs::write(dir.join("stray"), b"not in the backup").unwrap();
    }
    chmod(root, 0o755);
}

pub fn config(ws: &Workspace, exclude: &str) -> String {
    format!(
        "[[app]]\nname = \"c\"\n\n[[app.source]]\nname = \"d\"\nkind = \"files\"\npath = \"{}\"\nexclude = [{exclude}]\n",
        ws.path("data").display()
    )
}

pub fn assert_same(what: &str, case: &str, want: &Tree, got: &Tree) {
    let d = diff(want, got);
    assert!(d.is_empty(), "{case}: {what}:\n{}", d.join("\n"));
}
