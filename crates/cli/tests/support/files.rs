//! What the files-kind test files share: writing a file with a mode, the sample tree
//! (seed 000's data volume) and a listing of a tree to compare restores with.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub fn write(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The tree of seed 000's data volume, with what its rsync excluded.
pub fn tree(root: &Path) {
    write(&root.join("config/app.yml"), "port: 1487\n", 0o640);
    write(&root.join("bin/run.sh"), "#!/bin/sh\necho hi\n", 0o755);
    write(&root.join("uploads/a/b/c.bin"), &"x".repeat(300_000), 0o600);
    write(&root.join("log/app.log"), "excluded\n", 0o644);
    write(&root.join("run/app.pid"), "123\n", 0o644);
    write(&root.join("database/PG_VERSION"), "15\n", 0o600);
    write(&root.join("project/x"), "excluded too\n", 0o644);
    write(
        &root.join("uploads/log/kept.txt"),
        "only top-level log/ is excluded\n",
        0o644,
    );
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::os::unix::fs::symlink("config/app.yml", root.join("current-config")).unwrap();
    std::process::Command::new("touch")
        .args(["-h", "-d", "2021-03-04 05:06:07"])
        .arg(root.join("config/app.yml"))
        .status()
        .unwrap();
}

/// Relative path → (kind, mode, mtime, content or link target) of every entry.
pub fn snapshot_of(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let what = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode() & 0o7777)
            } else {
                let content = std::fs::read(&path).unwrap();
                format!(
                    "file {:o} {} {}",
                    meta.mode() & 0o7777,
                    meta.mtime(),
                    content.len()
                )
            };
            out.push((rel, what));
        }
    }
    out.sort();
    out
}
