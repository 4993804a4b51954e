//! A panic inside an op is that op's error, not the end of the run: the message and location
//! are captured quietly (the default hook would print every one of them) and recorded.

use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    static IN_OP: Cell<bool> = const { Cell::new(false) };
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook once per process. Outside ops, panics go to the previous hook as usual.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_OP.with(Cell::get) {
                let location = info
                    .location()
                    .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
                LAST.with(|m| *m.borrow_mut() = Some(format!("panicked: {}{location}", payload_text(info.payload()))));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into `Err(message)`.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    IN_OP.with(|c| c.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_OP.with(|c| c.set(false));
    r.map_err(|payload| {
        LAST.with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| format!("panicked: {}", payload_text(&*payload)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_message_with_its_location() {
        install_hook();
        let r: Result<(), String> = catch(|| panic!("boom {}", 7));
        let msg = r.unwrap_err();
        assert!(msg.starts_with("panicked: boom 7 at "), "{msg}");
        assert!(msg.contains("panic.rs"), "{msg}");
        assert_eq!(catch(|| 5), Ok(5));
    }
}
