//! No circles: no module of `stress-core` or `cargo-stress` uses, directly or through others,
//! a module that uses it back. Read from the sources: every `crate::…` and `super::…` path
//! outside comments and `#[cfg(test)] mod tests`, resolved to the module (file) it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`run::engine`) → its file, for every `.rs` file under `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    parts.pop();
                }
                out.insert(parts.join("::"), p);
            }
        }
    }
    out
}

/// The code of a file that counts: comments and the unit-test module left out.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifier path following each occurrence of `prefix` (`crate::`, `super::`), braces
/// of a `use` group expanded one level: `crate::a::{b, c::d}` gives `a::b` and `a::c::d`.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let head: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let head = head.trim_end_matches(':').to_owned();
        let after = &rest[head.len()..];
        if let Some(group) = after.strip_prefix("::{") {
            let inner = group.split('}').next().unwrap_or_default();
            for item in inner.split(',') {
                let item = item.trim().split(" as ").next().unwrap_or_default().trim();
                if !item.is_empty() && item != "self" {
                    out.push(format!("{head}::{item}"));
                }
            }
        }
        out.push(head);
    }
    out
}

/// Each module's modules used, as edges between distinct modules.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let resolve = |path: &str| -> Option<String> {
        let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        while !parts.is_empty() {
            let candidate = parts.join("::");
            if mods.contains_key(&candidate) {
                return Some(candidate);
            }
            parts.pop();
        }
        None
    };
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, file) in &mods {
        let code = code(file);
        let parent = m.rsplit_once("::").map_or("", |(p, _)| p);
        let mut used: Vec<String> = paths_after(&code, "crate::");
        used.extend(
            paths_after(&code, "super::").into_iter().map(
                |p| {
                    if parent.is_empty() { p } else { format!("{parent}::{p}") }
                },
            ),
        );
        for target in used.iter().filter_map(|p| resolve(p)) {
            // A module may use its own children and ancestors' items; count edges between
            // modules neither of which contains the other.
            let nested = target.starts_with(&format!("{m}::")) || m.starts_with(&format!("{target}::"));
            if target != *m && !nested && !m.is_empty() && !target.is_empty() {
                g.entry(m.clone()).or_default().insert(target);
            }
        }
    }
    g
}

/// A circle through `from`, if there is one: the modules on it.
fn circle(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((m, path)) = stack.pop() {
        for next in g.get(&m).into_iter().flatten() {
            if next == from {
                return Some(path.clone());
            }
            if seen.insert(next.clone()) {
                let mut p = path.clone();
                p.push(next.clone());
                stack.push((next.clone(), p));
            }
        }
    }
    None
}

fn circles(crate_dir: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(crate_dir)
        .join("src");
    let g = graph(&src);
    assert!(g.len() > 5, "{crate_dir}: the graph was not read: {g:?}");
    g.keys()
        .filter_map(|m| circle(&g, m))
        .map(|c| format!("{crate_dir}: {} -> {}", c.join(" -> "), c[0]))
        .collect()
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let mut found = circles("stress-core");
    found.extend(circles("cargo-stress"));
    assert!(found.is_empty(), "circles:\n{}", found.join("\n"));
}

#[test]
fn the_reader_sees_a_circle_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("run")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod run;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "// crate::run is only named here\nuse crate::run::{engine::Job, Other};\n",
    )
    .unwrap();
    std::fs::write(src.join("run/mod.rs"), "mod engine;\n").unwrap();
    std::fs::write(src.join("run/engine.rs"), "use super::monitor;\npub struct Job;\n").unwrap();
    std::fs::write(
        src.join("run/monitor.rs"),
        "use super::engine::Job;\nfn f() { crate::a::g() }\n",
    )
    .unwrap();
    std::fs::write(src.join("b.rs"), "#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n").unwrap();
    let g = graph(src);
    assert_eq!(
        g.get("a").cloned().unwrap_or_default(),
        BTreeSet::from(["run".to_owned(), "run::engine".to_owned()])
    );
    assert!(!g.contains_key("b"), "test modules do not count: {g:?}");
    let c = circle(&g, "run::engine").unwrap();
    assert_eq!(c, vec!["run::engine".to_owned(), "run::monitor".to_owned()]);
    assert!(circle(&g, "a").is_some(), "a -> run::engine -> run::monitor -> a");
}
