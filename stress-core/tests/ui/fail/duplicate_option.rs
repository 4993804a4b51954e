use stress_core::prelude::*;

#[stress_workload(duration = "30s", seed = 1, duration = "1m")]
fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
