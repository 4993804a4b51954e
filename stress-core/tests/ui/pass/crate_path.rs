// `crate = "..."` names the path to stress_core: here a re-export.
mod framework {
    pub use stress_core as stress;
}

use stress_core::prelude::*;

#[stress_workload(crate = "crate::framework::stress", seed = 1)]
fn orders() -> Workload<Bare> {
    Workload::new(Bare)
}

fn main() {
    let _workload: Workload<Bare> = orders();
}
