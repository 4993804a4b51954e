//! perf's samples → folded stacks → a flame graph, and the hottest functions of the stacks.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;
use std::process::{Command, Stdio};

use inferno::collapse::Collapse;
use serde::{Deserialize, Serialize};

/// One function of the hottest: its samples on top of the stack (self) and anywhere in it
/// (total), each also as a share of all samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hot {
    /// The function, as perf symbolised it (`sqlite3VdbeExec`, `PostgresMain`,
    /// `orders::select`); `[unknown]` where a frame had no symbol.
    pub function: String,
    /// Samples with this function on top: time spent in it, not in what it called.
    pub self_samples: u64,
    /// `self_samples` as a percentage of all samples.
    pub self_percent: f64,
    /// Samples with this function anywhere in the stack (counted once per stack).
    pub total_samples: u64,
    /// `total_samples` as a percentage of all samples.
    pub total_percent: f64,
}

/// Folds `perf.data` (through `perf script`, inferno's perf collapser): (stack, samples), the
/// stack's frames root first, `;`-separated.
pub(super) fn fold_perf_data(data: &Path) -> Result<Vec<(String, u64)>, String> {
    // --no-inline: perf would otherwise ask addr2line about every address of a binary with
    // line tables, minutes for a run of a few seconds. No `period` field: each sample counts
    // one (with it, inferno weighs a cpu-clock sample by its nanoseconds).
    // perf's complaints go to a file beside the data: read only when it fails.
    let complaints = data.with_extension("err");
    let errors = std::fs::File::create(&complaints).map_err(|e| format!("no CPU profile: {e}"))?;
    let mut child = Command::new("perf")
        .args([
            "script",
            "--no-inline",
            "-F",
            "comm,pid,tid,time,event,ip,sym,dso",
            "-i",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(errors)
        .spawn()
        .map_err(|e| format!("no CPU profile: cannot run perf script: {e}"))?;
    let stdout = child.stdout.take().ok_or("no CPU profile: perf script has no output")?;
    let mut options = inferno::collapse::perf::Options::default();
    options.nthreads = 1;
    let mut folded = Vec::new();
    let collapsed = inferno::collapse::perf::Folder::from(options).collapse(BufReader::new(stdout), &mut folded);
    let status = child.wait().map_err(|e| format!("no CPU profile: perf script: {e}"))?;
    let said = std::fs::read_to_string(&complaints).unwrap_or_default();
    let _ = std::fs::remove_file(&complaints);
    collapsed.map_err(|e| format!("no CPU profile: cannot fold perf's stacks: {e}"))?;
    if !status.success() {
        let why = said
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        return Err(format!("no CPU profile: perf script failed ({status}): {why}"));
    }
    Ok(parse_folded(&String::from_utf8_lossy(&folded)))
}

/// `stack count` lines, as inferno writes and reads them.
pub(super) fn parse_folded(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (stack, n) = l.trim_end().rsplit_once(' ')?;
            Some((stack.to_owned(), n.parse().ok()?))
        })
        .collect()
}

/// The flame graph of folded stacks, as SVG (searchable: its Search button and Ctrl-F).
pub(super) fn flame_graph(folded: &str, title: &str) -> Result<Vec<u8>, String> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "samples".to_owned();
    options.deterministic = true;
    let mut svg = Vec::new();
    if folded.trim().is_empty() {
        // inferno refuses an empty input: a drawing that says so is the honest one.
        let title = title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        return Ok(format!(
            "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" \
             height=\"60\"><text x=\"10\" y=\"34\" font-family=\"sans-serif\" font-size=\"14\">{title}: no samples \
             (the sampled processes did not run on a CPU in the window)</text></svg>\n"
        )
        .into_bytes());
    }
    inferno::flamegraph::from_lines(&mut options, folded.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the flame graph: {e}"))?;
    Ok(svg)
}

/// The `n` functions with the most self samples (most first, by name on a tie).
pub fn hottest(folded: &[(String, u64)], n: usize) -> Vec<Hot> {
    let all: u64 = folded.iter().map(|(_, c)| c).sum();
    let mut own: BTreeMap<&str, u64> = BTreeMap::new();
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    for (stack, count) in folded {
        let frames: Vec<&str> = stack.split(';').collect();
        if let Some(top) = frames.last() {
            *own.entry(top).or_default() += count;
        }
        let mut seen: Vec<&str> = Vec::with_capacity(frames.len());
        // The first frame is the process's name (comm), not a function.
        for f in frames.iter().skip(1) {
            if !seen.contains(f) {
                seen.push(f);
                *total.entry(f).or_default() += count;
            }
        }
    }
    let pct = |c: u64| {
        if all == 0 {
            0.0
        } else {
            (1000.0 * c as f64 / all as f64).round() / 10.0
        }
    };
    let mut rows: Vec<Hot> = own
        .into_iter()
        .map(|(f, c)| {
            let t = total.get(f).copied().unwrap_or(c);
            Hot {
                function: f.to_owned(),
                self_samples: c,
                self_percent: pct(c),
                total_samples: t,
                total_percent: pct(t),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.self_samples
            .cmp(&a.self_samples)
            .then_with(|| a.function.cmp(&b.function))
    });
    rows.truncate(n);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hottest_are_by_self_samples_and_a_recursive_frame_counts_once_in_its_total() {
        let folded = parse_folded(
            "harness;main;run_user;sqlite3_step;sqlite3VdbeExec 30\n\
             harness;main;run_user;sqlite3_step;sqlite3VdbeExec;sqlite3BtreeInsert 50\n\
             harness;main;f;f;f 20\n\
             not a line\n",
        );
        assert_eq!(folded.len(), 3, "the malformed line is skipped");
        let hot = hottest(&folded, 10);
        let names: Vec<&str> = hot.iter().map(|h| h.function.as_str()).collect();
        assert_eq!(names, ["sqlite3BtreeInsert", "sqlite3VdbeExec", "f"]);
        assert_eq!((hot[0].self_samples, hot[0].self_percent), (50, 50.0));
        assert_eq!(
            (hot[1].self_samples, hot[1].total_samples, hot[1].total_percent),
            (30, 80, 80.0)
        );
        assert_eq!(
            hot[2].total_samples, 20,
            "f three times in one stack is one stack's samples"
        );
        assert_eq!(hottest(&folded, 1).len(), 1);
        assert!(hottest(&[], 5).is_empty());
    }

    #[test]
    fn a_flame_graph_names_its_functions_and_can_be_searched() {
        let svg = flame_graph(
            "harness;main;sqlite3VdbeExec 3\nharness;main;PostgresMain 1\n",
            "orders",
        )
        .expect("drawn");
        let svg = String::from_utf8(svg).expect("utf-8");
        assert!(svg.starts_with("<?xml"), "{}", &svg[..80.min(svg.len())]);
        for want in ["sqlite3VdbeExec", "PostgresMain", "orders", "search"] {
            assert!(svg.contains(want), "the SVG has no {want}");
        }
        let empty = String::from_utf8(flame_graph("", "idle").expect("drawn")).expect("utf-8");
        assert!(empty.contains("no samples"), "an empty profile says so");
    }
}
