use stress_core::prelude::*;

#[stress_workload(duration = "3x")]
fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
