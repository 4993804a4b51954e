//! What this machine can run at all: a bound on users (one OS thread each) and databases,
//! checked before a run allocates anything for them. A number far beyond it (`--users
//! 1000000000`) would grow memory for minutes and ignore Ctrl-C before failing; it is refused
//! with the bound and where it comes from. `STRESS_MAX_USERS` / `STRESS_MAX_DATABASES` raise (or
//! lower) a bound on purpose.

/// Memory a user is counted at: its thread's stack as touched, its sample buffer, its
/// connection's client-side state.
pub const MEMORY_PER_USER: u64 = 1 << 20;

/// The default bound on databases: each is set up (and, for a server, created) one by one.
pub const MAX_DATABASES: usize = 10_000;

/// The most users this machine can run, and why: the smallest of half the kernel's thread
/// limit, this account's process limit and the available memory at [`MEMORY_PER_USER`] each.
pub fn max_users() -> (usize, String) {
    let mut bounds: Vec<(usize, String)> = Vec::new();
    if let Some(t) = read_number("/proc/sys/kernel/threads-max") {
        bounds.push(((t / 2) as usize, format!("half the kernel's {t} threads")));
    }
    if let Some(n) = std::fs::read_to_string("/proc/self/limits").ok().and_then(|l| {
        l.lines()
            .find(|l| l.starts_with("Max processes"))
            .and_then(|l| l.split_whitespace().nth(2).and_then(|v| v.parse::<u64>().ok()))
    }) {
        bounds.push((
            n as usize,
            format!("this account's limit of {n} processes and threads (ulimit -u)"),
        ));
    }
    if let Some(kb) = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
    }) {
        let mb = kb / 1024;
        bounds.push((
            (kb * 1024 / MEMORY_PER_USER) as usize,
            format!("{mb} MB of available memory at 1 MB a user"),
        ));
    }
    bounds
        .into_iter()
        .min_by_key(|(n, _)| *n)
        .unwrap_or((100_000, "a default for machines that do not say".into()))
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_bound_is_positive_and_says_where_it_comes_from() {
        let (n, why) = max_users();
        assert!(n > 0, "{why}");
        assert!(
            why.contains("thread") || why.contains("memory") || why.contains("processes"),
            "{why}"
        );
        assert!(n < 1_000_000_000, "a billion users never fit: {n} ({why})");
    }
}
