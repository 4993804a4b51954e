//! `histograms.hlog`: the run's latencies in HdrHistogram's interval-log format — one
//! histogram per op and second, tagged with the op's name — readable by HdrHistogram's own
//! tools (HistogramLogAnalyzer, HistogramLogProcessor, the `hdrhistogram` crate's
//! `IntervalLogIterator`) and mergeable without loss.
//!
//! Lines are encoded as the intervals close and, once the run has a directory, go straight to
//! a temporary file in it (renamed to `histograms.hlog` at the end): memory stays flat however
//! long the run, and a run killed outright leaves what it had logged.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::histogram::LatencyHistogram;

/// The interval log of one run, built as intervals close.
pub(crate) struct HistogramLog {
    /// Lines not yet in the file (all of them when the log has no file).
    body: Vec<u8>,
    serializer: V2DeflateSerializer,
    /// Per run op index: its tag.
    tags: Vec<String>,
    /// The file the lines stream to, once the users started.
    sink: Option<BufWriter<tempfile::NamedTempFile>>,
    /// A run with no directory keeps no log.
    discard: bool,
    /// The first failure to write the file.
    error: Option<String>,
}

impl std::fmt::Debug for HistogramLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistogramLog").field("bytes", &self.body.len()).finish()
    }
}

impl HistogramLog {
    /// A log for ops of these names (a tag cannot hold `,`, a space or a line break: those
    /// become `_`).
    pub(crate) fn new(names: &[String]) -> Self {
        let tags = names.iter().map(|n| tag_of(n)).collect();
        Self {
            body: Vec::new(),
            serializer: V2DeflateSerializer::new(),
            tags,
            sink: None,
            discard: false,
            error: None,
        }
    }

    /// Keeps nothing: the run writes no files.
    pub(crate) fn discard(&mut self) {
        self.discard = true;
        self.body = Vec::new();
    }

    /// From now on, lines go to a temporary file in `dir`, after the headers.
    pub(crate) fn stream_to(&mut self, dir: &Path, start: SystemTime, workload: &str) {
        if self.discard {
            return;
        }
        let opened = tempfile::Builder::new()
            .prefix(".histograms.hlog.")
            .tempfile_in(dir)
            .and_then(|f| {
                let mut w = BufWriter::new(f);
                w.write_all(&header(start, workload))?;
                w.write_all(&self.body)?;
                Ok(w)
            });
        match opened {
            Ok(w) => {
                self.sink = Some(w);
                self.body = Vec::new();
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Ends the log: renames the streamed file to `path` (`Ok(None)`), or hands back the whole
    /// log for the caller to write when it never streamed (`Ok(Some(bytes))`).
    pub(crate) fn finish(&mut self, path: &Path, start: SystemTime, workload: &str) -> Result<Option<Vec<u8>>, String> {
        if let Some(e) = self.error.take() {
            self.sink = None;
            return Err(e);
        }
        let Some(w) = self.sink.take() else {
            return Ok(Some(self.render(start, workload)));
        };
        let file = w.into_inner().map_err(|e| e.error().to_string())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Results are for reading by anyone who can read the directory (tempfile makes 0600).
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
                .map_err(|e| e.to_string())?;
        }
        file.as_file().sync_data().map_err(|e| e.to_string())?;
        file.persist(path).map_err(|e| e.error.to_string())?;
        Ok(None)
    }

    /// Adds op `op`'s histogram of second `second` (from the run's start). Several lines for
    /// one op and second add up (a user's late part).
    pub(crate) fn push(&mut self, second: u64, op: u32, h: &LatencyHistogram) {
        if h.is_empty() || self.discard {
            return;
        }
        let Some(tag) = self.tags.get(op as usize).and_then(|t| Tag::new(t)) else {
            return;
        };
        // Nothing but the line: a builder without headers writes none.
        let written = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.body, &mut self.serializer)
            .map_err(|e| e.to_string())
            .and_then(|mut w| {
                w.write_histogram(
                    h.inner(),
                    Duration::from_secs(second),
                    Duration::from_secs(1),
                    Some(tag),
                )
                .map_err(|e| e.to_string())
            });
        debug_assert!(written.is_ok(), "writing to memory cannot fail: {written:?}");
        if let Some(sink) = &mut self.sink {
            if let Err(e) = sink.write_all(&self.body)
                && self.error.is_none()
            {
                self.error = Some(e.to_string());
            }
            self.body.clear();
        }
    }

    /// The whole log kept in memory: headers (the run's wall-clock start, the unit) and every
    /// line.
    pub(crate) fn render(&self, start: SystemTime, workload: &str) -> Vec<u8> {
        let mut out = header(start, workload);
        out.extend_from_slice(&self.body);
        out
    }
}

/// The tag of op `name` in the log: a tag cannot hold `,`, a space or a line break, so those
/// become `_`.
pub(crate) fn tag_of(name: &str) -> String {
    name.chars()
        .map(|c| if ",\r\n ".contains(c) { '_' } else { c })
        .collect()
}

/// The log's headers: who wrote it, the unit, the start (wall clock), the column legend.
fn header(start: SystemTime, workload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut serializer = V2DeflateSerializer::new();
    let written = IntervalLogWriterBuilder::new()
        .add_comment(&format!("cargo-stress {}: {workload}", env!("CARGO_PKG_VERSION")))
        .add_comment("Latencies of successful ops in microseconds, from the intended start under a rate; one tag per op, one histogram per op and second")
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut out, &mut serializer)
        .map(drop);
    debug_assert!(written.is_ok(), "writing to memory cannot fail");
    out.extend_from_slice(
        b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
    );
    out
}

/// An interval log's histograms: by tag, by second from its start (lines for the same tag and
/// second added up).
pub(crate) type Intervals = BTreeMap<String, BTreeMap<u64, LatencyHistogram>>;

/// What to do about a damaged interval log, said after what is wrong with it.
const FIX: &str = "rerun the workload, or remove the file to report without it";

/// Reads an interval log (ours, or any with whole-second timestamps); a damaged one in one line
/// that says which entry and what is wrong with it.
pub(crate) fn read(bytes: &[u8]) -> Result<Intervals, String> {
    let mut out = Intervals::new();
    let mut deserializer = Deserializer::new();
    for (n, entry) in IntervalLogIterator::new(bytes).enumerate() {
        let interval = match entry {
            Ok(LogEntry::Interval(i)) => i,
            Ok(_) => continue,
            Err(hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset }) => {
                return Err(format!(
                    "is damaged: entry {} (at byte {offset}) is not an interval-log line; {FIX}",
                    n + 1
                ));
            }
        };
        let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, interval.encoded_histogram())
            .map_err(|e| format!("is damaged: entry {} is not base64 ({e}); {FIX}", n + 1))?;
        let h: hdrhistogram::Histogram<u64> = deserializer
            .deserialize(&mut raw.as_slice())
            .map_err(|e| format!("is damaged: entry {} is not a histogram ({e:?}); {FIX}", n + 1))?;
        let tag = interval.tag().map_or_else(String::new, |t| t.as_str().to_owned());
        out.entry(tag)
            .or_default()
            .entry(interval.start_timestamp().as_secs())
            .or_default()
            .merge(&LatencyHistogram::from_inner(h));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;

    #[test]
    fn the_crates_reader_gets_back_every_count_by_tag() {
        let mut log = HistogramLog::new(&["read".into(), "odd name,with comma".into()]);
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        for v in 1..=1000u64 {
            a.record(v);
            if v % 10 == 0 {
                b.record(v * 1000);
            }
        }
        log.push(0, 0, &a);
        log.push(0, 1, &b);
        log.push(1, 0, &a);
        log.push(2, 0, &LatencyHistogram::new());
        let text = log.render(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000), "w");
        let mut counts: Vec<(String, u64, u64)> = Vec::new();
        let mut start_time = None;
        for entry in IntervalLogIterator::new(&text) {
            match entry.expect("a valid log") {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::Interval(i) => {
                    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                        .expect("base64");
                    let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                        .deserialize(&mut raw.as_slice())
                        .expect("a histogram");
                    let tag = i.tag().map(|t| t.as_str().to_owned()).unwrap_or_default();
                    counts.push((tag, i.start_timestamp().as_secs(), h.len()));
                }
                LogEntry::BaseTime(_) => {}
            }
        }
        assert_eq!(start_time, Some(Duration::from_secs(1_800_000_000)));
        let back = read(&text).expect("reads its own log");
        assert_eq!(back["read"][&0].summary().count, 1000);
        assert_eq!(back["read"][&1].summary().p50, a.summary().p50);
        assert_eq!(back["odd_name_with_comma"][&0].len(), 100);
        assert_eq!(
            counts,
            [
                ("read".to_owned(), 0, 1000),
                ("odd_name_with_comma".to_owned(), 0, 100),
                ("read".to_owned(), 1, 1000)
            ],
            "an empty histogram writes no line"
        );
    }
}
