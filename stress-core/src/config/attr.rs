//! The options of a `#[stress_workload(...)]` attribute, and the layer they make: made, like
//! the macro's parser, from the one table of options ([`stress_syntax::attr_options!`]).

use serde::{Deserialize, Serialize};
use stress_syntax::attr_kinds::AttrKind;

use super::ConfigLayer;

macro_rules! attr_options {
    ($($name:ident: $kind:ty = $example:literal $(=> listed as $key:literal)?, $set:expr;)*) => {
        /// The options written in a `#[stress_workload(...)]` attribute, checked at compile time.
        ///
        /// Each field is `None` where the attribute did not set it; the attribute layer sits above
        /// the built-in defaults and the workload's own code, and below `STRESS_*` variables and CLI
        /// flags.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct AttrOptions {
            $(
                #[doc = concat!("`", $example, "`.")]
                pub $name: Option<<$kind as AttrKind>::Attr>,
            )*
            /// `ignore`: skipped by a plain `cargo test`, run by `--ignored` (a workload that needs a
            /// server, say).
            pub ignore: bool,
        }

        impl AttrOptions {
            /// No option set.
            pub const DEFAULT: Self = Self {
                $($name: None,)*
                ignore: false,
            };

            /// The options as a listing shows them.
            pub fn listed(&self) -> ListedOptions {
                ListedOptions {
                    $($name: self.$name.map(<$kind as AttrKind>::listed),)*
                }
            }
        }

        impl ConfigLayer {
            /// The attribute's options as a layer.
            pub fn from_attr(a: &AttrOptions) -> Self {
                let mut layer = Self::default();
                $(
                    if let Some(value) = a.$name {
                        let set: fn(&mut ConfigLayer, <$kind as AttrKind>::Attr) = $set;
                        set(&mut layer, value);
                    }
                )*
                layer
            }
        }

        /// A workload's attribute options (`#[stress_workload(duration = "30s", …)]`), as its
        /// harness lists them (part of the [protocol](crate::protocol)).
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct ListedOptions {
            $(
                #[doc = concat!("`", $example, "`", $(" (as `", $key, "`)",)?  ".")]
                $(#[serde(rename = $key)])?
                pub $name: Option<<$kind as AttrKind>::Listed>,
            )*
        }
    };
}

stress_syntax::attr_options!(attr_options);

impl Default for AttrOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Every option of the table set, as the macro emits them.
    const ALL: AttrOptions = AttrOptions {
        duration: Some(Duration::from_secs(30)),
        users: Some(&[("inserter", 4), ("reader", 3)]),
        ops_per_user: Some(100),
        seed: Some(42),
        think_ms: Some((10, 200)),
        batch: Some((100, 10_000)),
        databases: Some(3),
        max_memory_mb: Some(4096),
        max_cpu_percent: Some(400),
        max_disk_mb: Some(1024),
        ignore: true,
    };

    #[test]
    fn every_option_of_the_table_reaches_the_layer_and_the_listing() {
        let layer = ConfigLayer::from_attr(&ALL);
        let want = ConfigLayer {
            duration: Some(Duration::from_secs(30)),
            users: vec![("inserter".into(), 4), ("reader".into(), 3)],
            ops_per_user: Some(100),
            seed: Some(42),
            think_min_ms: Some(10),
            think_max_ms: Some(200),
            batch_min: Some(100),
            batch_max: Some(10_000),
            databases: Some(3),
            max_memory_mb: Some(4096),
            max_cpu_percent: Some(400),
            max_disk_mb: Some(1024),
            ..ConfigLayer::default()
        };
        assert_eq!(layer, want);
        assert_eq!(ConfigLayer::from_attr(&AttrOptions::DEFAULT), ConfigLayer::default());
        // The listing's keys are the protocol's (`duration_ms` in ms), every option listed.
        let listed = serde_json::to_value(ALL.listed()).unwrap();
        assert_eq!(
            listed,
            serde_json::json!({
                "duration_ms": 30_000,
                "users": [["inserter", 4], ["reader", 3]],
                "ops_per_user": 100,
                "seed": 42,
                "think_ms": [10, 200],
                "batch": [100, 10_000],
                "databases": 3,
                "max_memory_mb": 4096,
                "max_cpu_percent": 400,
                "max_disk_mb": 1024,
            })
        );
        let back: ListedOptions = serde_json::from_value(listed).unwrap();
        assert_eq!(back, ALL.listed());
    }
}
