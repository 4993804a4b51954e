//! TLS for both clients, as libpq reads it from a connection string: `sslmode` (`disable`,
//! `prefer` — the default —, `require`, `verify-ca`, `verify-full`), `sslrootcert` (a PEM file,
//! or `system` for Mozilla's roots), `sslcert`/`sslkey` (a client certificate). On rustls with
//! the `ring` provider: no system OpenSSL.
//!
//! The `postgres` crate's connection-string parser knows `sslmode` only up to `require` and no
//! file options, so [`split_dsn`] takes these options out first; the rest goes to it unchanged.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How much TLS a connection wants, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            // libpq's `allow` tries without TLS first; without TLS is what it gets here.
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// The TLS options of a connection string, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) sslmode: Option<String>,
    pub(crate) sslrootcert: Option<String>,
    pub(crate) sslcert: Option<String>,
    pub(crate) sslkey: Option<String>,
}

impl TlsOptions {
    fn set(&mut self, key: &str, value: String) -> bool {
        let slot = match key {
            "sslmode" => &mut self.sslmode,
            "sslrootcert" => &mut self.sslrootcert,
            "sslcert" => &mut self.sslcert,
            "sslkey" => &mut self.sslkey,
            _ => return false,
        };
        *slot = Some(value);
        true
    }
}

/// A connection string without its TLS options (for the `postgres` crate's parser), and those
/// options.
pub(crate) fn split_dsn(dsn: &str) -> (String, TlsOptions) {
    let mut tls = TlsOptions::default();
    let trimmed = dsn.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let Some((base, query)) = trimmed.split_once('?') else {
            return (dsn.to_owned(), tls);
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                !tls.set(k, percent_decode(v))
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, tls);
    }
    // key=value pairs: a value is a run of non-blanks or a single-quoted string, with
    // backslash escapes in both.
    let mut kept = Vec::new();
    let mut rest = dsn;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let key = &rest[..key_end];
        let after_key = rest[key_end..].trim_start();
        let Some(after_eq) = after_key.strip_prefix('=') else {
            // Not a pair: leave it to the parser, which says what is wrong.
            kept.push(rest);
            break;
        };
        let after_eq = after_eq.trim_start();
        let (value, len) = read_value(after_eq);
        let pair_len = rest.len() - after_eq.len() + len;
        if !tls.set(key, value) {
            kept.push(&rest[..pair_len]);
        }
        rest = &rest[pair_len..];
    }
    (kept.join(" "), tls)
}

/// A value of a key=value connection string, and how many bytes of `s` it took.
fn read_value(s: &str) -> (String, usize) {
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    let quoted = s.starts_with('\'');
    if quoted {
        chars.next();
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '\'' if quoted => return (out, i + 1),
            c if !quoted && c.is_whitespace() => return (out, i),
            c => out.push(c),
        }
    }
    (out, s.len())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The TLS a connection makes: its mode and, unless disabled, the rustls configuration built
/// once from the options (certificates read at that time).
#[derive(Clone)]
pub(crate) struct Tls {
    mode: SslMode,
    config: Option<Arc<ClientConfig>>,
    /// The options as a person reads them in an error (`sslmode=verify-full, sslrootcert=…`).
    said: String,
    /// The name the server's certificate is checked against when the connection goes to
    /// another address than the server's own (the run's network proxy): the server's host.
    name: Option<String>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.said)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
}

impl Tls {
    /// The same TLS, checking the server's certificate against `host` whatever address the
    /// connection goes to (through the run's network proxy, on loopback).
    pub(crate) fn named(&self, host: &str) -> Self {
        Self {
            name: Some(host.to_owned()),
            ..self.clone()
        }
    }

    /// No TLS (a Unix socket, or `sslmode=disable`).
    pub(crate) fn disabled() -> Self {
        Self {
            mode: SslMode::Disable,
            config: None,
            said: "sslmode=disable".into(),
            name: None,
        }
    }

    /// `sslmode=verify-full` against one certificate authority given in memory: how the run
    /// reaches the managed server it made a certificate for.
    pub(crate) fn verify_full_with(ca: CertificateDer<'static>) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots
            .add(ca)
            .map_err(|e| format!("the run's own CA certificate is not usable: {e}"))?;
        let config = builder().with_root_certificates(roots).with_no_client_auth();
        Ok(Self {
            mode: SslMode::VerifyFull,
            config: Some(Arc::new(config)),
            said: "sslmode=verify-full with the run's own CA".into(),
            name: None,
        })
    }

    /// The TLS the options ask for, or a one-line error naming the setting and the fix. A
    /// `sslrootcert` makes `require` verify the chain, as libpq does.
    pub(crate) fn from_options(o: &TlsOptions) -> Result<Self, String> {
        let mut mode = match &o.sslmode {
            None => SslMode::Prefer,
            Some(m) => SslMode::parse(m.trim()).ok_or_else(|| {
                format!(
                    "sslmode=`{}` is not a mode: use disable, prefer (the default), require, verify-ca or verify-full",
                    m.escape_debug()
                )
            })?,
        };
        let mut said = format!("sslmode={}", mode.name());
        if mode == SslMode::Disable {
            return Ok(Self {
                mode,
                config: None,
                said,
                name: None,
            });
        }
        let home_root = std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let rootcert = o.sslrootcert.clone().or_else(|| {
            (mode >= SslMode::VerifyCa)
                .then(|| home_root.map(|p| p.display().to_string()))
                .flatten()
        });
        if mode == SslMode::Require && rootcert.is_some() {
            mode = SslMode::VerifyCa;
        }
        let verifier: Arc<dyn ServerCertVerifier> = match (&rootcert, mode) {
            (Some(path), _) if mode >= SslMode::VerifyCa => {
                said.push_str(&format!(", sslrootcert={path}"));
                let roots = roots_from(path)?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| format!("sslrootcert={path} cannot verify servers: {e}"))?;
                if mode == SslMode::VerifyCa {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
            (None, SslMode::VerifyCa | SslMode::VerifyFull) => {
                return Err(format!(
                    "sslmode={} needs sslrootcert=FILE (the PEM certificate of the CA that signed the server's), \
                     or sslrootcert=system for the public CAs",
                    mode.name()
                ));
            }
            // prefer and require: encrypted, the server's certificate not checked (libpq's
            // meaning of them).
            _ => Arc::new(Unchecked(provider().signature_verification_algorithms)),
        };
        let config = builder().dangerous().with_custom_certificate_verifier(verifier);
        let config = match (&o.sslcert, &o.sslkey) {
            (None, None) => config.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                said.push_str(&format!(", sslcert={cert}"));
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        format!("sslcert={cert} cannot be read ({e}): give the client certificate's PEM file")
                    })?;
                if chain.is_empty() {
                    return Err(format!(
                        "sslcert={cert} holds no PEM certificate: give the client certificate's PEM file"
                    ));
                }
                let key_der = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| format!("sslkey={key} cannot be read ({e}): give the client key's PEM file"))?;
                config
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| format!("sslcert={cert} and sslkey={key} do not make a client certificate: {e}"))?
            }
            (Some(_), None) => return Err("sslcert is given without sslkey: give both, or neither".into()),
            (None, Some(_)) => return Err("sslkey is given without sslcert: give both, or neither".into()),
        };
        Ok(Self {
            mode,
            config: Some(Arc::new(config)),
            said,
            name: None,
        })
    }

    /// The mode for the `postgres` crate's config (which knows disable, prefer, require; the
    /// verification is the connector's).
    pub(crate) fn apply(&self, config: &mut postgres::Config) {
        use postgres::config::SslMode as Pg;
        config.ssl_mode(match self.mode {
            SslMode::Disable => Pg::Disable,
            SslMode::Prefer => Pg::Prefer,
            _ => Pg::Require,
        });
    }

    /// Whether the connection must be encrypted (`require` and above).
    pub(crate) fn required(&self) -> bool {
        self.mode >= SslMode::Require
    }

    /// Whether to ask the server for TLS at all.
    pub(crate) fn wanted(&self) -> bool {
        self.config.is_some()
    }

    /// The options, for a message.
    pub(crate) fn said(&self) -> &str {
        &self.said
    }

    /// The TLS session over `sock` after the server agreed to it, its handshake done (the
    /// wire client).
    pub(crate) fn handshake(
        &self,
        mut sock: TcpStream,
        host: &str,
    ) -> Result<rustls::StreamOwned<ClientConnection, TcpStream>, String> {
        let config = self.config.clone().ok_or("TLS is disabled")?;
        let host = self.name.as_deref().unwrap_or(host);
        let name =
            ServerName::try_from(host.to_owned()).map_err(|e| format!("host `{host}` is no TLS server name: {e}"))?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| self.explain(&e))?;
        }
        Ok(rustls::StreamOwned::new(conn, sock))
    }

    /// A failed handshake in one line: rustls's words, and the options that led there.
    pub(crate) fn explain(&self, e: &io::Error) -> String {
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
        let hint = match inner {
            Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                ": the server's certificate was not signed by a CA in sslrootcert"
            }
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => ": the server's certificate does not name the host connected to (verify-ca checks the CA only)",
            Some(rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            )) => ": the server's certificate has expired",
            _ => "",
        };
        format!("{e}{hint} ({})", self.said)
    }

    /// The connector for the `postgres` crate.
    pub(crate) fn connector(&self) -> MakeRustls {
        MakeRustls(self.clone())
    }
}

/// The certificates of a `sslrootcert` file (or Mozilla's roots for `system`).
fn roots_from(path: &str) -> Result<RootCertStore, String> {
    if path == "system" {
        return Ok(RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!("sslrootcert={path} cannot be read ({e}): give the PEM file of the CA that signed the server's certificate")
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "sslrootcert={path} holds no usable PEM certificate: give the PEM file of the CA that signed the server's certificate"
        ));
    }
    Ok(roots)
}

/// `verify-ca`: the chain up to a trusted CA, whatever host the certificate names.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The name is checked last, after the chain: a name error means the chain was good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require`: any certificate (the session is still encrypted, and the server
/// still proves it holds the certificate's key).
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The `postgres` crate's TLS connector on rustls ([`Tls::connector`]).
#[derive(Debug, Clone)]
pub(crate) struct MakeRustls(Tls);

impl<S> postgres::tls::MakeTlsConnect<S> for MakeRustls
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    /// Called for every connection, a Unix socket's too (with no name, and no handshake to
    /// follow): a name that is none fails the handshake, if one comes.
    fn make_tls_connect(&mut self, domain: &str) -> io::Result<RustlsConnect> {
        let domain = self.0.name.as_deref().unwrap_or(domain);
        let name =
            ServerName::try_from(domain.to_owned()).map_err(|e| format!("host `{domain}` is no TLS server name: {e}"));
        Ok(RustlsConnect {
            tls: self.0.clone(),
            name,
        })
    }
}

/// One handshake of [`MakeRustls`].
#[derive(Debug)]
pub(crate) struct RustlsConnect {
    tls: Tls,
    name: Result<ServerName<'static>, String>,
}

impl<S> postgres::tls::TlsConnect<S> for RustlsConnect
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let (config, name) = match (self.tls.config.clone(), self.name) {
            (Some(config), Ok(name)) => (config, name),
            (None, _) => return Box::pin(std::future::ready(Err(io::Error::other("TLS is disabled")))),
            (_, Err(e)) => return Box::pin(std::future::ready(Err(io::Error::other(e)))),
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        Box::pin(async move {
            connector
                .connect(name, stream)
                .await
                .map(RustlsStream)
                .map_err(|e| io::Error::other(self.tls.explain(&e)))
        })
    }
}

/// A TLS session of the `postgres` crate's connection (no channel binding: SCRAM without
/// `-PLUS`, as over a plain connection).
#[derive(Debug)]
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> tokio::io::AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for RustlsStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> postgres::tls::TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> postgres::tls::ChannelBinding {
        postgres::tls::ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_come_out_of_both_forms_of_connection_string() {
        let (rest, o) = split_dsn("host=db port=5432 sslmode=verify-full sslrootcert='/a b/ca.crt' user=me");
        assert_eq!(rest, "host=db port=5432 user=me");
        assert_eq!(o.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(o.sslrootcert.as_deref(), Some("/a b/ca.crt"));
        let (rest, o) = split_dsn(r"host = db sslmode = require password='it\'s'");
        assert_eq!(rest, r"host = db password='it\'s'");
        assert_eq!(o.sslmode.as_deref(), Some("require"));
        let (rest, o) =
            split_dsn("postgresql://me@db/x?sslmode=require&sslrootcert=%2Ftmp%2Fca.crt&application_name=a");
        assert_eq!(rest, "postgresql://me@db/x?application_name=a");
        assert_eq!(o.sslrootcert.as_deref(), Some("/tmp/ca.crt"));
        let (rest, _) = split_dsn("postgres://db/x?sslmode=disable");
        assert_eq!(rest, "postgres://db/x");
        assert_eq!(split_dsn("host=db").0, "host=db");
    }

    #[test]
    fn bad_tls_options_are_refused_in_one_line_naming_the_setting() {
        let o = |m: &str, root: Option<&str>| TlsOptions {
            sslmode: Some(m.into()),
            sslrootcert: root.map(Into::into),
            ..TlsOptions::default()
        };
        let e = Tls::from_options(&o("verify", None)).unwrap_err();
        assert!(e.starts_with("sslmode=`verify` is not a mode: use disable"), "{e}");
        let e = Tls::from_options(&o("verify-full", Some("/nonexistent/ca.crt"))).unwrap_err();
        assert!(e.starts_with("sslrootcert=/nonexistent/ca.crt cannot be read ("), "{e}");
        assert!(!e.contains('\n'));
        let e = Tls::from_options(&TlsOptions {
            sslcert: Some("/x".into()),
            ..TlsOptions::default()
        })
        .unwrap_err();
        assert_eq!(e, "sslcert is given without sslkey: give both, or neither");
        assert!(Tls::from_options(&o("require", None)).unwrap().required());
        assert!(!Tls::from_options(&o("disable", None)).unwrap().wanted());
        assert!(Tls::from_options(&o("verify-full", Some("system"))).is_ok());
    }
}
