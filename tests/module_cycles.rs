//! The source tree has no module cycles: among the modules of one directory (and among
//! the top-level modules), `use` edges form a DAG, so each layer can be read and
//! tested on its own (ARCHITECTURE.md). Reads `src/` as text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (e.g. `lsp/session`) of every `.rs` file under `src/`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut name = rel.to_string_lossy().replace('\\', "/");
                if let Some(parent) = name.strip_suffix("/mod") {
                    name = parent.to_owned();
                }
                if name == "lib" || name == "main" {
                    name = String::new();
                }
                out.insert(name, path);
            }
        }
    }
    out
}

fn parent(m: &str) -> &str {
    m.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The sibling (same parent) modules `m` names through `super::x` or `crate::…::x`.
fn sibling_edges(m: &str, text: &str, all: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let p = parent(m);
    // code only: tests inside a file (`mod tests`) see their file as `super`
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    for (prefix, base) in [("super::", p.to_owned()), ("crate::", String::new())] {
        for (i, _) in code.match_indices(prefix) {
            let rest = &code[i + prefix.len()..];
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut target = base.clone();
            for seg in path.split("::").filter(|s| !s.is_empty()) {
                let next = if target.is_empty() {
                    seg.to_owned()
                } else {
                    format!("{target}/{seg}")
                };
                if !all.contains_key(&next) {
                    break;
                }
                target = next;
                // the first module under `m`'s parent is the sibling edge
                if parent(&target) == p {
                    break;
                }
            }
            if parent(&target) == p && target != m && !target.is_empty() {
                out.insert(target);
            }
        }
    }
    out
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for next in graph.get(n).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == next).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_module_cycles_in_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let all = modules(&src);
    let graph: BTreeMap<String, BTreeSet<String>> = all
        .iter()
        .map(|(m, path)| {
            let text = std::fs::read_to_string(path).unwrap();
            (m.clone(), sibling_edges(m, &text, &all))
        })
        .collect();
    // the checker sees the edges it should
    assert!(graph["lsp/run_action"].contains("lsp/session"), "{graph:?}");
    assert!(graph["lsp"].is_empty() || !graph["lsp"].contains("lsp"));
    assert!(graph["assist"].is_empty(), "assist/mod.rs only declares");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checker_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a/x", vec!["a/y"]),
        ("a/y", vec!["a/z"]),
        ("a/z", vec!["a/x"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(find_cycle(&g).unwrap(), ["a/x", "a/y", "a/z", "a/x"]);
}
