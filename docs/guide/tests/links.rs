//! Every link between the guide's pages, and from the README into the guide and the tree, goes
//! somewhere: to a file that exists and, with `#anchor`, to a heading of that page (the ids
//! mdBook and GitHub give headings: lowercase, letters, digits, `-` and `_`, spaces as `-`).

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of a page outside its code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fence = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fence = !fence;
                return false;
            }
            !fence
        })
        .collect()
}

fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    prose(&text)
        .into_iter()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|h| anchor_of(h.trim_start_matches('#')))
        .collect()
}

/// The targets of the inline links `[text](target)` of a page's prose.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        for part in line.split("](").skip(1) {
            if let Some(end) = part.find(')') {
                out.push(part[..end].to_owned());
            }
        }
    }
    out
}

/// What is wrong with `target`, a link of the page `from`, if anything.
fn check(from: &Path, target: &str) -> Option<String> {
    if target.starts_with("http://") || target.starts_with("https://") || target.starts_with("mailto:") {
        return None;
    }
    let (file, anchor) = match target.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let path = if file.is_empty() {
        from.to_owned()
    } else {
        from.parent().unwrap().join(file)
    };
    if !path.exists() {
        return Some(format!("{}: {target}: no such file", from.display()));
    }
    match anchor {
        Some(anchor) if !anchors(&path).iter().any(|a| a == anchor) => Some(format!(
            "{}: {target}: no heading #{anchor} in {}",
            from.display(),
            path.display()
        )),
        _ => None,
    }
}

#[test]
fn every_link_of_the_guide_and_the_readme_goes_somewhere() {
    let src = root().join("docs/guide/src");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.push(root().join("README.md"));
    let mut broken = Vec::new();
    let mut seen = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for target in links(&text) {
            seen += 1;
            broken.extend(check(page, &target));
        }
    }
    assert!(seen > 20, "only {seen} links found: is the scan broken?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_links_every_page_of_the_guide() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let summary = std::fs::read_to_string(root().join("docs/guide/src/SUMMARY.md")).unwrap();
    let missing: Vec<String> = links(&summary)
        .into_iter()
        .map(|page| format!("docs/guide/src/{page}"))
        .filter(|path| !readme.contains(&format!("]({path}")))
        .collect();
    assert!(missing.is_empty(), "the README does not link {missing:?}");
}

#[test]
fn anchors_are_made_as_mdbook_makes_them() {
    assert_eq!(anchor_of(" `cargo stress sweep`"), "cargo-stress-sweep");
    assert_eq!(
        anchor_of("Is what the engine answered correct? The isolation checker"),
        "is-what-the-engine-answered-correct-the-isolation-checker"
    );
    assert_eq!(anchor_of("Shards: beyond one machine"), "shards-beyond-one-machine");
}
