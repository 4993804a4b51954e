//! The `#[stress_workload]` attribute of cargo-stress.
//!
//! Use it through `stress-core`, which re-exports it (`use stress_core::prelude::*;`); this
//! crate only parses and checks the attribute, then registers the function with
//! `stress-core`'s registry. Every option is checked at compile time by the same parser that
//! reads the `STRESS_*` variables at run time, so a typo is a compile error pointing at it.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod expand;
mod options;

/// Registers a function that builds a workload, so that `cargo stress` (and a `stress_core`
/// harness) can find, list and run it.
///
/// The function takes no arguments and returns the workload; it must not be generic, `async`,
/// `const`, `unsafe` or `extern`. The function is left as it is; the attribute only adds a
/// registry entry next to it.
///
/// ```ignore
/// use stress_core::prelude::*;
///
/// #[stress_workload(duration = "30s", users = "inserter=4,reader=3", seed = 42)]
/// fn orders() -> Workload<Sqlite> {
///     // ...
/// #   unimplemented!()
/// }
/// ```
///
/// # Options
///
/// All optional; each one is checked when the crate compiles. An option set here sits above
/// the built-in defaults and below the `STRESS_*` variables and the command line.
///
/// | option | example | meaning |
/// | --- | --- | --- |
/// | `duration` | `duration = "30s"` | how long to run: a whole number with `ms`, `s` (default unit), `m` or `h` |
/// | `users` | `users = "inserter=4,reader=3"` | how many users of each class |
/// | `ops_per_user` | `ops_per_user = 100` | stop each user after this many ops (at least 1) |
/// | `seed` | `seed = 42` | the global seed |
/// | `think_ms` | `think_ms = "10..200"` | pause between a user's ops, in milliseconds (inclusive range) |
/// | `batch` | `batch = "100..10000"` | rows per batch (inclusive range, at least 1) |
/// | `databases` | `databases = 3` | how many databases to spread the users over (at least 1) |
/// | `max_memory_mb` | `max_memory_mb = 4096` | pause users above this much memory of the processes under test; stop the run if it stays above (at least 1) |
/// | `max_cpu_percent` | `max_cpu_percent = 400` | pause users above this CPU use, 100 per core; stop the run if it stays above (at least 1) |
/// | `max_disk_mb` | `max_disk_mb = 1024` | above this much disk for the engine's files, writes become reads (at least 1) |
/// | `ignore` | `ignore` or `ignore = true` | skip the workload unless ignored ones are asked for |
/// | `name` | `name = "orders_v2"` | the workload's name (default: the function's), of letters, digits, `_`, `:`, `.` and `-` |
/// | `crate` | `crate = "stress"` | the path to `stress_core` that the expansion uses (default `::stress_core`) |
///
/// `crate` is for a crate that renamed its `stress-core` dependency (`stress = { package =
/// "stress-core", ... }` in Cargo.toml, then `crate = "stress"`) or that re-exports it (`crate =
/// "my_framework::stress_core"`). Like serde's `#[serde(crate = "...")]`, it takes a string.
#[proc_macro_attribute]
pub fn stress_workload(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match expand::expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the item beside the error, so that code calling the function does not get
        // a second, misleading "cannot find function" error.
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            tokens.into()
        }
    }
}
