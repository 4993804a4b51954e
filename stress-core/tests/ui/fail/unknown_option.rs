use stress_core::prelude::*;

#[stress_workload(durration = "30s")]
fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
