//! A `files` source's `exclude` patterns with git's gitignore semantics (negation,
//! anchoring, `**`, dir-only `/`), used by the backup walk and by restore `--delete`.

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;
use std::path::Path;

/// Matches paths relative to a tree's root against its exclude patterns.
#[derive(Debug, Clone)]
pub struct ExcludeMatcher {
    gitignore: Gitignore,
}

impl ExcludeMatcher {
    /// The patterns, read as the lines of a `.gitignore` at the tree's root. An
    /// invalid pattern is an error naming it.
    pub fn new(patterns: &[String]) -> Result<ExcludeMatcher, String> {
        // The root is only used to strip a prefix: callers pass relative paths.
        let mut builder = GitignoreBuilder::new("");
        for pattern in patterns {
            builder
                .add_line(None, pattern)
                .map_err(|e| format!("exclude pattern `{pattern}`: {e}"))?;
        }
        let gitignore = builder
            .build()
            .map_err(|e| format!("exclude patterns: {e}"))?;
        Ok(ExcludeMatcher { gitignore })
    }

    /// Whether `rel` itself is excluded, given that no parent of it is (the walks
    /// that use this never descend into an excluded directory, which is why, as in
    /// git, nothing under an excluded directory can be re-included).
    pub fn excludes(&self, rel: &Path, is_dir: bool) -> bool {
        matches!(self.gitignore.matched(rel, is_dir), Match::Ignore(_))
    }

    /// Whether `rel` or any of its parents is excluded.
    pub fn excludes_path(&self, rel: &Path, is_dir: bool) -> bool {
        let mut parents: Vec<&Path> = rel.ancestors().skip(1).collect();
        parents.retain(|p| !p.as_os_str().is_empty());
        parents.iter().rev().any(|p| self.excludes(p, true)) || self.excludes(rel, is_dir)
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.gitignore.is_empty()
    }
}

/// Checks `patterns` the way a backup will read them (for config validation).
pub fn check_exclude_patterns(patterns: &[String]) -> Result<(), String> {
    ExcludeMatcher::new(patterns).map(drop)
}

#[cfg(test)]
mod tests {
    use super::ExcludeMatcher;
    use std::path::Path;

    fn m(patterns: &[&str]) -> ExcludeMatcher {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        ExcludeMatcher::new(&p).expect("valid patterns")
    }

    #[test]
    fn negation_anchoring_and_dir_only() {
        let x = m(&["*.tmp", "!important.tmp", "/log/", "cache/tmp", "build/"]);
        assert!(x.excludes(Path::new("a/b.tmp"), false));
        assert!(!x.excludes(Path::new("a/important.tmp"), false));
        assert!(x.excludes(Path::new("log"), true));
        assert!(!x.excludes(Path::new("log"), false), "dir-only");
        assert!(!x.excludes(Path::new("uploads/log"), true), "anchored");
        assert!(x.excludes(Path::new("cache/tmp"), false));
        assert!(
            !x.excludes(Path::new("x/cache/tmp"), false),
            "inner slash anchors"
        );
        assert!(x.excludes(Path::new("deep/build"), true));
        assert!(x.excludes_path(Path::new("deep/build/important.tmp"), false));
    }
}
