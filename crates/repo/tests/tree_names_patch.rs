//! rustic_core patch 9 (vendor/rustic_core/PATCHED.md): a tree read from a repository
//! whose node names would lead a restore outside its directory, or whose two entries
//! share a name, is refused before anything is restored from it.

use rustic_core::repofile::{Metadata, Node, NodeType, Tree};
use rustic_core::TreeId;
use std::ffi::OsStr;

fn tree(names: &[&str]) -> Tree {
    let mut tree = Tree::default();
    for name in names {
        tree.nodes.push(Node::new_node(
            OsStr::new(name),
            NodeType::File,
            Metadata::default(),
        ));
    }
    tree
}

#[test]
fn plain_distinct_names_pass() {
    let ok = tree(&["a", "b c", "-dash", "ünï", ".hidden", "..x", "x.."]);
    assert!(ok.check_names(TreeId::default()).is_ok());
}

#[test]
fn names_leaving_the_directory_are_refused() {
    for bad in ["..", ".", "", "/etc/passwd", "a/b", "../../x", "a/", "/"] {
        let err = tree(&["a", bad]).check_names(TreeId::default());
        let text = err
            .map(|()| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(text.contains("unsafe"), "{bad:?}: {text}");
    }
}

#[test]
fn a_duplicate_name_is_refused() {
    let mut twice = tree(&["d"]);
    twice.nodes.push(Node::new_node(
        OsStr::new("d"),
        NodeType::Dir,
        Metadata::default(),
    ));
    let err = twice.check_names(TreeId::default()).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
}
