//! The cargo-stress guide, `docs/guide` (an mdBook: `mdbook build docs/guide`), as a crate.
//!
//! Each page that `src/SUMMARY.md` links is the doc comment of a module of its name (its
//! includes expanded, by `build.rs`), so `cargo test -p stress-guide --doc` compiles and runs
//! every Rust snippet of the guide, with the lines a reader does not see (`# `), as mdBook
//! hides them too. Snippets use SQLite or `Bare`, never a server, and run in a few seconds.
//! Code blocks that are not Rust say what they are: `sh`, `text`, `toml`.

include!(concat!(env!("OUT_DIR"), "/pages.rs"));
