//! Hostile trees: a files backup holding symlinks that point out of the tree (absolute
//! and `../..`), restored into an empty target and over a live tree in which a
//! directory was swapped for a symlink to elsewhere. Nothing outside the target is
//! written; links come back as links. (Tampered repositories: rustic_core patch 9 and
//! `crates/repo/tests/tree_names_patch.rs`; fuzzed parsers: `config/fuzz_tests.rs`.)

use crate::support::fingerprint::{diff, fingerprint};
use crate::support::Workspace;
use crate::Log;
use std::os::unix::fs::symlink;

pub fn symlinks_out_of_the_tree(log: &mut Log) {
    let ws = Workspace::new();
    let outside = ws.path("outside");
    std::fs::create_dir_all(outside.join("victim")).unwrap();
    std::fs::write(outside.join("victim/keep.txt"), "must not change\n").unwrap();
    let before = fingerprint(&outside);
    let root = ws.path("volume");
    std::fs::create_dir_all(root.join("dir")).unwrap();
    std::fs::write(root.join("dir/file.txt"), "inside\n").unwrap();
    std::fs::write(root.join("dir/keep.txt"), "the backup's keep.txt\n").unwrap();
    symlink(outside.join("victim"), root.join("abs-link")).unwrap();
    symlink("../../outside/victim", root.join("dir/up-link")).unwrap();
    std::fs::write(root.join("-rf"), "a name like an option\n").unwrap();
    std::fs::write(root.join("..data"), "dots\n").unwrap();
    ws.config(&format!(
        "[[app]]\nname = \"vol\"\n\n[[app.source]]\nname = \"data\"\nkind = \"files\"\npath = \"{}\"\n",
        root.display()
    ));
    ws.run(&["init"]).assert_ok();
    ws.run(&["backup"]).assert_ok();
    let backed_up = fingerprint(&root);

    // Into an empty target elsewhere.
    let target = ws.path("elsewhere");
    ws.run(&["restore", "vol/data", "--to", target.to_str().unwrap()])
        .assert_ok();
    let problems = diff(&backed_up, &fingerprint(&target));
    assert!(problems.is_empty(), "restored differently: {problems:?}");
    assert!(std::fs::symlink_metadata(target.join("abs-link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fingerprint(&outside), before, "nothing outside changed");
    log.fact("into an empty target: the absolute and ../.. links restored as links, nothing outside written");

    // Over the live tree, where `dir` became a symlink to the outside victim dir: a
    // restore writing dir/keep.txt through it would overwrite the victim's file.
    std::fs::remove_dir_all(root.join("dir")).unwrap();
    symlink(outside.join("victim"), root.join("dir")).unwrap();
    ws.run(&["restore", "vol/data", "--force"]).assert_ok();
    assert_eq!(fingerprint(&outside), before, "nothing outside changed");
    assert!(
        std::fs::symlink_metadata(root.join("dir"))
            .unwrap()
            .is_dir(),
        "dir is a directory again"
    );
    let problems = diff(&backed_up, &fingerprint(&root));
    assert!(problems.is_empty(), "restored differently: {problems:?}");
    log.fact("over a live tree whose dir/ was swapped for a symlink to outside: the symlink replaced, nothing written through it");
}
