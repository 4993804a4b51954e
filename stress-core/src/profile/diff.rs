//! Two runs' CPU profiles side by side, as `cargo stress compare` shows them: the functions
//! hottest in either run with their self share in each, and a differential flame graph (Brendan
//! Gregg's: the new run's stacks, each frame red where its share grew and blue where it shrank,
//! the base run's samples scaled to the new run's count so that a longer or busier run does not
//! paint everything red).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fold;

/// Functions a comparison lists: the hottest of each run, together.
const LISTED: usize = 25;

/// Two runs' profiles compared, as `compare.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileComparison {
    /// Stacks sampled in the base run.
    pub base_samples: u64,
    /// Stacks sampled in the new run.
    pub new_samples: u64,
    /// The functions among the hottest of either run, by the larger of their two self shares.
    pub functions: Vec<HotChange>,
}

/// One function in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotChange {
    /// The function, as perf symbolised it.
    pub function: String,
    /// Its self samples as a percentage of the base run's samples.
    pub base_self_percent: f64,
    /// Its self samples as a percentage of the new run's samples.
    pub new_self_percent: f64,
    /// New minus base, in percentage points.
    pub change_points: f64,
}

/// `profile.folded` of the run in `dir` as it is on disk, or `None` when the run was not
/// profiled.
fn folded_bytes(dir: &Path) -> Result<Option<Vec<u8>>, String> {
    let path = dir.join("profile.folded");
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// `profile.folded` of the run in `dir`, read into its stacks.
fn folded_of(dir: &Path) -> Result<Option<Vec<(String, u64)>>, String> {
    Ok(folded_bytes(dir)?.map(|b| fold::parse_folded(&String::from_utf8_lossy(&b))))
}

/// Compares the profiles of the runs in `base` and `new`: `None` unless both were profiled.
pub fn compare(base: &Path, new: &Path) -> Result<Option<ProfileComparison>, String> {
    let (Some(b), Some(n)) = (folded_of(base)?, folded_of(new)?) else {
        return Ok(None);
    };
    let (hot_b, hot_n) = (fold::hottest(&b, usize::MAX), fold::hottest(&n, usize::MAX));
    let share = |hot: &[fold::Hot]| -> BTreeMap<String, f64> {
        hot.iter().map(|h| (h.function.clone(), h.self_percent)).collect()
    };
    let (share_b, share_n) = (share(&hot_b), share(&hot_n));
    let mut names: Vec<&String> = Vec::new();
    for hot in [&hot_b, &hot_n] {
        for h in hot.iter().take(LISTED) {
            if !names.contains(&&h.function) {
                names.push(&h.function);
            }
        }
    }
    let mut functions: Vec<HotChange> = names
        .into_iter()
        .map(|f| {
            let (b, n) = (
                share_b.get(f).copied().unwrap_or(0.0),
                share_n.get(f).copied().unwrap_or(0.0),
            );
            HotChange {
                function: f.clone(),
                base_self_percent: b,
                new_self_percent: n,
                change_points: ((n - b) * 10.0).round() / 10.0,
            }
        })
        .collect();
    functions.sort_by(|x, y| {
        let (mx, my) = (
            x.base_self_percent.max(x.new_self_percent),
            y.base_self_percent.max(y.new_self_percent),
        );
        my.total_cmp(&mx).then_with(|| x.function.cmp(&y.function))
    });
    Ok(Some(ProfileComparison {
        base_samples: b.iter().map(|(_, c)| c).sum(),
        new_samples: n.iter().map(|(_, c)| c).sum(),
        functions,
    }))
}

/// The differential flame graph of the runs in `base` and `new` (SVG): `None` unless both were
/// profiled.
pub fn differential_flame_graph(base: &Path, new: &Path, title: &str) -> Result<Option<Vec<u8>>, String> {
    let (Some(b), Some(n)) = (folded_bytes(base)?, folded_bytes(new)?) else {
        return Ok(None);
    };
    let mut both = Vec::new();
    let options = inferno::differential::Options {
        normalize: true,
        strip_hex: false,
    };
    inferno::differential::from_readers(options, &b[..], &n[..], &mut both)
        .map_err(|e| format!("cannot join the two profiles: {e}"))?;
    let both = String::from_utf8_lossy(&both);
    fold::flame_graph(&both, title).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(folded: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("profile.folded"), folded).unwrap();
        dir
    }

    #[test]
    fn a_function_that_grew_and_one_that_shrank_are_listed_with_both_shares() {
        // Base: 80 of 100 samples in `parse`, 20 in `scan`. New: 50 of 200 in `parse`,
        // 100 in `scan`, 50 in `sort` (new).
        let base = run_with("engine;main;parse 80\nengine;main;scan 20\n");
        let new = run_with("engine;main;parse 50\nengine;main;scan 100\nengine;main;sort 50\n");
        let c = compare(base.path(), new.path()).unwrap().unwrap();
        assert_eq!((c.base_samples, c.new_samples), (100, 200));
        let names: Vec<&str> = c.functions.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["parse", "scan", "sort"], "by the larger share first");
        let by = |n: &str| c.functions.iter().find(|f| f.function == n).unwrap().clone();
        assert_eq!(
            (by("parse").base_self_percent, by("parse").new_self_percent),
            (80.0, 25.0)
        );
        assert_eq!(by("parse").change_points, -55.0);
        assert_eq!(by("scan").change_points, 30.0);
        assert_eq!((by("sort").base_self_percent, by("sort").change_points), (0.0, 25.0));

        let svg = String::from_utf8(
            differential_flame_graph(base.path(), new.path(), "base → new")
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert!(svg.starts_with("<?xml"), "an SVG");
        for f in ["parse", "scan", "sort"] {
            assert!(svg.contains(f), "{f} is drawn");
        }
        // Each frame's title tells its change, the base scaled to the new run's 200 samples
        // (parse 160, scan 40): `scan` grew by 60 samples, `parse` shrank by 110.
        assert!(svg.contains("scan (100 samples, 50.00%; +30.00%)"), "{svg}");
        assert!(svg.contains("parse (50 samples, 25.00%; -55.00%)"), "{svg}");
        assert!(svg.contains("sort (50 samples, 25.00%; +25.00%)"), "{svg}");
    }

    #[test]
    fn a_damaged_profile_is_compared_on_the_lines_that_read() {
        let base = run_with("engine;main;parse 80\n<b>not a stack</b>\n\u{0}\u{1}garbage x\n");
        let new = run_with("engine;main;parse 40\nengine;main;scan 40\n");
        let c = compare(base.path(), new.path()).unwrap().unwrap();
        assert_eq!(c.base_samples, 80, "{c:?}");
        let svg = differential_flame_graph(base.path(), new.path(), "t").unwrap().unwrap();
        assert!(String::from_utf8(svg).unwrap().contains("scan"));
    }

    #[test]
    fn a_run_without_a_profile_compares_to_nothing() {
        let base = run_with("engine;main;parse 80\n");
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(compare(base.path(), plain.path()).unwrap(), None);
        assert_eq!(compare(plain.path(), base.path()).unwrap(), None);
        assert_eq!(differential_flame_graph(base.path(), plain.path(), "t").unwrap(), None);
    }
}
