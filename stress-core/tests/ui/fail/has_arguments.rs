use stress_core::prelude::*;

#[stress_workload]
fn bad(users: usize) -> Workload<Bare> {
    let _ = users;
    Workload::new(Bare)
}

fn main() {}
