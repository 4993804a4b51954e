//! A record: one time series of N epochs (a timestamp and a value each), encoded three ways.
//!
//! - `jsonb`: one JSON document `{"series", "start", "step_s", "epochs": [{"t", "v"}, …]}`,
//!   sent as text and stored as `jsonb` (the server parses it);
//! - `bson`: the same document in BSON, stored as `bytea`;
//! - `ndjson_zstd`: a header line and one line per epoch, zstd-compressed as it is generated
//!   (the uncompressed text never exists in memory), stored as `bytea`; decoded as a stream too.
//!
//! Values are a seeded random walk, so a replay writes the same records.

use std::io::{BufRead, BufReader, Write};
use std::str::FromStr;

use bson::{Bson, Document, doc};
use serde::Deserialize;
use stress_core::prelude::*;

/// The encodings, as the `format` parameter names them.
pub const FORMATS: [&str; 3] = ["jsonb", "bson", "ndjson_zstd"];

/// First timestamp of every series (unix seconds) and the step between epochs.
const START: i64 = 1_700_000_000;
const STEP_S: i64 = 60;
/// zstd's default level: what a service would pick.
const ZSTD_LEVEL: i32 = 3;

/// How a record is encoded and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON text into a `jsonb` column.
    Jsonb,
    /// BSON into a `bytea` column.
    Bson,
    /// Newline-delimited JSON, zstd-compressed while it is written, into a `bytea` column.
    NdjsonZstd,
}

impl FromStr for Format {
    type Err = OpError;
    fn from_str(s: &str) -> Result<Self, OpError> {
        match s {
            "jsonb" => Ok(Self::Jsonb),
            "bson" => Ok(Self::Bson),
            "ndjson_zstd" => Ok(Self::NdjsonZstd),
            _ => Err(OpError::msg(format!(
                "format `{s}` is not one of {}",
                FORMATS.join(", ")
            ))),
        }
    }
}

impl Format {
    /// The SQL type of the payload column.
    pub fn column_type(self) -> &'static str {
        match self {
            Self::Jsonb => "jsonb",
            Self::Bson | Self::NdjsonZstd => "bytea",
        }
    }
}

/// The epochs of a series: a random walk, one value every [`STEP_S`] seconds.
fn walk(rng: &mut StressRng, epochs: u64) -> impl Iterator<Item = (i64, f64)> + '_ {
    let mut v = 100.0f64;
    (0..epochs as i64).map(move |i| {
        v += rng.random_range(-1.0..1.0);
        // Three decimals: what a sensor reports, and a value every encoding keeps exactly.
        (START + i * STEP_S, (v * 1000.0).round() / 1000.0)
    })
}

/// Encodes a series of `epochs` epochs, generating its values from `rng` as it goes.
pub fn encode(format: Format, series: &str, epochs: u64, rng: &mut StressRng) -> Result<Vec<u8>, OpError> {
    match format {
        Format::Jsonb => {
            // ~30 bytes an epoch.
            let mut out = Vec::with_capacity(64 + epochs as usize * 32);
            write!(
                out,
                r#"{{"series":{},"start":{START},"step_s":{STEP_S},"epochs":["#,
                serde_json::to_string(series)?
            )?;
            for (i, (t, v)) in walk(rng, epochs).enumerate() {
                let comma = if i > 0 { "," } else { "" };
                write!(out, r#"{comma}{{"t":{t},"v":{v}}}"#)?;
            }
            out.extend_from_slice(b"]}");
            Ok(out)
        }
        Format::Bson => {
            let points: Vec<Bson> = walk(rng, epochs)
                .map(|(t, v)| Bson::Document(doc! { "t": t, "v": v }))
                .collect();
            let record = doc! { "series": series, "start": START, "step_s": STEP_S, "epochs": points };
            Ok(record.to_vec()?)
        }
        Format::NdjsonZstd => {
            let mut z = zstd::stream::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
            writeln!(
                z,
                r#"{{"series":{},"start":{START},"step_s":{STEP_S}}}"#,
                serde_json::to_string(series)?
            )?;
            for (t, v) in walk(rng, epochs) {
                writeln!(z, r#"{{"t":{t},"v":{v}}}"#)?;
            }
            Ok(z.finish()?)
        }
    }
}

#[derive(Debug, Deserialize)]
struct Epoch {
    t: i64,
    #[serde(rename = "v")]
    _v: f64,
}

#[derive(Debug, Deserialize)]
struct Header {
    #[serde(rename = "series")]
    _series: String,
    start: i64,
    step_s: i64,
}

#[derive(Debug, Deserialize)]
struct Record {
    #[serde(flatten)]
    header: Header,
    epochs: Vec<Epoch>,
}

/// Checks that the timestamps step as the header says: a decode that read every epoch.
fn check(header: &Header, i: usize, t: i64) -> Result<(), OpError> {
    let want = header.start + i as i64 * header.step_s;
    if t != want {
        stress_core::op_bail!("epoch {i} has timestamp {t}, expected {want}: the record came back damaged");
    }
    Ok(())
}

/// Decodes a record in full and returns how many epochs it holds.
pub fn decode(format: Format, payload: &[u8]) -> Result<u64, OpError> {
    match format {
        Format::Jsonb => {
            let r: Record = serde_json::from_slice(payload)?;
            for (i, e) in r.epochs.iter().enumerate() {
                check(&r.header, i, e.t)?;
            }
            Ok(r.epochs.len() as u64)
        }
        Format::Bson => {
            let d = Document::from_reader(payload)?;
            let header = Header {
                _series: d.get_str("series")?.to_owned(),
                start: d.get_i64("start")?,
                step_s: d.get_i64("step_s")?,
            };
            let epochs = d.get_array("epochs")?;
            for (i, e) in epochs.iter().enumerate() {
                let e = e
                    .as_document()
                    .ok_or_else(|| OpError::msg(format!("epoch {i} is not a document")))?;
                e.get_f64("v")?;
                check(&header, i, e.get_i64("t")?)?;
            }
            Ok(epochs.len() as u64)
        }
        Format::NdjsonZstd => {
            let mut lines = BufReader::new(zstd::stream::Decoder::new(payload)?).lines();
            let first = lines
                .next()
                .ok_or_else(|| OpError::msg("the record has no header line"))??;
            let header: Header = serde_json::from_str(&first)?;
            let mut n = 0u64;
            for line in lines {
                let e: Epoch = serde_json::from_str(&line?)?;
                check(&header, n as usize, e.t)?;
                n += 1;
            }
            Ok(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_and_the_same_seed_writes_the_same_record() {
        for name in FORMATS {
            let f: Format = name.parse().unwrap();
            let a = encode(f, "writer-0-1", 1_000, &mut stress_core::seed::rng(5)).unwrap();
            let b = encode(f, "writer-0-1", 1_000, &mut stress_core::seed::rng(5)).unwrap();
            assert_eq!(a, b, "{name}: seeded");
            assert_eq!(decode(f, &a).unwrap(), 1_000, "{name}");
            assert_eq!(
                decode(f, &encode(f, "s", 0, &mut stress_core::seed::rng(1)).unwrap()).unwrap(),
                0
            );
        }
        let json = encode(Format::Jsonb, "s", 2, &mut stress_core::seed::rng(5)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["epochs"][1]["t"], START + STEP_S);
        let zstd = encode(Format::NdjsonZstd, "s", 10_000, &mut stress_core::seed::rng(5)).unwrap();
        assert!(zstd.len() < json.len() * 10_000 / 4, "compressed: {} bytes", zstd.len());
    }

    #[test]
    fn damage_is_an_error() {
        let mut json = encode(Format::Jsonb, "s", 3, &mut stress_core::seed::rng(5)).unwrap();
        let text = String::from_utf8(json.clone())
            .unwrap()
            .replace("1700000060", "1700000061");
        json = text.into_bytes();
        let e = decode(Format::Jsonb, &json).unwrap_err().to_string();
        assert!(
            e.contains("epoch 1 has timestamp 1700000061, expected 1700000060"),
            "{e}"
        );
        assert!(decode(Format::Bson, b"nonsense").is_err());
        assert!(decode(Format::NdjsonZstd, b"nonsense").is_err());
        assert!("xml".parse::<Format>().is_err());
    }
}
