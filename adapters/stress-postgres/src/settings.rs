//! `STRESS_PG_SETTINGS=name=value,…`: server settings for a managed PostgreSQL from the
//! environment, as [`crate::Postgres::setting`] gives them in code (and after them: the
//! environment wins). `fsync=off` is the power-loss tests' positive control.

use std::path::Path;
use std::process::Command;

/// The variable.
pub(crate) const VAR: &str = "STRESS_PG_SETTINGS";

/// Reads `name=value,…`; one line naming the variable, the bad part and the form otherwise.
pub(crate) fn parse(v: &str) -> Result<Vec<(String, String)>, String> {
    let form = "give name=value pairs separated by commas, like fsync=off,synchronous_commit=on";
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("{VAR}: `{part}` has no `=`: {form}"));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(format!("{VAR}: `{name}` is not a setting's name: {form}"));
        }
        if value.is_empty() {
            return Err(format!("{VAR}: `{name}` has no value: {form}"));
        }
        out.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    Ok(out)
}

/// The settings in the environment (none if unset).
pub(crate) fn from_env() -> Result<Vec<(String, String)>, String> {
    match std::env::var(VAR) {
        Ok(v) => parse(&v),
        Err(_) => Ok(Vec::new()),
    }
}

/// Whether the server knows each setting, and each boolean's value is a boolean: asked of the
/// server itself (`postgres --describe-config`) before anything starts. A value of another
/// type the server refuses at start, naming the setting.
pub(crate) fn check_known(settings: &[(String, String)], bindir: Option<&Path>) -> Result<(), String> {
    if settings.is_empty() {
        return Ok(());
    }
    let bindir = crate::server::find_bindir(bindir).map_err(|e| format!("{VAR}: {e}"))?;
    let out = Command::new(bindir.join("postgres"))
        .arg("--describe-config")
        .output()
        .map_err(|e| {
            format!(
                "{VAR}: cannot ask {} for its settings: {e}",
                bindir.join("postgres").display()
            )
        })?;
    let described = String::from_utf8_lossy(&out.stdout);
    for (name, value) in settings {
        // Columns: name, context, group, type, …
        let Some(row) = described.lines().find(|l| l.split('\t').next() == Some(name.as_str())) else {
            // Settings of extensions (`auto_explain.log_min_duration`) are not listed.
            if name.contains('.') {
                continue;
            }
            return Err(format!(
                "{VAR}: PostgreSQL has no setting `{name}`: name one `postgres --describe-config` lists"
            ));
        };
        let boolean = ["on", "off", "true", "false", "yes", "no", "1", "0"];
        if row.split('\t').nth(3) == Some("BOOLEAN") && !boolean.contains(&value.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{VAR}: `{name}={value}` is not a boolean: give {name}=on or {name}=off"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_read_and_bad_ones_are_named() {
        assert_eq!(
            parse("fsync=off, synchronous_commit = on,").unwrap(),
            [
                ("fsync".to_owned(), "off".to_owned()),
                ("synchronous_commit".to_owned(), "on".to_owned())
            ]
        );
        for (bad, names) in [
            ("fsync", "`fsync` has no `=`"),
            ("fsync=", "no value"),
            ("a b=1", "`a b`"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with(VAR) && e.contains(names), "{e}");
        }
    }
}
