use stress_core::prelude::*;

#[stress_workload]
fn bad<T>() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
