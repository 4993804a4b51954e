//! The options of `#[stress_workload(...)]`: parsed, checked, and turned into the fields of
//! `stress_core::__private::AttrOptions` (all but `crate`, which names the path to
//! `stress_core` that the expansion uses).

use std::fmt;
use std::time::Duration;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Path, Token};

use stress_syntax::attr_kinds as kinds;
use stress_syntax::{parse_duration, parse_range, parse_users};

/// What the macro makes of each kind of value in the table of options
/// ([`stress_syntax::attr_options!`]): how it reads one, and the tokens of its value in the
/// emitted `AttrOptions`.
pub(crate) trait Kind {
    /// The value, checked.
    type Value;
    /// Reads the value after `option =`.
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<Self::Value>;
    /// The value as an expression of its `AttrOptions` field's type (inside `Some(…)`).
    fn tokens(value: &Self::Value) -> TokenStream;
}

impl Kind for kinds::Duration {
    type Value = Duration;
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<Duration> {
        let (text, lit) = string(meta, option)?;
        parse_duration(&text).map_err(|e| invalid(&lit, option, &e))
    }
    fn tokens(duration: &Duration) -> TokenStream {
        // `parse_duration` builds every duration from a `u64` of milliseconds.
        let millis = Literal::u64_suffixed(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        quote!(::core::time::Duration::from_millis(#millis))
    }
}

impl Kind for kinds::Users {
    type Value = Vec<(String, usize)>;
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<Self::Value> {
        let (text, lit) = string(meta, option)?;
        parse_users(&text).map_err(|e| invalid(&lit, option, &e))
    }
    fn tokens(users: &Self::Value) -> TokenStream {
        let pairs = users.iter().map(|(class, count)| {
            let count = Literal::usize_suffixed(*count);
            quote!((#class, #count))
        });
        quote!(&[#(#pairs),*])
    }
}

impl Kind for kinds::Count {
    type Value = u64;
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<u64> {
        at_least_one(meta, option)
    }
    fn tokens(n: &u64) -> TokenStream {
        Literal::u64_suffixed(*n).into_token_stream()
    }
}

impl Kind for kinds::Number {
    type Value = u64;
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<u64> {
        integer(meta, option).map(|(n, _)| n)
    }
    fn tokens(n: &u64) -> TokenStream {
        Literal::u64_suffixed(*n).into_token_stream()
    }
}

impl Kind for kinds::Range {
    type Value = (u64, u64);
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<(u64, u64)> {
        let (text, lit) = string(meta, option)?;
        parse_range(&text).map_err(|e| invalid(&lit, option, &e))
    }
    fn tokens(range: &(u64, u64)) -> TokenStream {
        range_tokens(*range)
    }
}

impl Kind for kinds::Batch {
    type Value = (u64, u64);
    fn parse(meta: &ParseNestedMeta<'_>, option: &Ident) -> syn::Result<(u64, u64)> {
        let (text, lit) = string(meta, option)?;
        match parse_range(&text) {
            Ok((0, _)) => Err(invalid(
                &lit,
                option,
                &format!("`{text}` starts at 0: a batch holds at least 1 row"),
            )),
            other => other.map_err(|e| invalid(&lit, option, &e)),
        }
    }
    fn tokens(range: &(u64, u64)) -> TokenStream {
        range_tokens(*range)
    }
}

fn range_tokens((lo, hi): (u64, u64)) -> TokenStream {
    let (lo, hi) = (Literal::u64_suffixed(lo), Literal::u64_suffixed(hi));
    quote!((#lo, #hi))
}

/// The options of one attribute (`None` where it does not set one), every option with how it
/// is written ([`OPTIONS`], in the order the error message lists them), reading one of the
/// table and emitting those set: all made from the one table of options.
macro_rules! options {
    ($($name:ident: $kind:ty = $example:literal $(=> listed as $key:literal)?, $set:expr;)*) => {
        /// Every option with how it is written, in the order the error message lists them.
        const OPTIONS: &[(&str, &str)] = &[
            $((stringify!($name), $example),)*
            ("ignore", "ignore = true"),
            ("name", "name = \"orders\""),
            ("crate", "crate = \"stress\""),
        ];

        /// The options of one attribute; `None` where the attribute does not set one.
        #[derive(Debug, Default, PartialEq, Eq)]
        pub(crate) struct Options {
            $(pub(crate) $name: Option<<$kind as Kind>::Value>,)*
            pub(crate) ignore: Option<bool>,
            pub(crate) name: Option<String>,
            /// `crate = "path"`: where the expansion finds `stress_core`.
            pub(crate) krate: Option<CratePath>,
        }

        impl Options {
            /// Reads `option` if it is one of the table's; `None` if it is not.
            fn parse_setting(&mut self, meta: &ParseNestedMeta<'_>, option: &Ident) -> Option<syn::Result<()>> {
                $(
                    if option == stringify!($name) {
                        return Some(set(&mut self.$name, option, || <$kind as Kind>::parse(meta, option)));
                    }
                )*
                None
            }

            /// The fields of `AttrOptions` that the attribute sets, each followed by a comma,
            /// in the order of the table.
            fn setting_fields(&self) -> TokenStream {
                let mut fields = TokenStream::new();
                $(
                    if let Some(value) = &self.$name {
                        let value = <$kind as Kind>::tokens(value);
                        let field = format_ident!("{}", stringify!($name));
                        fields.extend(quote!(#field: ::core::option::Option::Some(#value),));
                    }
                )*
                fields
            }
        }
    };
}

stress_syntax::attr_options!(options);

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
        if let Some(done) = self.parse_setting(meta, option) {
            return done;
        }
        match option.to_string().as_str() {
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
        let mut fields = self.setting_fields();
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
    let expected = OPTIONS
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
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
