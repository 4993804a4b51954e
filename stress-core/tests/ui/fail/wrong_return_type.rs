use stress_core::prelude::*;

#[stress_workload]
fn bad() -> u32 {
    7
}

fn main() {}
