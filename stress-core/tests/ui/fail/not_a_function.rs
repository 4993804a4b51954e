use stress_core::prelude::*;

#[stress_workload]
struct NotAWorkload;

fn main() {}
