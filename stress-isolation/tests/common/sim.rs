//! A simulated strict-serializable list-append execution (shared by tests and the benchmark).
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;

use stress_isolation::{Mop, Outcome, ReadValue, Txn};

/// xorshift64*: deterministic and dependency-free.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` transactions of 4 to 6 micro-operations (half reads, half appends) by `processes` users,
/// each executed atomically at its own commit instant inside [invoke, complete], commit instants
/// in history order: so the history is strict-serializable. A key is live for `window` txns'
/// worth of draws among `keys` live keys, so each gets roughly `2.5 * window / keys`... appends.
pub fn serial_list_append(n: usize, processes: u32, keys: u64, step: u64, seed: u64) -> Vec<Txn> {
    let mut rng = Rng::new(seed);
    let mut lists: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut next_value: HashMap<u64, u64> = HashMap::new();
    let mut free_at = vec![0u64; processes as usize];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let commit = 10 * i as u64 + 1000;
        let process = (i as u32) % processes;
        let base = i as u64 / step;
        if (i as u64).is_multiple_of(step) && base > 0 {
            lists.remove(&(base - 1));
            next_value.remove(&(base - 1));
        }
        let mut mops = Vec::with_capacity(6);
        for _ in 0..4 + rng.below(3) {
            let key = base + rng.below(keys);
            if rng.below(2) == 0 {
                let list = lists.get(&key).cloned().unwrap_or_default();
                mops.push(Mop::Read {
                    key,
                    value: ReadValue::List(list),
                });
            } else {
                let v = next_value.entry(key).or_insert(0);
                *v += 1;
                lists.entry(key).or_default().push(*v);
                mops.push(Mop::Append { key, value: *v });
            }
        }
        let p = process as usize;
        let invoke = free_at[p].max(commit - rng.below(40));
        let complete = commit + rng.below(40);
        free_at[p] = complete + 1;
        out.push(Txn {
            process,
            invoke_us: invoke,
            complete_us: complete,
            outcome: Outcome::Ok,
            mops,
        });
    }
    out
}
