//! Makes each page of the guide a module's doc comment, so that rustdoc compiles and runs its
//! Rust snippets: the pages are the ones `src/SUMMARY.md` links (what mdBook renders), and their
//! `{{#include FILE}}` directives are expanded as mdBook expands them, so the doctests see the
//! very text a reader sees.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    let src = root.join("src");
    let summary_path = src.join("SUMMARY.md");
    println!("cargo::rerun-if-changed={}", src.display());
    println!("cargo::rerun-if-changed={}", summary_path.display());
    let summary = read(&summary_path);
    let pages = linked_pages(&summary);
    assert!(!pages.is_empty(), "src/SUMMARY.md links no page");
    // A page the summary does not link is never rendered, and would never be tested either.
    for entry in fs::read_dir(&src).expect("docs/guide/src is readable") {
        let name = entry
            .expect("a directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".md") && name != "SUMMARY.md" {
            assert!(
                pages.contains(&name),
                "docs/guide/src/{name} is not linked from SUMMARY.md"
            );
        }
    }
    let mut modules = String::new();
    for page in &pages {
        let path = src.join(page);
        println!("cargo::rerun-if-changed={}", path.display());
        let text = expand_includes(&read(&path), &path);
        fs::write(out.join(page), text).expect("OUT_DIR is writable");
        let module = page.trim_end_matches(".md").replace('-', "_");
        writeln!(
            modules,
            "#[doc = include_str!(concat!(env!(\"OUT_DIR\"), \"/{page}\"))]\npub mod {module} {{}}"
        )
        .expect("writing to a String");
    }
    fs::write(out.join("pages.rs"), modules).expect("OUT_DIR is writable");
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The `.md` files SUMMARY.md links, in its order.
fn linked_pages(summary: &str) -> Vec<String> {
    let mut pages = Vec::new();
    for part in summary.split("](").skip(1) {
        let target = part.split(')').next().unwrap_or_default();
        if let Some(file) = target.strip_suffix(".md") {
            assert!(!file.contains('/'), "pages live in src/ itself: {target}");
            pages.push(format!("{file}.md"));
        }
    }
    pages
}

/// `{{#include PATH}}`, `{{#include PATH:START}}`, `{{#include PATH:START:END}}` (lines counted
/// from 1, both ends included, either end may be empty), relative to the page, as mdBook does.
fn expand_includes(text: &str, page: &Path) -> String {
    const OPEN: &str = "{{#include ";
    let dir = page.parent().expect("a page is in src/");
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let end = after
            .find("}}")
            .unwrap_or_else(|| panic!("{}: an unclosed {OPEN}", page.display()));
        let spec = after[..end].trim();
        let mut parts = spec.split(':');
        let file = dir.join(parts.next().expect("split yields one part"));
        println!("cargo::rerun-if-changed={}", file.display());
        let content = read(&file);
        let bound = |s: Option<&str>| -> Option<usize> {
            s.filter(|s| !s.is_empty()).map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{}: {spec}: only line ranges are supported", page.display()))
            })
        };
        match (parts.next(), parts.next()) {
            (None, _) => out.push_str(&content),
            (start, end) => {
                let start = bound(start).unwrap_or(1).max(1);
                let lines: Vec<&str> = content.lines().collect();
                let end = match end {
                    None => start,
                    some => bound(some).unwrap_or(lines.len()),
                };
                out.push_str(&lines[start - 1..end.min(lines.len())].join("\n"));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}
