//! `cargo stress list`.

use crate::cli::{Format, ListArgs};
use crate::error::CliError;
use crate::shared::{declared, print_table, workloads};

pub(crate) fn list(args: &ListArgs) -> Result<(), CliError> {
    let (_, all) = workloads(&args.selection)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all).expect("serialisable")),
        Format::Human => {
            let rows: Vec<[String; 5]> = all
                .iter()
                .map(|w| {
                    let o = &w.info.options;
                    // Without a duration, an op limit runs until the ops are done.
                    let duration = match (o.duration, o.ops_per_user) {
                        (Some(ms), _) => format!("{}s", ms as f64 / 1000.0),
                        (None, Some(n)) => format!("{n} ops/user"),
                        (None, None) => "10s (default)".to_owned(),
                    };
                    // The code's user counts, with the attribute's laid over them.
                    let attr = o.users.as_deref().unwrap_or_default();
                    let users: Vec<String> = w
                        .info
                        .classes
                        .iter()
                        .map(|(class, n)| {
                            let n = attr.iter().find(|(c, _)| c == class).map_or(n, |(_, n)| n);
                            format!("{class}={n}")
                        })
                        .collect();
                    let ignore = if w.info.ignore { ", ignored by cargo test" } else { "" };
                    let params: Vec<String> = declared(w)
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.default))
                        .collect();
                    let params = if params.is_empty() {
                        String::new()
                    } else {
                        format!(", params {}", params.join(","))
                    };
                    [
                        w.name.clone(),
                        w.package.clone(),
                        format!("{} {}", w.kind, w.target),
                        w.info.adapter.clone(),
                        format!("{duration}, users {}{params}{ignore}", users.join(",")),
                    ]
                })
                .collect();
            print_table(&["WORKLOAD", "PACKAGE", "TARGET", "ADAPTER", "DEFAULTS"], &rows);
        }
    }
    Ok(())
}
