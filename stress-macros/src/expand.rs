//! The expansion of `#[stress_workload]`: the function, unchanged, and its registry entry.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{Item, ReturnType, Signature};

use crate::options::Options;

const NOT_A_FUNCTION: &str =
    "#[stress_workload] goes on a function that returns a workload, like `fn orders() -> Workload<Sqlite>`";

const NO_ARGUMENTS: &str = "a workload function takes no arguments: move them into the workload's setup or ops";

/// Expands `#[stress_workload(attr)] item` into `item` followed by an
/// `inventory::submit!` of a `stress_core::__private::WorkloadEntry`, where `stress_core` is
/// `::stress_core` or the path of the `crate` option.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => return Err(syn::Error::new_spanned(other, NOT_A_FUNCTION)),
        Err(error) => return Err(syn::Error::new(error.span(), NOT_A_FUNCTION)),
    };
    let return_type = check_signature(&function.sig)?;
    let options = Options::parse(attr)?;

    let ident = &function.sig.ident;
    let name = options.name.clone().unwrap_or_else(|| ident.unraw().to_string());
    let fields = options.fields();
    let krate = options.crate_path(Span::call_site());
    let private = quote!(#krate::__private);
    // Spanned at the return type, the default path to stress_core included: a function that
    // returns something other than a `Workload<A: Adapter>` gets its type error there.
    let mut callee = ident.clone();
    callee.set_span(return_type);
    let krate = options.crate_path(return_type);
    let build = quote_spanned!(return_type=> #krate::__private::erase(#callee()));

    Ok(quote! {
        #item
        #private::inventory::submit! {
            #private::WorkloadEntry {
                name: #name,
                module_path: ::core::module_path!(),
                file: ::core::file!(),
                line: ::core::line!(),
                options: #private::AttrOptions {
                    #fields
                    ..#private::AttrOptions::DEFAULT
                },
                build: || #build,
            }
        }
    })
}

/// Checks that the registry can call the function as `fn() -> Workload<_>`; returns the span
/// of its return type.
fn check_signature(sig: &Signature) -> syn::Result<Span> {
    let error = |message: &str| Err(syn::Error::new_spanned(sig, message));
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(variadic, NO_ARGUMENTS));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(&sig.inputs, NO_ARGUMENTS));
    }
    if !sig.generics.params.is_empty() {
        return error(
            "a workload function cannot be generic: write one function per adapter, like `fn orders() -> Workload<Sqlite>`",
        );
    }
    if sig.asyncness.is_some() {
        return error(
            "a workload function cannot be `async`: it only builds the workload, which the runner then drives",
        );
    }
    if sig.constness.is_some() {
        return error("a workload function cannot be `const`: the registry calls it at run time; remove `const`");
    }
    if sig.unsafety.is_some() {
        return error(
            "a workload function cannot be `unsafe`: the registry calls it as a safe function; put the unsafe code in an `unsafe` block inside it",
        );
    }
    if sig.abi.is_some() {
        return error(
            "a workload function cannot be `extern`: the registry calls it as a plain Rust function; remove the ABI",
        );
    }
    match &sig.output {
        ReturnType::Type(_, ty) => Ok(ty.span()),
        ReturnType::Default => {
            error("a workload function returns its workload: add the return type, like `-> Workload<Sqlite>`")
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::PathBuf;
    use std::time::Duration;

    use proc_macro2::{Delimiter, Spacing, TokenTree};

    use super::*;
    use crate::options::CratePath;

    /// Expands source text, as the compiler would hand it over.
    fn expand_str(attr: &str, item: &str) -> syn::Result<TokenStream> {
        expand(attr.parse().unwrap(), item.parse().unwrap())
    }

    /// The message of the error, and the source text its span covers.
    fn error(attr: &str, item: &str) -> (String, String) {
        let error = expand_str(attr, item).expect_err("expansion succeeded");
        let text = error.span().source_text().unwrap_or_default();
        (error.to_string(), text)
    }

    fn options(attr: &str) -> Options {
        Options::parse(attr.parse().unwrap()).unwrap()
    }

    fn option_error(attr: &str) -> (String, String) {
        error(attr, "fn orders() -> Workload<Bare> { todo() }")
    }

    // --- options ---

    #[test]
    fn no_options() {
        assert_eq!(options(""), Options::default());
    }

    #[test]
    fn all_options() {
        let parsed = options(
            r#"duration = "30s", users = "inserter=4,reader=3", ops_per_user = 100, seed = 42,
               think_ms = "10..200", batch = "100..10000", databases = 3,
               max_memory_mb = 4096, max_cpu_percent = 400, max_disk_mb = 1024,
               ignore, name = "custom_name", crate = "::my_framework::stress_core","#,
        );
        assert_eq!(
            parsed,
            Options {
                duration: Some(Duration::from_secs(30)),
                users: Some(vec![("inserter".into(), 4), ("reader".into(), 3)]),
                ops_per_user: Some(100),
                seed: Some(42),
                think_ms: Some((10, 200)),
                batch: Some((100, 10_000)),
                databases: Some(3),
                max_memory_mb: Some(4096),
                max_cpu_percent: Some(400),
                max_disk_mb: Some(1024),
                ignore: Some(true),
                name: Some("custom_name".into()),
                krate: Some(CratePath(syn::parse_quote!(::my_framework::stress_core))),
            }
        );
    }

    #[test]
    fn ignore_forms() {
        assert_eq!(options("ignore").ignore, Some(true));
        assert_eq!(options("ignore = true").ignore, Some(true));
        assert_eq!(options("ignore = false").ignore, Some(false));
        assert_eq!(options("ignore, seed = 1").ignore, Some(true));
    }

    #[test]
    fn value_forms() {
        assert_eq!(options("seed = 0").seed, Some(0));
        assert_eq!(options("seed = 0x2a").seed, Some(42));
        assert_eq!(options("seed = 1_000u64").seed, Some(1000));
        assert_eq!(options(&format!("seed = {}", u64::MAX)).seed, Some(u64::MAX));
        assert_eq!(
            options(r#"duration = "250ms""#).duration,
            Some(Duration::from_millis(250))
        );
        assert_eq!(options(r#"duration = "90""#).duration, Some(Duration::from_secs(90)));
        assert_eq!(options(r#"think_ms = "0..0""#).think_ms, Some((0, 0)));
        assert_eq!(options(r#"batch = "1""#).batch, Some((1, 1)));
        assert_eq!(options(r#"users = "reader=0""#).users, Some(vec![("reader".into(), 0)]));
        assert_eq!(options(r#"name = "a::b.c-d_1""#).name.as_deref(), Some("a::b.c-d_1"));
        for path in [
            "stress",
            "::stress",
            "crate::reexports::stress_core",
            "self::stress_core",
        ] {
            let krate = options(&format!("crate = {path:?}")).krate;
            assert_eq!(krate.map(|k| k.to_string()).as_deref(), Some(path));
        }
    }

    #[test]
    fn unknown_option() {
        let expected = "unknown option `durration`: expected one of `duration`, `users`, \
                        `ops_per_user`, `seed`, `think_ms`, `batch`, `databases`, \
                        `max_memory_mb`, `max_cpu_percent`, `max_disk_mb`, `ignore`, `name`, \
                        `crate`";
        assert_eq!(
            option_error(r#"seed = 1, durration = "30s""#),
            (expected.into(), "durration".into())
        );
        let (message, span) = option_error("a::seed = 1");
        assert!(message.starts_with("unknown option `a::seed`: expected one of `duration`"));
        assert_eq!(span, "a::seed");
    }

    #[test]
    fn duplicate_option() {
        let attr = r#"duration = "30s", seed = 1, duration = "1m""#;
        assert_eq!(
            option_error(attr),
            ("option `duration` is given twice".into(), "duration".into())
        );
        // On the second occurrence.
        let error = expand_str(attr, "fn orders() -> W { todo() }").unwrap_err();
        assert_eq!(error.span().start().column, 28);
        assert_eq!(
            option_error("ignore, ignore = false").0,
            "option `ignore` is given twice"
        );
        assert_eq!(
            option_error(r#"crate = "a", crate = "b""#).0,
            "option `crate` is given twice"
        );
    }

    #[test]
    fn wrong_literal_kind() {
        let cases = [
            (
                "duration = 30",
                "`duration` takes a string, like `duration = \"30s\"`",
                "30",
            ),
            (
                "seed = \"42\"",
                "`seed` takes a whole number, like `seed = 42`",
                "\"42\"",
            ),
            ("seed = -1", "`seed` takes a whole number, like `seed = 42`", "-1"),
            ("seed = SEED", "`seed` takes a whole number, like `seed = 42`", "SEED"),
            (
                "databases = 1.5",
                "`databases` takes a whole number, like `databases = 3`",
                "1.5",
            ),
            (
                "users = true",
                "`users` takes a string, like `users = \"inserter=4,reader=3\"`",
                "true",
            ),
            (
                "ignore = \"yes\"",
                "`ignore` takes `true` or `false`, like `ignore = true`",
                "\"yes\"",
            ),
            (
                "name = orders",
                "`name` takes a string, like `name = \"orders\"`",
                "orders",
            ),
            (
                "crate = stress",
                "`crate` takes a string, like `crate = \"stress\"`",
                "stress",
            ),
            (
                "crate = ::stress_core",
                "`crate` takes a string, like `crate = \"stress\"`",
                "::stress_core",
            ),
        ];
        for (attr, message, span) in cases {
            assert_eq!(option_error(attr), (message.into(), span.into()), "{attr}");
        }
    }

    #[test]
    fn malformed_arguments_are_syn_errors_at_the_token() {
        // syn's own messages; only where they point is ours to check.
        let cases = [
            (r#""30s""#, r#""30s""#),
            (r#"duration = "30s" seed = 1"#, "seed"),
            ("seed = 1,, ignore", ","),
        ];
        for (attr, span) in cases {
            assert_eq!(option_error(attr).1, span, "{attr}");
        }
    }

    #[test]
    fn missing_value() {
        assert_eq!(
            option_error("seed, ignore"),
            ("option `seed` needs a value, like `seed = 42`".into(), "seed".into())
        );
        assert_eq!(
            option_error("duration(30)").0,
            "option `duration` needs a value, like `duration = \"30s\"`"
        );
        assert_eq!(
            option_error("ignore(true)"),
            (
                "`ignore` stands alone or takes `true` or `false`, like `ignore` or `ignore = false`".into(),
                "ignore".into()
            )
        );
    }

    #[test]
    fn bad_values() {
        let cases = [
            (
                r#"duration = "3x""#,
                "invalid `duration`: `3x` is not a duration: expected a whole number with an \
                 optional unit ms, s, m or h, like `90`, `30s` or `2m`",
                r#""3x""#,
            ),
            (
                r#"users = "inserter=four""#,
                "invalid `users`: `inserter=four` has no whole number of users: expected \
                 `class=N` pairs separated by commas, like `inserter=4,reader=3`",
                r#""inserter=four""#,
            ),
            (
                r#"think_ms = "200..10""#,
                "invalid `think_ms`: `200..10` is an empty range: its minimum exceeds its maximum",
                r#""200..10""#,
            ),
            (
                r#"batch = "0..10""#,
                "invalid `batch`: `0..10` starts at 0: a batch holds at least 1 row",
                r#""0..10""#,
            ),
            (
                r#"batch = "x""#,
                "invalid `batch`: `x` is not a range: expected `MIN..MAX` with whole numbers, \
                 like `10..200`",
                r#""x""#,
            ),
            (
                "ops_per_user = 0",
                "invalid `ops_per_user`: must be at least 1, got 0",
                "0",
            ),
            ("databases = 0", "invalid `databases`: must be at least 1, got 0", "0"),
            (
                "max_memory_mb = 0",
                "invalid `max_memory_mb`: must be at least 1, got 0",
                "0",
            ),
            (
                "max_cpu_percent = 0",
                "invalid `max_cpu_percent`: must be at least 1, got 0",
                "0",
            ),
            (
                "max_disk_mb = 0",
                "invalid `max_disk_mb`: must be at least 1, got 0",
                "0",
            ),
            (
                "seed = 18446744073709551616",
                "invalid `seed`: `18446744073709551616` does not fit in a u64",
                "18446744073709551616",
            ),
            (
                "seed = 42i32",
                "invalid `seed`: write `42` without the `i32` suffix",
                "42i32",
            ),
            (
                r#"name = "two words""#,
                "invalid `name`: `two words` is not a workload name: expected letters, digits, \
                 `_`, `:`, `.` and `-`, like `orders_v2`",
                r#""two words""#,
            ),
            (
                r#"name = """#,
                "invalid `name`: `` is not a workload name: expected letters, digits, `_`, `:`, \
                 `.` and `-`, like `orders_v2`",
                r#""""#,
            ),
        ];
        for (attr, message, span) in cases {
            assert_eq!(option_error(attr), (message.into(), span.into()), "{attr}");
        }
    }

    #[test]
    fn bad_crate_paths() {
        let message = |text: &str| {
            format!(
                "invalid `crate`: `{text}` is not a path: expected the path to stress-core, like \
                 `stress` or `::my_framework::stress_core`"
            )
        };
        let cases = [
            (r#"crate = """#, message(""), r#""""#),
            (r#"crate = "two words""#, message("two words"), r#""two words""#),
            (r#"crate = "stress::""#, message("stress::"), r#""stress::""#),
            (r#"crate = "Vec<u8>""#, message("Vec<u8>"), r#""Vec<u8>""#),
            (r#"crate = "1st""#, message("1st"), r#""1st""#),
        ];
        for (attr, message, span) in cases {
            assert_eq!(option_error(attr), (message, span.into()), "{attr}");
        }
    }

    // --- the item ---

    #[test]
    fn not_a_function() {
        for item in ["struct Orders;", "mod orders {}", "static ORDERS: u32 = 1;"] {
            assert_eq!(error("", item), (NOT_A_FUNCTION.into(), item.into()));
        }
    }

    #[test]
    fn function_with_arguments() {
        assert_eq!(
            error("", "fn orders(users: usize, seed: u64) -> Workload<Bare> { todo() }"),
            (NO_ARGUMENTS.into(), "users: usize, seed: u64".into())
        );
    }

    #[test]
    fn bad_signatures() {
        let cases = [
            (
                "fn orders<A: Adapter>() -> Workload<A> { todo() }",
                "a workload function cannot be generic: write one function per adapter, like \
                 `fn orders() -> Workload<Sqlite>`",
                "fn orders<A: Adapter>() -> Workload<A>",
            ),
            (
                "fn orders<'a>() -> Workload<Bare> { todo() }",
                "a workload function cannot be generic: write one function per adapter, like \
                 `fn orders() -> Workload<Sqlite>`",
                "fn orders<'a>() -> Workload<Bare>",
            ),
            (
                "async fn orders() -> Workload<Bare> { todo() }",
                "a workload function cannot be `async`: it only builds the workload, which the \
                 runner then drives",
                "async fn orders() -> Workload<Bare>",
            ),
            (
                "pub const fn orders() -> Workload<Bare> { todo() }",
                "a workload function cannot be `const`: the registry calls it at run time; \
                 remove `const`",
                "const fn orders() -> Workload<Bare>",
            ),
            (
                "unsafe fn orders() -> Workload<Bare> { todo() }",
                "a workload function cannot be `unsafe`: the registry calls it as a safe \
                 function; put the unsafe code in an `unsafe` block inside it",
                "unsafe fn orders() -> Workload<Bare>",
            ),
            (
                "extern \"C\" fn orders() -> Workload<Bare> { todo() }",
                "a workload function cannot be `extern`: the registry calls it as a plain Rust \
                 function; remove the ABI",
                "extern \"C\" fn orders() -> Workload<Bare>",
            ),
            (
                "fn orders() { todo() }",
                "a workload function returns its workload: add the return type, like \
                 `-> Workload<Sqlite>`",
                "fn orders()",
            ),
        ];
        for (item, message, span) in cases {
            assert_eq!(error("", item), (message.into(), span.into()), "{item}");
        }
    }

    #[test]
    fn the_item_is_checked_before_the_options() {
        assert_eq!(error("durration = 1", "struct S;").0, NOT_A_FUNCTION);
    }

    #[test]
    fn item_is_emitted_unchanged() {
        let item = "#[doc = \"x\"] pub(crate) fn orders() -> Workload<Bare> { let w = todo(); w }";
        let expanded = expand_str("", item).unwrap().to_string();
        let item = item.parse::<TokenStream>().unwrap().to_string();
        assert!(expanded.starts_with(&format!("{item} ::")), "{expanded}");
    }

    #[test]
    fn the_name_of_a_raw_identifier_is_unraw() {
        let expanded = expand_str("", "fn r#match() -> Workload<Bare> { todo() }")
            .unwrap()
            .to_string();
        assert!(expanded.contains("name : \"match\""), "{expanded}");
        assert!(expanded.contains("erase (r#match ())"), "{expanded}");
    }

    #[test]
    fn the_build_call_is_spanned_at_the_return_type() {
        let item = "fn orders() -> u32 { 7 }";
        let expanded = expand_str("", item).unwrap();
        let erase = find(expanded, "erase").expect("no `erase` in the expansion");
        assert_eq!(erase.source_text().as_deref(), Some("u32"));
    }

    #[test]
    fn the_crate_option_replaces_every_stress_core_path() {
        let expanded = expand_str(
            r#"crate = "::my_framework::core", seed = 1"#,
            "fn orders() -> Workload<Bare> { todo() }",
        )
        .unwrap();
        let text = expanded.to_string();
        assert!(!text.contains("stress_core"), "{text}");
        for path in [
            "inventory :: submit !",
            "WorkloadEntry {",
            "AttrOptions {",
            "AttrOptions :: DEFAULT",
            "erase (",
        ] {
            let with_crate = format!(":: my_framework :: core :: __private :: {path}");
            assert!(text.contains(&with_crate), "no `{with_crate}` in {text}");
        }
        // Its tokens keep the span of the string literal, so that a wrong path gets its error
        // there.
        let span = find(expanded, "my_framework").expect("no `my_framework` in the expansion");
        assert_eq!(span.source_text().as_deref(), Some(r#""::my_framework::core""#));
    }

    fn find(tokens: TokenStream, ident: &str) -> Option<Span> {
        tokens.into_iter().find_map(|tree| match tree {
            TokenTree::Ident(i) if i == ident => Some(i.span()),
            TokenTree::Group(g) => find(g.stream(), ident),
            _ => None,
        })
    }

    // --- expansion snapshots ---

    #[test]
    fn snapshot_no_options() {
        snapshot(
            "no_options",
            "",
            "fn orders() -> Workload<Sqlite> { Workload::new(Sqlite::memory()) }",
        );
    }

    #[test]
    fn snapshot_all_options() {
        snapshot(
            "all_options",
            r#"duration = "30s", users = "inserter=4,reader=3", ops_per_user = 100, seed = 42,
               think_ms = "10..200", batch = "100..10000", databases = 3,
               max_memory_mb = 4096, max_cpu_percent = 400, max_disk_mb = 1024, ignore"#,
            "pub fn orders() -> Workload<Sqlite> { Workload::new(Sqlite::memory()) }",
        );
    }

    #[test]
    fn snapshot_crate_path() {
        snapshot(
            "crate_path",
            r#"crate = "my_framework::stress""#,
            "fn orders() -> Workload<Sqlite> { Workload::new(Sqlite::memory()) }",
        );
    }

    #[test]
    fn snapshot_name_override() {
        snapshot(
            "name_override",
            r#"name = "orders::v2", ignore = false"#,
            "fn orders_v2() -> Workload<Sqlite> { Workload::new(Sqlite::memory()) }",
        );
    }

    /// Compares the expansion with `tests/snapshots/NAME.expanded`; `UPDATE_SNAPSHOTS=1`
    /// rewrites the file instead.
    fn snapshot(name: &str, attr: &str, item: &str) {
        let actual = layout(expand_str(attr, item).unwrap());
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "snapshots", name]
            .iter()
            .collect::<PathBuf>()
            .with_extension("expanded");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
            return;
        }
        let Ok(expected) = std::fs::read_to_string(&path) else {
            panic!(
                "no snapshot at {}: run with UPDATE_SNAPSHOTS=1 to write it\n{actual}",
                path.display()
            );
        };
        assert!(
            expected == actual,
            "the expansion differs from {}\n--- expected\n{expected}\n--- actual\n{actual}\n\
             if the change is intended, rerun with UPDATE_SNAPSHOTS=1",
            path.display(),
        );
    }

    /// `TokenStream::to_string`, with a line break after each `,` and `;` inside braces and
    /// around brace contents, so that a snapshot reads (and diffs) line by line.
    fn layout(tokens: TokenStream) -> String {
        fn write(out: &mut String, tokens: TokenStream, depth: usize) {
            let mut joint = true;
            for tree in tokens {
                if !joint && !out.ends_with('\n') {
                    out.push(' ');
                }
                if out.ends_with('\n') {
                    out.push_str(&"    ".repeat(depth));
                }
                joint = false;
                match tree {
                    TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => {
                        out.push_str("{\n");
                        write(out, g.stream(), depth + 1);
                        if !out.ends_with('\n') {
                            out.push('\n');
                        }
                        out.push_str(&"    ".repeat(depth));
                        out.push('}');
                        if depth == 0 {
                            out.push('\n');
                        }
                    }
                    TokenTree::Punct(p) => {
                        out.push(p.as_char());
                        joint = p.spacing() == Spacing::Joint;
                        if depth > 0 && matches!(p.as_char(), ',' | ';') {
                            out.push('\n');
                        }
                    }
                    other => write!(out, "{other}").unwrap(),
                }
            }
        }
        let mut out = String::new();
        write(&mut out, tokens, 0);
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}
