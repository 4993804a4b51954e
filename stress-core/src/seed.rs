//! One seed, many streams: every random choice of a run comes from an RNG derived from the
//! global seed and a stable identity (a user's class and index, a database's index, a purpose),
//! never from thread scheduling or the clock.

use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// The RNG every user, setup step and database gets: ChaCha8 from `rand_chacha`, seeded with
/// `seed_from_u64`. Its stream position (`get_word_pos`) feeds each user's `op_digest`.
pub type StressRng = rand_chacha::ChaCha8Rng;

/// The name of [`StressRng`] and how it is seeded, as written into `replay.json`.
pub const RNG_NAME: &str = "rand_chacha 0.9 ChaCha8Rng::seed_from_u64";

/// Builds the RNG for a derived seed.
pub fn rng(seed: u64) -> StressRng {
    StressRng::seed_from_u64(seed)
}

/// Derives the seed of one stream from a parent seed, a purpose (`"user"`, `"database"`,
/// `"think"`, …) and an identity within that purpose (`"inserter-0"`, `"2"`).
///
/// The derivation is fixed forever: a `replay.json` written by any version must mean the same
/// streams. It hashes purpose and identity with 64-bit FNV-1a and mixes the result with the
/// parent through SplitMix64's finaliser.
pub fn derive(parent: u64, purpose: &str, identity: &str) -> u64 {
    let mut h = Fnv64::new();
    h.write(purpose.as_bytes());
    h.write(&[0xff]);
    h.write(identity.as_bytes());
    splitmix64(splitmix64(parent) ^ h.finish())
}

/// A fresh random global seed for a run that was given none (printed and recorded, so the run
/// can still be replayed).
pub fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // RandomState is seeded from the OS per process: enough entropy for a seed that is recorded.
    splitmix64(RandomState::new().hash_one(t) ^ t)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 64-bit FNV-1a: small, stable across platforms and versions (unlike `std`'s hashers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Fnv64 {
    pub(crate) const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    #[inline]
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    pub(crate) const fn finish(self) -> u64 {
        self.0
    }

    /// The same as writing `n` zero bytes (at most 16): a zero byte leaves the xor as it was,
    /// so `n` of them are one multiplication by the prime's `n`th power.
    #[inline]
    fn write_zeros(&mut self, n: usize) {
        self.0 = self.0.wrapping_mul(FNV_PRIME_POWERS[n]);
    }
}

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// `FNV_PRIME.pow(n)` (wrapping) for n = 0..=16.
const FNV_PRIME_POWERS: [u64; 17] = {
    let mut p = [1u64; 17];
    let mut n = 1;
    while n < 17 {
        p[n] = p[n - 1].wrapping_mul(FNV_PRIME);
        n += 1;
    }
    p
};

/// The seeds of one run: derived from the global seed, or read back from a `replay.json`
/// (never re-derived on replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedPlan {
    /// The global seed.
    pub seed: u64,
    /// One entry per user, in run order.
    pub users: Vec<UserSeed>,
    /// One entry per database.
    pub databases: Vec<DatabaseSeed>,
}

/// A user's identity and seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSeed {
    /// `class-index`, e.g. `inserter-0`.
    pub id: String,
    /// The user's class.
    pub class: String,
    /// The seed of the user's RNG (ops and their arguments); its think-time RNG is derived from it.
    pub seed: u64,
    /// The database the user works on.
    pub db: usize,
}

/// A database's index and the seed of its setup step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSeed {
    /// The database's index, from 0.
    pub index: usize,
    /// The seed of the setup step's RNG for this database.
    pub schema_seed: u64,
}

impl SeedPlan {
    /// Derives every seed from `seed` for the given classes (name, user count) and databases.
    /// A user's identity is its class and index within the class, so changing one class's user
    /// count leaves every other user's stream unchanged.
    pub fn derive(seed: u64, classes: &[(&str, usize)], databases: usize) -> Self {
        let databases = databases.max(1);
        let mut users = Vec::new();
        for &(class, count) in classes {
            for index in 0..count {
                let id = format!("{class}-{index}");
                users.push(UserSeed {
                    seed: derive(seed, "user", &id),
                    id,
                    class: class.to_owned(),
                    db: index % databases,
                });
            }
        }
        let databases = (0..databases)
            .map(|index| DatabaseSeed {
                index,
                schema_seed: derive(seed, "database", &index.to_string()),
            })
            .collect();
        Self { seed, users, databases }
    }
}

/// A user's `op_digest`: a hash over the user's seed, then the sequence of (op name, RNG stream
/// position after the op). Two runs that executed the same ops with the same random arguments
/// from the same seed have equal digests; users of another seed never do, even when their ops
/// draw the same number of values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpDigest(Fnv64);

impl OpDigest {
    /// The digest of a user with `seed` that ran no op yet.
    pub(crate) fn new(seed: u64) -> Self {
        let mut h = Fnv64::new();
        h.write(&seed.to_le_bytes());
        Self(h)
    }

    /// Hashes the op's name, a zero byte, and the position's 16 little-endian bytes — the
    /// position's high bytes, zero in any run shorter than 2^56 RNG words, hashed as one
    /// multiplication (the digest is the byte-by-byte one: it is in every replay.json). This
    /// runs once per op.
    #[inline]
    pub(crate) fn push(&mut self, op: &str, word_pos: u128) {
        self.0.write(op.as_bytes());
        self.0.write_zeros(1);
        match u64::try_from(word_pos) {
            // Any run shorter than 2^64 RNG words: the low 8 bytes, shifted out of a register.
            Ok(low) => {
                let used = 8 - (low.leading_zeros() / 8) as usize;
                let (mut h, mut v) = (self.0.0, low);
                for _ in 0..used {
                    h = (h ^ (v & 0xff)).wrapping_mul(FNV_PRIME);
                    v >>= 8;
                }
                self.0.0 = h;
                self.0.write_zeros(16 - used);
            }
            Err(_) => {
                let used = 16 - (word_pos.leading_zeros() / 8) as usize;
                self.0.write(&word_pos.to_le_bytes()[..used]);
                self.0.write_zeros(16 - used);
            }
        }
    }

    pub(crate) fn hex(&self) -> String {
        format!("{:016x}", self.0.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// These values are part of the replay format: if this test fails, old `replay.json` files
    /// no longer mean what they said. Never update them; change the derivation's name instead.
    #[test]
    fn derivation_is_stable_forever() {
        assert_eq!(derive(42, "user", "inserter-0"), 0x78f0_d750_dc1c_3528);
        assert_eq!(derive(42, "database", "0"), 0x41da_ab18_883f_9268);
        assert_eq!(derive(0, "", ""), 0x70be_c4a1_465b_8266);
        let mut r = rng(7);
        assert_eq!(r.random::<u64>(), 0x2865_5334_23d7_43bb);
    }

    /// The digest hashes every byte of (name, 0, 16 bytes of position), whatever shortcut it
    /// takes through zero bytes.
    #[test]
    fn the_op_digest_is_the_byte_by_byte_hash() {
        let mut r = rng(3);
        let mut fast = OpDigest::new(42);
        let mut slow = Fnv64::new();
        slow.write(&42u64.to_le_bytes());
        let mut positions = vec![0u128, 1, 255, 256, u128::from(u64::MAX), u128::MAX, 1 << 120];
        positions.extend((0..200).map(|i| r.random::<u128>() >> (i % 128)));
        for (i, pos) in positions.into_iter().enumerate() {
            let name = ["select", "", "insert-ü", "x"][i % 4];
            fast.push(name, pos);
            slow.write(name.as_bytes());
            slow.write(&[0]);
            slow.write(&pos.to_le_bytes());
            assert_eq!(fast.0.finish(), slow.finish(), "after {name} at {pos}");
        }
    }

    /// The building blocks match their published reference values.
    #[test]
    fn building_blocks_match_their_references() {
        // SplitMix64 seeded with 0: first output of the reference implementation.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        // FNV-1a 64 test vectors.
        let fnv = |b: &[u8]| {
            let mut h = Fnv64::new();
            h.write(b);
            h.finish()
        };
        assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn streams_differ_by_every_part_of_the_identity() {
        let base = derive(42, "user", "inserter-0");
        assert_ne!(base, derive(43, "user", "inserter-0"));
        assert_ne!(base, derive(42, "database", "inserter-0"));
        assert_ne!(base, derive(42, "user", "inserter-1"));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(derive(1, "ab", "c"), derive(1, "a", "bc"));
    }

    #[test]
    fn plan_is_stable_per_class_when_other_classes_change() {
        let a = SeedPlan::derive(9, &[("inserter", 2), ("reader", 3)], 2);
        let b = SeedPlan::derive(9, &[("inserter", 5), ("reader", 3)], 2);
        let readers = |p: &SeedPlan| {
            p.users
                .iter()
                .filter(|u| u.class == "reader")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(readers(&a), readers(&b));
        assert_eq!(a.users.len(), 5);
        assert_eq!(a.users[1].id, "inserter-1");
        assert_eq!(a.users[1].db, 1);
        assert_eq!(a.users[2].db, 0);
        assert_eq!(a.databases.len(), 2);
        assert_ne!(a.databases[0].schema_seed, a.databases[1].schema_seed);
    }

    #[test]
    fn digest_tracks_seeds_names_and_positions() {
        let mut a = OpDigest::new(1);
        a.push("select", 16);
        let mut b = OpDigest::new(1);
        b.push("select", 17);
        let mut c = OpDigest::new(1);
        c.push("insert", 16);
        // Another user of the same class, drawing as many values: another seed, another digest.
        let mut d = OpDigest::new(2);
        d.push("select", 16);
        assert_ne!(a.hex(), b.hex());
        assert_ne!(a.hex(), c.hex());
        assert_ne!(a.hex(), d.hex());
        assert_ne!(OpDigest::new(1).hex(), OpDigest::new(2).hex());
        assert_eq!(a.hex().len(), 16);
    }
}
