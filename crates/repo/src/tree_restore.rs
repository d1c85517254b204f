//! What must leave a directory before a `files` tree is restored over it: entries of
//! another type than the backup's (a directory where the backup has a file, …), entries
//! rustic cannot overwrite in place (symlinks, FIFOs, hard-linked files), and with
//! `--delete` what the backup lacks, like rsync: never what the source's excludes
//! match, unless `--delete-excluded`.

use crate::exclude::ExcludeMatcher;
use crate::RepoError;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use lifeboat_core::ports::TreeRestoreOptions;

/// The type of an entry in the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Symlink,
    /// FIFO, socket or device.
    Special,
}

/// Why an entry of the target is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The backup lacks it (`--delete`).
    NotInBackup,
    /// The backup lacks it and the excludes match it (`--delete-excluded`).
    Excluded,
    /// The backup has another type of entry at its path.
    InTheWay,
    /// Recreated from the backup, not lost: a symlink, FIFO or device, or a file with
    /// several hard links whose other names must keep their content.
    Recreated,
}

/// One entry to remove from the target, relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub path: PathBuf,
    pub is_dir: bool,
    pub why: Why,
}

impl Removal {
    /// A plan line, or `None` for an entry the restore recreates as it was backed up.
    pub fn describe(&self, target: &Path) -> Option<String> {
        let path = format!("{:?}", target.join(&self.path));
        let what = if self.is_dir {
            format!("directory {path} and everything under it")
        } else {
            path
        };
        match self.why {
            Why::NotInBackup => Some(format!("delete {what} (not in the backup)")),
            Why::Excluded => Some(format!(
                "delete {what} (excluded from backups; --delete-excluded)"
            )),
            Why::InTheWay => Some(format!(
                "delete {what} (the backup has another type of entry there)"
            )),
            Why::Recreated => None,
        }
    }
}

pub(crate) type Listing = HashMap<PathBuf, Kind>;

/// The removals a restore of `listing` into `target` needs, in walk order.
pub(crate) fn plan(
    target: &Path,
    listing: &Listing,
    opts: &TreeRestoreOptions,
) -> Result<Vec<Removal>, RepoError> {
    match std::fs::metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(target, e)),
        Ok(m) if !m.is_dir() => {
            return Err(RepoError::Incomplete(format!(
                "{} is not a directory",
                target.display()
            )))
        }
        Ok(_) => {}
    }
    let matcher = ExcludeMatcher::new(&opts.exclude).map_err(RepoError::Incomplete)?;
    let mut scan = Scan {
        target,
        listing,
        matcher: &matcher,
        opts,
        out: Vec::new(),
    };
    scan.backed_dir(Path::new(""))?;
    Ok(scan.out)
}

/// Removes `removals` from `target`.
pub(crate) fn apply(target: &Path, removals: &[Removal]) -> Result<(), RepoError> {
    for r in removals {
        let path = target.join(&r.path);
        let removed = if r.is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path, e)),
            _ => {}
        }
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> RepoError {
    RepoError::Io {
        context: format!("restore target {}", path.display()),
        source,
    }
}

struct Scan<'a> {
    target: &'a Path,
    listing: &'a Listing,
    matcher: &'a ExcludeMatcher,
    opts: &'a TreeRestoreOptions,
    out: Vec<Removal>,
}

impl Scan<'_> {
    /// The entries of `rel`, sorted, with their metadata (symlinks not followed).
    fn entries(&self, rel: &Path) -> Result<Vec<(PathBuf, Metadata)>, RepoError> {
        let dir = self.target.join(rel);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let meta = entry.metadata().map_err(|e| io(&entry.path(), e))?;
            out.push((rel.join(entry.file_name()), meta));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// A directory the backup has too.
    fn backed_dir(&mut self, rel: &Path) -> Result<(), RepoError> {
        for (child, meta) in self.entries(rel)? {
            let t = meta.file_type();
            let why = match self.listing.get(&child) {
                None => {
                    self.extra(&child, &meta)?;
                    continue;
                }
                Some(Kind::Dir) if t.is_dir() => {
                    self.backed_dir(&child)?;
                    continue;
                }
                Some(Kind::File) if t.is_file() && meta.nlink() == 1 => continue,
                Some(Kind::File) if t.is_file() => Why::Recreated,
                Some(Kind::Symlink) if t.is_symlink() => Why::Recreated,
                Some(Kind::Special) if !t.is_dir() && !t.is_file() && !t.is_symlink() => {
                    Why::Recreated
                }
                Some(_) => Why::InTheWay,
            };
            self.out.push(Removal {
                path: child,
                is_dir: t.is_dir(),
                why,
            });
        }
        Ok(())
    }

    /// An entry the backup lacks. Returns whether it goes entirely.
    fn extra(&mut self, rel: &Path, meta: &Metadata) -> Result<bool, RepoError> {
        let is_dir = meta.is_dir();
        let excluded = self.matcher.excludes_path(rel, is_dir);
        if !self.opts.delete || (excluded && !self.opts.delete_excluded) {
            return Ok(false);
        }
        let why = if excluded {
            Why::Excluded
        } else {
            Why::NotInBackup
        };
        let mark = self.out.len();
        let mut all = true;
        if is_dir {
            for (child, child_meta) in self.entries(rel)? {
                all &= self.extra(&child, &child_meta)?;
            }
        }
        if all {
            // One line for a directory that goes with everything under it.
            self.out.truncate(mark);
            self.out.push(Removal {
                path: rel.to_path_buf(),
                is_dir,
                why,
            });
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "x").expect("write");
    }

    #[test]
    fn delete_keeps_excluded_and_dirs_holding_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = dir.path();
        touch(t, "kept.txt");
        touch(t, "stray.txt");
        touch(t, "database/PG_VERSION");
        touch(t, "extra/a.tmp");
        touch(t, "extra/b.txt");
        touch(t, "gone/c.txt");
        let listing: Listing = [(PathBuf::from("kept.txt"), Kind::File)].into();
        let opts = TreeRestoreOptions {
            delete: true,
            delete_excluded: false,
            exclude: vec!["database/".into(), "*.tmp".into()],
        };
        let got: Vec<_> = plan(t, &listing, &opts)
            .expect("plan")
            .into_iter()
            .map(|r| (r.path.display().to_string(), r.is_dir, r.why))
            .collect();
        assert_eq!(
            got,
            vec![
                ("extra/b.txt".into(), false, Why::NotInBackup),
                ("gone".into(), true, Why::NotInBackup),
                ("stray.txt".into(), false, Why::NotInBackup),
            ]
        );
        let opts = TreeRestoreOptions {
            delete_excluded: true,
            ..opts
        };
        let got: Vec<_> = plan(t, &listing, &opts)
            .expect("plan")
            .into_iter()
            .map(|r| r.path.display().to_string())
            .collect();
        assert_eq!(got, vec!["database", "extra", "gone", "stray.txt"]);
    }
}
