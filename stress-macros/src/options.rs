//! The options of `#[stress_workload(...)]`: parsed, checked, and turned into the fields of
//! `stress_core::__private::AttrOptions` (all but `crate`, which names the path to
//! `stress_core` that the expansion uses).

use std::fmt;
use std::time::Duration;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

use stress_syntax::{parse_duration, parse_range, parse_users};

/// Every option with how it is written, in the order the error message lists them.
const OPTIONS: [(&str, &str); 13] = [
    ("duration", "duration = \"30s\""),
    ("users", "users = \"inserter=4,reader=3\""),
    ("ops_per_user", "ops_per_user = 100"),
    ("seed", "seed = 42"),
    ("think_ms", "think_ms = \"10..200\""),
    ("batch", "batch = \"100..10000\""),
    ("databases", "databases = 3"),
    ("max_memory_mb", "max_memory_mb = 4096"),
    ("max_cpu_percent", "max_cpu_percent = 400"),
    ("max_disk_mb", "max_disk_mb = 1024"),
    ("ignore", "ignore = true"),
    ("name", "name = \"orders\""),
    ("crate", "crate = \"stress\""),
];

/// The options of one attribute; `None` where the attribute does not set one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) duration: Option<Duration>,
    pub(crate) users: Option<Vec<(String, usize)>>,
    pub(crate) ops_per_user: Option<u64>,
    pub(crate) seed: Option<u64>,
    pub(crate) think_ms: Option<(u64, u64)>,
    pub(crate) batch: Option<(u64, u64)>,
    pub(crate) databases: Option<u64>,
    pub(crate) max_memory_mb: Option<u64>,
    pub(crate) max_cpu_percent: Option<u64>,
    pub(crate) max_disk_mb: Option<u64>,
    pub(crate) ignore: Option<bool>,
    pub(crate) name: Option<String>,
    /// `crate = "path"`: where the expansion finds `stress_core`.
    pub(crate) krate: Option<CratePath>,
}

/// The path given by `crate = "..."`, with the span of its string literal, so that a path that
/// does not lead to `stress_core` gets its error there. Compared and printed as its tokens.
pub(crate) struct CratePath(pub(crate) Path);

impl PartialEq for CratePath {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for CratePath {}

impl fmt::Display for CratePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_token_stream().to_string().replace(' ', ""))
    }
}

impl fmt::Debug for CratePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CratePath({self})")
    }
}

impl Options {
    /// Parses the attribute's arguments: `name = value` pairs and the bare flag `ignore`,
    /// separated by commas.
    pub(crate) fn parse(attr: TokenStream) -> syn::Result<Self> {
        let mut options = Self::default();
        syn::parse::Parser::parse2(syn::meta::parser(|meta| options.parse_one(&meta)), attr)?;
        Ok(options)
    }

    fn parse_one(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
        let Some(option) = meta.path.get_ident() else {
            return Err(unknown(&meta.path));
        };
        match option.to_string().as_str() {
            "duration" => set(&mut self.duration, option, || {
                let (text, lit) = string(meta, option)?;
                parse_duration(&text).map_err(|e| invalid(&lit, option, &e))
            }),
            "users" => set(&mut self.users, option, || {
                let (text, lit) = string(meta, option)?;
                parse_users(&text).map_err(|e| invalid(&lit, option, &e))
            }),
            "ops_per_user" => set(&mut self.ops_per_user, option, || at_least_one(meta, option)),
            "seed" => set(&mut self.seed, option, || integer(meta, option).map(|(n, _)| n)),
            "think_ms" => set(&mut self.think_ms, option, || {
                let (text, lit) = string(meta, option)?;
                parse_range(&text).map_err(|e| invalid(&lit, option, &e))
            }),
            "batch" => set(&mut self.batch, option, || {
                let (text, lit) = string(meta, option)?;
                match parse_range(&text) {
                    Ok((0, _)) => Err(invalid(
                        &lit,
                        option,
                        &format!("`{text}` starts at 0: a batch holds at least 1 row"),
                    )),
                    other => other.map_err(|e| invalid(&lit, option, &e)),
                }
            }),
            "databases" => set(&mut self.databases, option, || at_least_one(meta, option)),
            "max_memory_mb" => set(&mut self.max_memory_mb, option, || at_least_one(meta, option)),
            "max_cpu_percent" => set(&mut self.max_cpu_percent, option, || at_least_one(meta, option)),
            "max_disk_mb" => set(&mut self.max_disk_mb, option, || at_least_one(meta, option)),
            "ignore" => set(&mut self.ignore, option, || flag(meta, option)),
            "name" => set(&mut self.name, option, || {
                let (text, lit) = string(meta, option)?;
                let allowed = |c: char| c.is_ascii_alphanumeric() || "_:.-".contains(c);
                if text.is_empty() || !text.chars().all(allowed) {
                    return Err(invalid(
                        &lit,
                        option,
                        &format!(
                            "`{text}` is not a workload name: expected letters, digits, `_`, `:`, `.` and `-`, like `orders_v2`"
                        ),
                    ));
                }
                Ok(text)
            }),
            "crate" => set(&mut self.krate, option, || {
                let (text, lit) = string(meta, option)?;
                // Parsed with the literal's span, like serde's `crate = "..."`.
                LitStr::new(&text, lit.span())
                    .parse_with(Path::parse_mod_style)
                    .map(CratePath)
                    .map_err(|_| {
                        invalid(
                            &lit,
                            option,
                            &format!(
                                "`{text}` is not a path: expected the path to stress-core, like `stress` or `::my_framework::stress_core`"
                            ),
                        )
                    })
            }),
            _ => Err(unknown(&meta.path)),
        }
    }

    /// The path to `stress_core` that the expansion uses: the `crate` option (spanned at its
    /// literal), or `::stress_core` spanned at `span`.
    pub(crate) fn crate_path(&self, span: Span) -> TokenStream {
        match &self.krate {
            Some(CratePath(path)) => path.to_token_stream(),
            None => quote_spanned!(span=> ::stress_core),
        }
    }

    /// The fields of `AttrOptions` that the attribute sets, each followed by a comma, in the
    /// order of the struct.
    pub(crate) fn fields(&self) -> TokenStream {
        let mut fields = TokenStream::new();
        let mut some = |field: &str, value: TokenStream| {
            let field = format_ident!("{field}");
            fields.extend(quote!(#field: ::core::option::Option::Some(#value),));
        };
        let int = |n: u64| Literal::u64_suffixed(n).into_token_stream();
        let range = |(lo, hi): (u64, u64)| {
            let (lo, hi) = (Literal::u64_suffixed(lo), Literal::u64_suffixed(hi));
            quote!((#lo, #hi))
        };
        if let Some(duration) = self.duration {
            // `parse_duration` builds every duration from a `u64` of milliseconds.
            let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            let millis = Literal::u64_suffixed(millis);
            some("duration", quote!(::core::time::Duration::from_millis(#millis)));
        }
        if let Some(users) = &self.users {
            let pairs = users.iter().map(|(class, count)| {
                let count = Literal::usize_suffixed(*count);
                quote!((#class, #count))
            });
            some("users", quote!(&[#(#pairs),*]));
        }
        let numbers_then_ranges_then_limits = [
            ("ops_per_user", self.ops_per_user.map(int)),
            ("seed", self.seed.map(int)),
            ("think_ms", self.think_ms.map(range)),
            ("batch", self.batch.map(range)),
            ("databases", self.databases.map(int)),
            ("max_memory_mb", self.max_memory_mb.map(int)),
            ("max_cpu_percent", self.max_cpu_percent.map(int)),
            ("max_disk_mb", self.max_disk_mb.map(int)),
        ];
        for (field, value) in numbers_then_ranges_then_limits {
            if let Some(value) = value {
                some(field, value);
            }
        }
        if let Some(ignore) = self.ignore {
            fields.extend(quote!(ignore: #ignore,));
        }
        fields
    }
}

/// Stores the value of an option given for the first time.
fn set<T>(slot: &mut Option<T>, option: &Ident, value: impl FnOnce() -> syn::Result<T>) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            option.span(),
            format!("option `{option}` is given twice"),
        ));
    }
    *slot = Some(value()?);
    Ok(())
}

fn unknown(path: &syn::Path) -> syn::Error {
    let name = path.to_token_stream().to_string().replace(' ', "");
    let expected = OPTIONS.map(|(n, _)| format!("`{n}`")).join(", ");
    syn::Error::new_spanned(path, format!("unknown option `{name}`: expected one of {expected}"))
}

/// `invalid `option`: <the parser's message>`, on the literal.
fn invalid(lit: &impl quote::ToTokens, option: &Ident, message: &str) -> syn::Error {
    syn::Error::new_spanned(lit, format!("invalid `{option}`: {message}"))
}

/// How a known option is written, for error messages.
fn example(option: &Ident) -> &'static str {
    OPTIONS
        .iter()
        .find(|(name, _)| option == name)
        .map_or("", |(_, example)| example)
}

/// The literal after `option =`.
fn literal(meta: &ParseNestedMeta<'_>, option: &Ident, kind: &str) -> syn::Result<Lit> {
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new(
            option.span(),
            format!("option `{option}` needs a value, like `{}`", example(option)),
        ));
    }
    // An expression rather than a literal, so that `seed = -1` or `seed = SEED` gets the
    // message below rather than syn's "expected literal".
    match meta.value()?.parse::<Expr>()? {
        Expr::Lit(ExprLit { lit, .. }) => Ok(lit),
        other => Err(wrong_kind(&other, option, kind)),
    }
}

fn wrong_kind(tokens: &impl quote::ToTokens, option: &Ident, kind: &str) -> syn::Error {
    syn::Error::new_spanned(tokens, format!("`{option}` takes {kind}, like `{}`", example(option)))
}

/// A string option: its text, and the literal for error spans.
fn string(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<(String, Lit)> {
    const KIND: &str = "a string";
    match literal(meta, option, KIND)? {
        Lit::Str(s) => Ok((s.value(), Lit::Str(s))),
        other => Err(wrong_kind(&other, option, KIND)),
    }
}

/// A whole-number option, and the literal for error spans.
fn integer(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<(u64, Lit)> {
    const KIND: &str = "a whole number";
    match literal(meta, option, KIND)? {
        Lit::Int(int) => {
            if !matches!(int.suffix(), "" | "u64") {
                return Err(invalid(
                    &int,
                    option,
                    &format!("write `{}` without the `{}` suffix", int.base10_digits(), int.suffix()),
                ));
            }
            let n = int.base10_parse::<u64>().map_err(|_| {
                invalid(
                    &int,
                    option,
                    &format!("`{}` does not fit in a u64", int.base10_digits()),
                )
            })?;
            Ok((n, Lit::Int(int)))
        }
        other => Err(wrong_kind(&other, option, KIND)),
    }
}

/// A whole-number option that must be at least 1.
fn at_least_one(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<u64> {
    match integer(meta, option)? {
        (0, lit) => Err(invalid(&lit, option, "must be at least 1, got 0")),
        (n, _) => Ok(n),
    }
}

/// `ignore` alone, or `ignore = true` / `ignore = false`.
fn flag(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<bool> {
    const KIND: &str = "`true` or `false`";
    if meta.input.is_empty() || meta.input.peek(Token![,]) {
        return Ok(true);
    }
    if !meta.input.peek(Token![=]) {
        return Err(syn::Error::new(
            option.span(),
            format!("`{option}` stands alone or takes `true` or `false`, like `ignore` or `ignore = false`"),
        ));
    }
    match literal(meta, option, KIND)? {
        Lit::Bool(b) => Ok(b.value),
        other => Err(wrong_kind(&other, option, KIND)),
    }
}
