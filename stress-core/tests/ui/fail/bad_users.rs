use stress_core::prelude::*;

#[stress_workload(users = "inserter=4,reader")]
fn bad() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {}
