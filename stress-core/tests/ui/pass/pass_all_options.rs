use stress_core::prelude::*;

#[stress_workload(
    duration = "30s",
    users = "inserter=4,reader=3",
    ops_per_user = 100,
    seed = 42,
    think_ms = "10..200",
    batch = "100..10000",
    databases = 3,
    max_memory_mb = 4096,
    max_cpu_percent = 400,
    max_disk_mb = 1024,
    ignore,
    name = "orders::all_options",
)]
pub fn orders() -> Workload<Bare> {
    Workload::new(Bare)
}

// The attribute leaves the function callable as before.
fn main() {
    let _workload: Workload<Bare> = orders();
}
