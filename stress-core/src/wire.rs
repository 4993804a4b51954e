//! The protocol's channel, at the bottom of the crate: the version every message carries and
//! the one line each message takes. What the messages are is [`crate::protocol`]'s; this
//! module only frames them, so that the modules that write them (the console's event lines,
//! the settings' hand-over) need nothing above them.

use serde::{Deserialize, Serialize};

/// The version of the harness protocol this build speaks: on every message of it (the
/// listing, the hand-over, each event, the outcome). Bump it with any change a reader of the
/// previous version would get wrong.
pub const PROTOCOL_VERSION: u32 = 2;

/// What starts each line a harness writes to `cargo stress` on its stderr, the protocol's one
/// channel back: events as they happen, then the outcome. Every other line is for people.
pub const MESSAGE_PREFIX: &str = "stress-protocol: ";

/// A message with the version of the protocol it is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    /// [`PROTOCOL_VERSION`] of the side that wrote it.
    pub protocol_version: u32,
    /// The message.
    #[serde(flatten)]
    pub body: T,
}

impl<T> Versioned<T> {
    /// `body` in this build's version.
    pub fn new(body: T) -> Self {
        Self {
            protocol_version: PROTOCOL_VERSION,
            body,
        }
    }
}

/// `body`, versioned, as a line of the channel: [`MESSAGE_PREFIX`] and its JSON.
pub(crate) fn line<T: Serialize>(body: &T) -> String {
    let json = serde_json::to_string(&Versioned::new(body)).expect("protocol messages serialise");
    format!("{MESSAGE_PREFIX}{json}")
}

/// Another version than ours, read off a message (each reader words it for its side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionMismatch {
    /// The version the message carries (0: none, the form before versions).
    pub theirs: u64,
}

/// The version a message's JSON carries (0 when it carries none), checked against ours.
pub(crate) fn check_version(json: &serde_json::Value) -> Result<(), VersionMismatch> {
    let theirs = json
        .get("protocol_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if theirs == u64::from(PROTOCOL_VERSION) {
        Ok(())
    } else {
        Err(VersionMismatch { theirs })
    }
}
