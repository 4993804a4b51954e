//! Engine hosts: an engine that lives in the harness's own process (SQLite) cannot be killed
//! without killing the harness, so for faults its adapter runs it in a child process instead —
//! the harness's own executable started again with a variable that names the host. The child
//! serves the engine to the harness's users over a local socket until told to stop, or until
//! it is killed.
//!
//! [`serve_engine_host`] is that child's way in: [`crate::main`] calls it first, and a harness
//! with a `main` of its own calls it first thing too. A libtest test binary (`cargo test`)
//! reaches it through a test named [`HOST_TEST`] that calls it.

/// An engine host an adapter registers (`inventory::submit!`): when the process was started
/// with `var` set, [`serve_engine_host`] calls `serve` with its value, which never returns.
#[derive(Debug)]
pub struct EngineHost {
    /// The variable that asks for this host (`STRESS_SQLITE_HOST`).
    pub var: &'static str,
    /// Serves until the harness closes the child's stdin or dies, then exits the process.
    pub serve: fn(&str) -> !,
}

inventory::collect!(EngineHost);

/// The name of the test through which a libtest test binary serves as an engine host:
/// `#[test] fn engine_host() { stress_core::serve_engine_host() }`.
pub const HOST_TEST: &str = "engine_host";

/// The arguments a host child is started with after the harness's executable: harmless to
/// [`crate::main`] (the host is served before they are read), and in a libtest test binary,
/// they run [`HOST_TEST`] only.
pub const HOST_ARGS: [&str; 4] = [HOST_TEST, "--exact", "--nocapture", "--test-threads=1"];

/// Serves as the engine host this process was started as, if any (and then never returns);
/// returns at once in every other process.
pub fn serve_engine_host() {
    for host in inventory::iter::<EngineHost> {
        if let Ok(value) = std::env::var(host.var) {
            (host.serve)(&value);
        }
    }
}
