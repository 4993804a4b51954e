//! The import graph and the length of functions, read from the sources of every crate of the
//! tree (`crate::…` and `super::…` paths outside comments and `#[cfg(test)] mod tests`,
//! resolved to the module, a file, they name):
//!
//! - no circles: no module uses, directly or through others, a module that uses it back — file
//!   by file, and folder by folder (a crate's top-level modules, each folder taken whole);
//! - arrows point down: each crate's top-level modules are declared in layers ([`CRATES`]), and a
//!   module uses only modules of its own layer or below, but for the few named in [`UP_ARROWS`];
//! - no function is longer than [`MAX_FN_LINES`] lines in `stress-core/src`, `cargo-stress/src`
//!   or `adapters/*/src`, but for [`TEMPORARY_LONG_FNS`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every crate read, with its top-level modules in layers, bottom first. A module may use the
/// modules of its own layer and of the layers below; a new module goes into a layer here.
const CRATES: &[(&str, &[&[&str]])] = &[
    (
        "stress-core",
        &[
            // Leaves: values, measures and records that need nothing above them.
            &[
                "bounds",
                "durability",
                "error",
                "history",
                "host",
                "lifeline",
                "monitor",
                "outcome",
                "seed",
                "stats",
                "utc",
                "verdict",
                "wire",
                "keys",
                "ledger",
                "params",
                "sql",
                "sizedfs",
                "thresholds",
                "fault",
                "event",
                // The fault filesystem and the network proxy, which carry out fault kinds.
                "faultfs",
                "netproxy",
            ],
            // The settings, in layers, and what a resolved run may ask for: the controls a run
            // takes from outside while it goes, and the profiler, which reads a run's settings.
            &["config", "validate", "control", "profile"],
            // What runs write and read back: the reports, the protocol, comparisons, shrinking, sweeps.
            &["report", "protocol", "compare", "shrink", "sweep"],
            // The live dashboard: an observer of the reports' events that applies controls.
            &["dashboard"],
            // The checkers, which judge a run's summary.
            &["checkers"],
            // What a workload is: the engine trait, a user's view, the isolation kits, the workload.
            &["adapter", "user", "isolation", "workload"],
            // A run and a sharded run.
            &["run", "shard"],
            // The harness: the registered workloads, run as libtest trials.
            &["registry", "harness"],
        ],
    ),
    (
        "cargo-stress",
        &[
            &["error"],
            &["cli"],
            &["discover", "status"],
            &["harness"],
            &["junit"],
            &["summary_md"],
            &["shared"],
            &["commands"],
        ],
    ),
    ("stress-macros", &[&["options"], &["expand"]]),
    ("stress-syntax", &[]),
    (
        "stress-isolation",
        &[
            &["model", "history", "fx"],
            &["graph"],
            &["explain"],
            &["check"],
            &["list_append", "rw_register"],
        ],
    ),
    (
        "adapters/stress-sqlite",
        &[
            &["host_wire", "files", "corrupt"],
            &["host_client"],
            &["conn"],
            &["host_server"],
        ],
    ),
    (
        "adapters/stress-postgres",
        &[
            &["wire", "corrupt", "tls"],
            &["server", "settings"],
            &["conn", "metrics"],
        ],
    ),
    (
        "adapters/stress-hyper",
        &[&["discover"], &["server"], &["conn", "metrics"]],
    ),
];

/// Arrows allowed to point up a crate's layers, `(crate, from, to)` between top-level modules;
/// at most two, each named in the README's Layout section.
const UP_ARROWS: &[(&str, &str, &str)] = &[];

/// The most lines a function may take, from its `fn` to its closing brace.
const MAX_FN_LINES: usize = 150;

/// Functions allowed to stay longer than [`MAX_FN_LINES`] while they are split (`(file, fn)`).
/// Empty: the run's and the merge's (run_users, execute, run_user, combine) are split on main.
const TEMPORARY_LONG_FNS: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

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

/// Each top-level module's top-level modules used: the graph of folders, each taken whole.
fn folders(g: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, BTreeSet<String>> {
    let top = |m: &str| m.split("::").next().unwrap_or_default().to_owned();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, used) in g {
        for t in used {
            if top(m) != top(t) {
                out.entry(top(m)).or_default().insert(top(t));
            }
        }
    }
    out
}

fn circles_in(name: &str, g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    g.keys()
        .filter_map(|m| circle(g, m))
        .map(|c| format!("{name}: {} -> {}", c.join(" -> "), c[0]))
        .collect()
}

fn crate_graph(name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(name).join("src");
    let g = graph(&src);
    if matches!(name, "stress-core" | "cargo-stress") {
        assert!(g.len() > 5, "{name}: the graph was not read: {g:?}");
    }
    g
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let found: Vec<String> = CRATES
        .iter()
        .flat_map(|(name, _)| circles_in(name, &crate_graph(name)))
        .collect();
    assert!(found.is_empty(), "circles:\n{}", found.join("\n"));
}

#[test]
fn no_folder_uses_a_folder_that_uses_it_back() {
    let found: Vec<String> = CRATES
        .iter()
        .flat_map(|(name, _)| circles_in(name, &folders(&crate_graph(name))))
        .collect();
    assert!(found.is_empty(), "circles between folders:\n{}", found.join("\n"));
}

/// The arrows that point up `layers`, and the top-level modules no layer lists.
fn up_arrows(g: &BTreeMap<String, BTreeSet<String>>, layers: &[&[&str]]) -> (Vec<(String, String)>, Vec<String>) {
    let layer = |m: &str| layers.iter().position(|l| l.contains(&m));
    let mut up = Vec::new();
    let mut unlisted = BTreeSet::new();
    for (m, used) in folders(g) {
        for t in used {
            match (layer(&m), layer(&t)) {
                (Some(a), Some(b)) if b > a => up.push((m.clone(), t.clone())),
                (Some(_), Some(_)) => {}
                (a, b) => {
                    if a.is_none() {
                        unlisted.insert(m.clone());
                    }
                    if b.is_none() {
                        unlisted.insert(t.clone());
                    }
                }
            }
        }
    }
    (up, unlisted.into_iter().collect())
}

#[test]
fn arrows_point_down_the_layers_but_for_the_named_few() {
    assert!(UP_ARROWS.len() <= 2, "at most 2 arrows may point up: {UP_ARROWS:?}");
    let mut found = Vec::new();
    for (name, layers) in CRATES {
        let (up, unlisted) = up_arrows(&crate_graph(name), layers);
        for m in unlisted {
            found.push(format!("{name}: module `{m}` is in no layer of CRATES: put it in one"));
        }
        for (from, to) in up {
            if !UP_ARROWS.contains(&(name, from.as_str(), to.as_str())) {
                found.push(format!("{name}: `{from}` uses `{to}`, a layer above it"));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// `src` with its comments, strings and character literals blanked (line breaks kept), so that
/// braces count as code.
fn blank_literals(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let keep_lines = |out: &mut String, s: &[char]| {
        for ch in s {
            out.push(if *ch == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        // Line comments.
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            keep_lines(&mut out, &c[i..end]);
            i = end;
            continue;
        }
        // Block comments, nested.
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let (mut depth, mut j) = (0usize, i);
            while j < c.len() {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            keep_lines(&mut out, &c[i..j.min(c.len())]);
            i = j;
            continue;
        }
        // Raw strings: r"…", r#"…"#, br#"…"#.
        let raw_at = if !prev_ident && c[i] == 'r' {
            Some(i + 1)
        } else if !prev_ident && c[i] == 'b' && c.get(i + 1) == Some(&'r') {
            Some(i + 2)
        } else {
            None
        };
        if let Some(h) = raw_at {
            let hashes = (h..c.len()).take_while(|&j| c[j] == '#').count();
            if c.get(h + hashes) == Some(&'"') {
                let mut j = h + hashes + 1;
                while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#'))) {
                    j += 1;
                }
                let end = (j + 1 + hashes).min(c.len());
                keep_lines(&mut out, &c[i..end]);
                i = end;
                continue;
            }
        }
        // Strings (and byte strings).
        if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(c.len());
            keep_lines(&mut out, &c[i..end]);
            i = end;
            continue;
        }
        // Character literals ('x', '\n', '\u{7f}'); a lifetime or a label stays.
        if c[i] == '\'' {
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'').map(|j| j + 1)
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            if let Some(end) = end {
                keep_lines(&mut out, &c[i..end]);
                i = end;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Every function with a body in `src`: its name and its length in lines, from `fn` to its
/// closing brace.
fn fn_lengths(src: &str) -> Vec<(String, usize)> {
    let code = blank_literals(src);
    let b = code.as_bytes();
    let mut out = Vec::new();
    for (i, _) in code.match_indices("fn ") {
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            continue;
        }
        let name: String = code[i + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The body opens at the first `{` outside parentheses; a `;` first means none.
        let (mut depth, mut open) = (0i32, None);
        for (j, ch) in code[i..].char_indices() {
            match ch {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                ';' if depth == 0 => break,
                '{' if depth == 0 => {
                    open = Some(i + j);
                    break;
                }
                _ => {}
            }
        }
        let Some(open) = open else { continue };
        let mut braces = 0i32;
        for (j, ch) in code[open..].char_indices() {
            match ch {
                '{' => braces += 1,
                '}' => {
                    braces -= 1;
                    if braces == 0 {
                        let lines = code[i..open + j].matches('\n').count() + 1;
                        out.push((name, lines));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_function_is_longer_than_150_lines() {
    let root = root();
    let mut dirs = vec![root.join("stress-core/src"), root.join("cargo-stress/src")];
    for e in std::fs::read_dir(root.join("adapters")).unwrap().flatten() {
        if e.path().join("src").is_dir() {
            dirs.push(e.path().join("src"));
        }
    }
    let mut long = Vec::new();
    let mut seen = 0;
    for file in dirs.iter().flat_map(|d| rust_files(d)) {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        for (name, lines) in fn_lengths(&std::fs::read_to_string(&file).unwrap()) {
            seen += 1;
            if lines > MAX_FN_LINES && !TEMPORARY_LONG_FNS.contains(&(rel.as_str(), name.as_str())) {
                long.push(format!(
                    "{rel}: fn {name} is {lines} lines (at most {MAX_FN_LINES}): split it"
                ));
            }
        }
    }
    assert!(seen > 1000, "the functions were not read: {seen}");
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_length_reader_counts_code_not_literals() {
    let src = "fn short() {\n    let s = \"{\";\n    let c = '{';\n    let r = r#\"}}\"#;\n}\n\
               // fn not_one() {\n\
               fn long<'a>(x: &'a str) -> Vec<[u8; 2]> where 'a: 'static {\n    /* { */\n\n\n}\n\
               trait T { fn declared(&self); }\n";
    assert_eq!(fn_lengths(src), vec![("short".to_owned(), 5), ("long".to_owned(), 5)]);
}

#[test]
fn the_folder_reader_sees_a_circle_between_folders_and_an_arrow_up() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("config")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod config;\nmod report;\n").unwrap();
    std::fs::write(src.join("config/mod.rs"), "mod values;\n").unwrap();
    std::fs::write(src.join("config/values.rs"), "use crate::report::parse;\n").unwrap();
    std::fs::write(src.join("report.rs"), "use crate::config::Layer;\n").unwrap();
    let g = graph(src);
    assert!(circles_in("t", &g).is_empty(), "file by file, no circle: {g:?}");
    let f = folders(&g);
    assert_eq!(circles_in("t", &f).len(), 2, "config -> report -> config: {f:?}");
    let (up, unlisted) = up_arrows(&g, &[&["config"], &["report"]]);
    assert_eq!(up, vec![("config".to_owned(), "report".to_owned())]);
    assert!(unlisted.is_empty());
    let (_, unlisted) = up_arrows(&g, &[&["config"]]);
    assert_eq!(unlisted, vec!["report".to_owned()]);
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
