//! The core's modules form a layered graph: no module depends, directly or
//! through others, on a module that depends on it. A cycle makes two
//! modules one in all but name (neither can be read, tested or moved
//! alone), so this test names any cycle a change introduces.
//!
//! A module's dependencies are the `crate::<module>` paths in its code
//! outside comments and its `#[cfg(test)]` part (tests may use anything).
//! The decision path's modules (`core/engine/`, the `eligo-engine` crate)
//! are re-exported at `eligo_core`'s root under the same names, so the two
//! crates' modules form one graph here; the compiler already keeps the
//! engine's modules from naming the core's.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Module name → the modules its code names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut graph = BTreeMap::new();
    let sources = [core.join("src"), core.join("engine/src")];
    let entries = sources
        .iter()
        .flat_map(|src| fs::read_dir(src).expect("a source folder lists"));
    for entry in entries {
        let path = entry.expect("a source folder entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        let text = fs::read_to_string(&path).expect("module reads");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut uses = BTreeSet::new();
        for line in code.lines() {
            let line = line.split("//").next().unwrap_or_default();
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // `crate::Bundle` (a re-export at the root) names no module
                // here: the root re-exports from the modules below it.
                let followed_by_path = rest[module.len()..].starts_with("::");
                if !module.is_empty() && module != name && followed_by_path {
                    uses.insert(module);
                }
            }
        }
        graph.insert(name, uses);
    }
    graph
}

/// Every module from which `start` can be reached again, if any: a cycle.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

#[test]
fn core_modules_have_no_cycles() {
    let graph = module_graph();
    assert!(graph.len() > 10, "read only {} modules", graph.len());
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_through(&graph, module))
        .map(|cycle| cycle.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle_through(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(cycle_through(&graph, "d"), None);
}
