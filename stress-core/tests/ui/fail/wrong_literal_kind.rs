use stress_core::prelude::*;

#[stress_workload(seed = "42")]
fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
