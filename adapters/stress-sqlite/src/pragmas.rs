//! `STRESS_SQLITE_PRAGMAS=name=value,…`: `PRAGMA`s every connection runs after the adapter's
//! own `synchronous` (so `synchronous=OFF` here wins: the power-loss tests' positive control).
//! Checked before anything starts against an in-memory SQLite: a name SQLite does not know, or
//! a value it does not take, is refused naming the pragma.

/// The variable.
pub(crate) const VAR: &str = "STRESS_SQLITE_PRAGMAS";

/// Reads `name=value,…`; one line naming the variable, the bad part and the form otherwise.
pub(crate) fn parse(v: &str) -> Result<Vec<(String, String)>, String> {
    let form = "give name=value pairs separated by commas, like synchronous=FULL,cache_size=-8000";
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err(format!("{VAR}: `{part}` has no `=`: {form}"));
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("{VAR}: `{name}` is not a pragma's name: {form}"));
        }
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!(
                "{VAR}: `{name}={value}` is not a value SQLite takes here: {form}"
            ));
        }
        let conn = rusqlite::Connection::open_in_memory().map_err(|e| format!("{VAR}: cannot open SQLite: {e}"))?;
        let known: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM pragma_pragma_list WHERE name = ?1",
                [&name],
                |r| r.get(0),
            )
            .map_err(|e| format!("{VAR}: cannot ask SQLite for its pragmas: {e}"))?;
        if !known {
            return Err(format!("{VAR}: SQLite has no pragma `{name}`"));
        }
        apply(&conn, &name, value)?;
        out.push((name, value.to_owned()));
    }
    Ok(out)
}

/// The pragmas in the environment (none if unset).
pub(crate) fn from_env() -> Result<Vec<(String, String)>, String> {
    match std::env::var(VAR) {
        Ok(v) => parse(&v),
        Err(_) => Ok(Vec::new()),
    }
}

/// Runs `PRAGMA name = value` on `conn`; for `synchronous`, checks that SQLite took the level
/// (it takes an unknown word silently, as NORMAL... or not at all).
pub(crate) fn apply(conn: &rusqlite::Connection, name: &str, value: &str) -> Result<(), String> {
    conn.pragma_update(None, name, value)
        .map_err(|e| format!("PRAGMA {name} = {value}: {e}"))?;
    if name == "synchronous" {
        let levels = ["off", "normal", "full", "extra"];
        let want = levels
            .iter()
            .position(|l| l.eq_ignore_ascii_case(value))
            .or_else(|| value.parse::<usize>().ok().filter(|n| *n < levels.len()))
            .ok_or_else(|| format!("{VAR}: `synchronous={value}` is not a level: give OFF, NORMAL, FULL or EXTRA"))?;
        let got: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(|e| format!("PRAGMA synchronous: {e}"))?;
        if got != want as i64 {
            return Err(format!("SQLite did not take synchronous = {value} (it is {got})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pragmas_read_and_bad_ones_are_named() {
        assert_eq!(
            parse("synchronous=OFF, cache_size=-8000").unwrap(),
            [
                ("synchronous".to_owned(), "OFF".to_owned()),
                ("cache_size".to_owned(), "-8000".to_owned())
            ]
        );
        for (bad, names) in [
            ("synchronous", "has no `=`"),
            ("synchronus=OFF", "no pragma `synchronus`"),
            ("synchronous=SOMETIMES", "`synchronous=SOMETIMES` is not a level"),
            ("synchronous=OFF;DROP", "not a value"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.starts_with(VAR) && e.contains(names), "{e}");
        }
    }
}
