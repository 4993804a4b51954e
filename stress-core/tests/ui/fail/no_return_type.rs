use stress_core::prelude::*;

#[stress_workload]
fn bad() {
    let _ = Workload::new(Bare);
}

fn main() {}
