use stress_core::prelude::*;

#[stress_workload(crate = "stress")]
fn orders() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
