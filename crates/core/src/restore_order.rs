//! The order an app's sources restore in: `restore_after` read as a DAG, sources that
//! wait on nothing in config order.

use crate::model::SourceSpec;

/// `restore_after` edges that loop: the sources of the loop, in order, the first one
/// repeated at the end (`a → b → a`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("restore_after goes round in a circle: {}", .0.join(" → "))]
pub struct Cycle(pub Vec<String>);

/// `sources` in an order where each comes after every source it names in
/// `restore_after` (names outside `sources` are ignored: they are not restored this
/// time); among the sources ready at a step, the first in config order goes first.
pub fn restore_order<'a>(sources: &[&'a SourceSpec]) -> Result<Vec<&'a SourceSpec>, Cycle> {
    let waits_on = |s: &SourceSpec| -> Vec<usize> {
        let index = |name: &String| sources.iter().position(|o| &o.name == name);
        s.restore_after.iter().filter_map(index).collect()
    };
    let deps: Vec<Vec<usize>> = sources.iter().map(|s| waits_on(s)).collect();
    let mut done = vec![false; sources.len()];
    let mut order = Vec::with_capacity(sources.len());
    while order.len() < sources.len() {
        let ready = (0..sources.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        let Some(next) = ready else {
            return Err(find_cycle(sources, &deps, &done));
        };
        done[next] = true;
        order.push(sources[next]);
    }
    Ok(order)
}

/// A loop among the sources not yet ordered (each of them waits on another of them).
fn find_cycle(sources: &[&SourceSpec], deps: &[Vec<usize>], done: &[bool]) -> Cycle {
    let mut path: Vec<usize> = Vec::new();
    let mut at = (0..sources.len()).find(|&i| !done[i]).unwrap_or_default();
    while !path.contains(&at) {
        path.push(at);
        at = deps[at].iter().copied().find(|&d| !done[d]).unwrap_or(at);
    }
    let start = path.iter().position(|&i| i == at).unwrap_or_default();
    let mut names: Vec<String> = path[start..]
        .iter()
        .map(|&i| sources[i].name.clone())
        .collect();
    names.push(sources[at].name.clone());
    Cycle(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CommandSettings, SourceKind};

    fn source(name: &str, after: &[&str]) -> SourceSpec {
        SourceSpec {
            name: name.to_string(),
            restore_after: after.iter().map(|s| s.to_string()).collect(),
            verify_sql: Vec::new(),
            kind: SourceKind::Command(CommandSettings {
                backup_command: "true".into(),
                restore_command: None,
                filename: "out".into(),
            }),
            retention: None,
            schedule: None,
        }
    }

    fn names(order: &[&SourceSpec]) -> Vec<String> {
        order.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn sources_without_edges_keep_config_order() {
        let all = [source("a", &[]), source("b", &[]), source("c", &[])];
        let refs: Vec<&SourceSpec> = all.iter().collect();
        assert_eq!(names(&restore_order(&refs).unwrap()), ["a", "b", "c"]);
    }

    #[test]
    fn a_source_comes_after_what_it_names_and_others_move_up() {
        // The seed-001 shape: secrets first, then the databases, Redis after MySQL.
        let all = [
            source("backend-redis", &["system-mysql"]),
            source("system-mysql", &["secrets"]),
            source("zync", &["secrets"]),
            source("secrets", &[]),
        ];
        let refs: Vec<&SourceSpec> = all.iter().collect();
        let order = names(&restore_order(&refs).unwrap());
        assert_eq!(order, ["secrets", "system-mysql", "backend-redis", "zync"]);
    }

    #[test]
    fn names_outside_the_selection_are_ignored() {
        let all = [source("a", &["gone"]), source("b", &["a"])];
        let refs: Vec<&SourceSpec> = vec![&all[1]];
        assert_eq!(names(&restore_order(&refs).unwrap()), ["b"]);
        let refs: Vec<&SourceSpec> = all.iter().collect();
        assert_eq!(names(&restore_order(&refs).unwrap()), ["a", "b"]);
    }

    #[test]
    fn a_cycle_is_named_with_its_sources_in_order() {
        let all = [
            source("files", &[]),
            source("a", &["c"]),
            source("b", &["a"]),
            source("c", &["b"]),
        ];
        let refs: Vec<&SourceSpec> = all.iter().collect();
        let cycle = restore_order(&refs).unwrap_err();
        assert_eq!(cycle.0, ["a", "c", "b", "a"]);
        assert_eq!(
            cycle.to_string(),
            "restore_after goes round in a circle: a → c → b → a"
        );
    }
}
