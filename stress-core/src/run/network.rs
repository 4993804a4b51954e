//! The run's network proxy between the users and the engine, for the `net-*` faults: started
//! after the adapter, when the schedule has one, and stopped after it (with the job).

use std::sync::Arc;

use crate::Adapter;
use crate::netproxy::NetProxy;

/// Puts a proxy of the run's own between the adapter's connections and its TCP target, when
/// the schedule has a network fault (`wanted`), and hands it back; one line saying why not
/// otherwise.
pub(super) fn route<A: Adapter>(wanted: bool, adapter: &mut Arc<A>) -> Result<Option<Arc<NetProxy>>, String> {
    if !wanted {
        return Ok(None);
    }
    let adapter = Arc::get_mut(adapter)
        .ok_or_else(|| "the adapter is shared before the run: no proxy can be put in front of it".to_owned())?;
    let name = adapter.name();
    let target = adapter
        .tcp_target()
        .ok_or_else(|| format!("{name} has no TCP address to put the network proxy in front of"))?;
    let proxy = NetProxy::start(target).map_err(|e| format!("cannot start the network proxy to {target}: {e}"))?;
    adapter
        .route_through(proxy.addr())
        .map_err(|e| format!("{name} cannot route its connections through the network proxy: {e}"))?;
    Ok(Some(Arc::new(proxy)))
}
