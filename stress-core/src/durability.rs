//! The acknowledged-write checker: beside the ledger's row counts, a workload can track each
//! write by key — invoked, then acknowledged (committed, and the engine said so), failed (the
//! engine said no) or indeterminate (the op failed in a way that leaves open whether the
//! commit happened: the connection died after it was sent). After the run the keys the engine
//! holds are read back and each write is classified, as Jepsen's set checker does:
//!
//! - *lost*: acknowledged, and missing — the engine broke its promise;
//! - *unexpected*: present, and never attempted, or refused by the engine;
//! - *recovered*: indeterminate, and present (an indeterminate write is never lost).
//!
//! A run with any lost or unexpected write fails. Keys are `(user, sequence)` packed into one
//! `i64` (the user's index in the run's plan in the high bits), and each user keeps two bits a
//! write: a million writes take 250 KB.

use serde::{Deserialize, Serialize};

/// Bits of a key that hold the write's sequence within its user.
const SEQ_BITS: u32 = 40;

/// How many keys of each kind the summary names.
pub const FIRST_KEYS: usize = 10;

/// The key of write `seq` of the user at `user` in the run's plan.
pub fn key(user: u32, seq: u64) -> i64 {
    (i64::from(user) << SEQ_BITS) | seq as i64
}

/// The user and sequence of a key; `None` for a key no user makes (negative, say).
pub fn parts(key: i64) -> Option<(u32, u64)> {
    if key < 0 {
        return None;
    }
    let user = u32::try_from(key >> SEQ_BITS).ok()?;
    Some((user, (key & ((1i64 << SEQ_BITS) - 1)) as u64))
}

/// What became of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WriteState {
    /// Begun; no outcome yet (its op is in flight).
    Invoked = 0,
    /// Committed and acknowledged.
    Ok = 1,
    /// The engine said no.
    Failed = 2,
    /// Unknown: the op failed after the commit may have been sent.
    Indeterminate = 3,
}

/// One user's writes, two bits each. In a sharded run on a shared engine the shards write
/// theirs into `ledger.json` (the bits in base64), and the verify step checks the merged ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteLog {
    user: u32,
    len: u64,
    #[serde(with = "base64_bytes")]
    bits: Vec<u8>,
}

/// Bytes as one base64 string.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

impl WriteLog {
    pub(crate) fn new(user: u32) -> Self {
        Self {
            user,
            len: 0,
            bits: Vec::new(),
        }
    }

    /// Begins a write: its key.
    pub(crate) fn begin(&mut self) -> i64 {
        let seq = self.len;
        if seq.is_multiple_of(4) {
            self.bits.push(0);
        }
        self.len += 1;
        key(self.user, seq)
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The index in the run's plan of the user whose writes these are.
    pub fn user(&self) -> u32 {
        self.user
    }

    pub(crate) fn state(&self, seq: u64) -> Option<WriteState> {
        if seq >= self.len {
            return None;
        }
        let b = (self.bits[(seq / 4) as usize] >> ((seq % 4) * 2)) & 3;
        Some(match b {
            0 => WriteState::Invoked,
            1 => WriteState::Ok,
            2 => WriteState::Failed,
            _ => WriteState::Indeterminate,
        })
    }

    fn set(&mut self, seq: u64, state: WriteState) {
        let byte = &mut self.bits[(seq / 4) as usize];
        let shift = (seq % 4) * 2;
        *byte = (*byte & !(3 << shift)) | ((state as u8) << shift);
    }

    /// Marks write `key` acknowledged, if it is one of this user's (`false` otherwise).
    pub(crate) fn acknowledge(&mut self, key: i64) -> bool {
        match parts(key) {
            Some((user, seq)) if user == self.user && seq < self.len => {
                self.set(seq, WriteState::Ok);
                true
            }
            _ => false,
        }
    }

    /// Gives every write from `from` on that has no outcome yet `state` (the end of an op: an
    /// op that returned without acknowledging a write did not make it).
    #[inline]
    pub(crate) fn settle(&mut self, from: u64, state: WriteState) {
        for seq in from..self.len {
            if self.state(seq) == Some(WriteState::Invoked) {
                self.set(seq, state);
            }
        }
    }
}

/// The checker's verdict: `summary.json`'s `durability`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durability {
    /// Writes the users began.
    pub writes: u64,
    /// Of which acknowledged.
    pub acknowledged: u64,
    /// Of which refused by the engine.
    pub failed: u64,
    /// Of which indeterminate.
    pub indeterminate: u64,
    /// Keys the engine held when read back.
    pub present: u64,
    /// Acknowledged and missing.
    pub lost: u64,
    /// Present, and never attempted or refused.
    pub unexpected: u64,
    /// Indeterminate and present.
    pub recovered: u64,
    /// The first lost keys (at most [`FIRST_KEYS`]), as `user-sequence` of the plan's users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_lost: Vec<String>,
    /// The first unexpected keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_unexpected: Vec<String>,
    /// Databases whose keys could not be read back (their writes stay unclassified).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Durability {
    /// Whether the engine kept every promise: nothing lost, nothing unexpected, every key read.
    pub fn held(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.errors.is_empty()
    }
}

impl Durability {
    /// Adds another check's counts (another database's, another shard's).
    pub fn add(&mut self, o: &Durability) {
        self.writes += o.writes;
        self.acknowledged += o.acknowledged;
        self.failed += o.failed;
        self.indeterminate += o.indeterminate;
        self.present += o.present;
        self.lost += o.lost;
        self.unexpected += o.unexpected;
        self.recovered += o.recovered;
        for (mine, theirs) in [
            (&mut self.first_lost, &o.first_lost),
            (&mut self.first_unexpected, &o.first_unexpected),
        ] {
            mine.extend(theirs.iter().cloned());
            mine.truncate(FIRST_KEYS);
        }
        self.errors.extend(o.errors.iter().cloned());
    }
}

/// `user-sequence` of a key, with the user's id where known.
fn name(key: i64, ids: &dyn Fn(u32) -> Option<String>) -> String {
    match parts(key) {
        Some((user, seq)) => match ids(user) {
            Some(id) => format!("{id}#{seq}"),
            None => format!("{key} (no user's)"),
        },
        None => format!("{key} (no user's)"),
    }
}

/// Classifies the writes of `logs` (one database's users) against the keys the engine holds
/// (`present`, in any order, each once). `ids` names a user index.
pub(crate) fn check(logs: &[&WriteLog], present: &[i64], ids: &dyn Fn(u32) -> Option<String>) -> Durability {
    let mut d = Durability::default();
    // Per user, a bit per write: present.
    let mut seen: std::collections::HashMap<u32, Vec<u64>> = logs
        .iter()
        .map(|l| (l.user, vec![0u64; l.len.div_ceil(64) as usize]))
        .collect();
    let by_user: std::collections::HashMap<u32, &WriteLog> = logs.iter().map(|l| (l.user, *l)).collect();
    for &k in present {
        d.present += 1;
        let state = parts(k).and_then(|(u, s)| Some((u, s, by_user.get(&u)?.state(s)?)));
        match state {
            Some((u, s, state)) => {
                if let Some(bits) = seen.get_mut(&u) {
                    bits[(s / 64) as usize] |= 1 << (s % 64);
                }
                if state == WriteState::Failed {
                    d.unexpected += 1;
                    if d.first_unexpected.len() < FIRST_KEYS {
                        d.first_unexpected
                            .push(format!("{} (refused, yet present)", name(k, ids)));
                    }
                }
            }
            None => {
                d.unexpected += 1;
                if d.first_unexpected.len() < FIRST_KEYS {
                    d.first_unexpected.push(format!("{} (never attempted)", name(k, ids)));
                }
            }
        }
    }
    for log in logs {
        let bits = &seen[&log.user];
        for seq in 0..log.len {
            let here = bits[(seq / 64) as usize] & (1 << (seq % 64)) != 0;
            d.writes += 1;
            match log.state(seq) {
                Some(WriteState::Ok) => {
                    d.acknowledged += 1;
                    if !here {
                        d.lost += 1;
                        if d.first_lost.len() < FIRST_KEYS {
                            d.first_lost.push(name(key(log.user, seq), ids));
                        }
                    }
                }
                Some(WriteState::Failed) => d.failed += 1,
                // A write whose op never returned is as open as one whose connection died.
                Some(WriteState::Indeterminate | WriteState::Invoked) | None => {
                    d.indeterminate += 1;
                    d.recovered += u64::from(here);
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_log_survives_json_as_ledger_json_holds_it() {
        let mut log = WriteLog::new(5);
        for i in 0..11 {
            let k = log.begin();
            if i % 3 == 0 {
                log.acknowledge(k);
            }
        }
        log.settle(9, WriteState::Indeterminate);
        let json = serde_json::to_string(&log).unwrap();
        assert!(json.contains(r#""bits":""#), "the bits as one base64 string: {json}");
        let back: WriteLog = serde_json::from_str(&json).unwrap();
        assert_eq!(back, log);
        assert_eq!(back.user(), 5);
        assert_eq!(back.state(9), Some(WriteState::Ok));
        assert_eq!(back.state(10), Some(WriteState::Indeterminate));
        assert!(serde_json::from_str::<WriteLog>(r#"{"user":1,"len":1,"bits":"%%"}"#).is_err());
    }

    #[test]
    fn keys_pack_user_and_sequence() {
        assert_eq!(parts(key(3, 17)), Some((3, 17)));
        assert_eq!(
            parts(key(u32::MAX >> 9, (1 << 40) - 1)),
            Some((u32::MAX >> 9, (1 << 40) - 1))
        );
        assert_eq!(parts(-5), None);
        assert_ne!(key(1, 0), key(0, 1));
    }

    #[test]
    fn every_write_is_classified_and_memory_is_two_bits_a_write() {
        let mut a = WriteLog::new(0);
        let mut b = WriteLog::new(1);
        // a: 0 acknowledged and present, 1 acknowledged and missing (lost), 2-4 refused and
        // missing, 5 refused and present (unexpected), 6 indeterminate and present (recovered)
        let k: Vec<i64> = (0..6).map(|_| a.begin()).collect();
        a.acknowledge(k[0]);
        a.acknowledge(k[1]);
        a.settle(2, WriteState::Failed);
        let k3 = a.begin();
        a.settle(6, WriteState::Indeterminate);
        assert_eq!(a.state(6), Some(WriteState::Indeterminate));
        assert_eq!(a.state(2), Some(WriteState::Failed));
        assert!(!a.acknowledge(key(1, 0)), "not this user's");
        let kb = b.begin();
        b.acknowledge(kb);
        let present = [k[0], k[5], k3, kb, key(7, 3)];
        let ids = |u: u32| (u < 2).then(|| format!("w-{u}"));
        let d = check(&[&a, &b], &present, &ids);
        assert_eq!(
            (d.writes, d.acknowledged, d.failed, d.indeterminate, d.present),
            (8, 3, 4, 1, 5)
        );
        assert_eq!((d.lost, d.unexpected, d.recovered), (1, 2, 1));
        assert_eq!(d.first_lost, ["w-0#1"]);
        assert_eq!(
            d.first_unexpected,
            [
                "w-0#5 (refused, yet present)",
                format!("{} (no user's) (never attempted)", key(7, 3)).as_str()
            ]
        );
        let mut big = WriteLog::new(2);
        for _ in 0..1_000_000 {
            big.begin();
        }
        assert_eq!(big.bits.len(), 250_000, "two bits a write");
    }
}
