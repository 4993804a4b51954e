use stress_core::prelude::*;

#[stress_workload]
async fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
