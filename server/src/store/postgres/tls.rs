//! TLS to PostgreSQL, as the database URL asks with libpq's `sslmode` and `sslrootcert`
//! (rustls, ring). The `postgres` crate parses `sslmode` but knows only `disable`,
//! `prefer` and `require`, and no `sslrootcert`: both are taken out of the URL here and the
//! rest is left to it.
//!
//! | `sslmode` | TLS | the server's certificate |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` (the default, as libpq's) | when the server offers it | not checked |
//! | `require` | always | not checked; with `sslrootcert`, its chain (as libpq's `verify-ca`) |
//! | `verify-ca` | always | its chain, to `sslrootcert`'s roots |
//! | `verify-full` | always | its chain and that it names the host connected to |
//!
//! The roots are the certificates of the PEM file `sslrootcert=PATH`; without it (or with
//! `sslrootcert=system`), the public web's roots that ship with the server (webpki-roots),
//! which a managed database's certificate usually chains to. `allow` (plain first, TLS
//! when refused) is not supported: it is refused with a message saying what to ask
//! instead, as is any other value.

use std::str::FromStr;
use std::sync::Arc;

use postgres::Config;
use postgres::config::SslMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::redacted;
use crate::store::StoreError;

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Nothing: encryption against a passive listener only (libpq's `prefer`, `require`).
    Nothing,
    /// That it chains to a root (libpq's `verify-ca`).
    Chain,
    /// That it chains to a root and names the host (libpq's `verify-full`).
    Full,
}

/// What the URL asks of TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Asked {
    mode: SslMode,
    check: Check,
    /// `sslrootcert`: a PEM file, or `system`.
    root_cert: Option<String>,
}

/// A database URL understood: the connection's settings and the TLS they ask for.
pub(super) struct Target {
    pub config: Config,
    pub tls: MakeRustlsConnect,
}

impl Target {
    /// Reads `url` (a `postgres://` URL or libpq's `key=value` string).
    pub fn of(url: &str) -> Result<Target, StoreError> {
        let invalid = |e: &dyn std::fmt::Display| StoreError::Backend(format!("{}: {e}", redacted(url)));
        let (rest, asked) = split_tls(url).map_err(|e| invalid(&e))?;
        let mut config = Config::from_str(&rest).map_err(|e| invalid(&e))?;
        config.ssl_mode(asked.mode);
        let tls = MakeRustlsConnect::new(client_config(&asked).map_err(|e| invalid(&e))?);
        Ok(Target { config, tls })
    }

    pub fn connect(&self) -> Result<postgres::Client, StoreError> {
        self.config.connect(self.tls.clone()).map_err(|e| {
            if e.as_db_error().is_some() {
                return StoreError::from(e);
            }
            // The client's own error says only "error performing TLS handshake"; why is
            // in its sources.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !message.ends_with(&cause_text) {
                    message = format!("{message}: {cause_text}");
                }
                source = cause.source();
            }
            if message.contains("certificate") {
                message.push_str(
                    " (sslmode=verify-full checks that the server's certificate chains to the roots of \
                     sslrootcert=PATH, else to the public web's, and names the host; verify-ca checks the chain only)",
                );
            }
            StoreError::Backend(message)
        })
    }
}

/// Why a database URL's connection or TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("sslmode=allow is not supported; use disable, prefer, require, verify-ca or verify-full")]
    AllowMode,
    #[error("sslmode={0} is not one of disable, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    #[error("`{0}` has no value")]
    NoValue(String),
    #[error("the value of `{0}` has no closing quote")]
    Unclosed(String),
    #[error("sslrootcert={path}: cannot read its certificates: {source}")]
    RootCertUnreadable { path: String, source: rustls::pki_types::pem::Error },
    #[error("sslrootcert={0} holds no certificate to trust")]
    NoRootCert(String),
    #[error(transparent)]
    Tls(#[from] rustls::Error),
}

/// The keys taken out of the URL, and what they ask.
fn asked(sslmode: Option<&str>, root_cert: Option<String>) -> Result<Asked, UrlError> {
    let (mode, check) = match sslmode.unwrap_or("prefer") {
        "disable" => (SslMode::Disable, Check::Nothing),
        "prefer" => (SslMode::Prefer, Check::Nothing),
        // libpq: `require` with a root certificate checks the chain, as `verify-ca`.
        "require" if root_cert.is_some() => (SslMode::Require, Check::Chain),
        "require" => (SslMode::Require, Check::Nothing),
        "verify-ca" => (SslMode::Require, Check::Chain),
        "verify-full" => (SslMode::Require, Check::Full),
        "allow" => {
            return Err(UrlError::AllowMode);
        }
        other => {
            return Err(UrlError::UnknownMode(other.to_owned()));
        }
    };
    Ok(Asked { mode, check, root_cert })
}

/// `url` without `sslmode` and `sslrootcert`, and what they ask.
fn split_tls(url: &str) -> Result<(String, Asked), UrlError> {
    let (mut sslmode, mut root_cert) = (None, None);
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            sslmode = Some(value);
            true
        }
        "sslrootcert" => {
            root_cert = Some(value);
            true
        }
        _ => false,
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                !take(key, percent_decoded(value))
            })
            .collect();
        if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
    } else {
        let mut kept = Vec::new();
        for (key, value, text) in key_values(url)? {
            if !take(key, value) {
                kept.push(text);
            }
        }
        kept.join(" ")
    };
    Ok((rest, asked(sslmode.as_deref(), root_cert)?))
}

/// A URL's query value, `%XX` decoded (`+` is a plus: libpq does not read it as a space).
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a `key=value` connection string as (key, value, the pair's text), values
/// unquoted as libpq reads them (`'…'` with `\'` and `\\` inside).
fn key_values(text: &str) -> Result<Vec<(&str, String, &str)>, UrlError> {
    let mut pairs = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let Some(after) = rest.strip_prefix('=') else { return Err(UrlError::NoValue(key.to_owned())) };
        rest = after.trim_start();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let quoted = rest.starts_with('\'');
        if quoted {
            chars.next();
        }
        let mut end = rest.len();
        let mut closed = !quoted;
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                '\'' if quoted => {
                    end = at + 1;
                    closed = true;
                    break;
                }
                c if c.is_whitespace() && !quoted => {
                    end = at;
                    break;
                }
                c => value.push(c),
            }
        }
        if !closed {
            return Err(UrlError::Unclosed(key.to_owned()));
        }
        let consumed = start.len() - rest.len() + end;
        pairs.push((key, value, &start[..consumed]));
        rest = rest[end..].trim_start();
    }
    Ok(pairs)
}

fn client_config(asked: &Asked) -> Result<ClientConfig, UrlError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let algorithms = provider.signature_verification_algorithms;
    let config = match asked.check {
        Check::Nothing => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient { roots: None, algorithms }))
        }
        Check::Chain => {
            let roots = Some(Arc::new(roots(asked.root_cert.as_deref())?));
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient { roots, algorithms }))
        }
        Check::Full => builder.with_root_certificates(roots(asked.root_cert.as_deref())?),
    };
    Ok(config.with_no_client_auth())
}

/// The roots a certificate must chain to: those of `sslrootcert`, else the public web's.
fn roots(root_cert: Option<&str>) -> Result<RootCertStore, UrlError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|source| UrlError::RootCertUnreadable { path: path.to_owned(), source })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(UrlError::NoRootCert(path.to_owned()));
            }
        }
    }
    Ok(roots)
}

/// What libpq's `prefer`, `require` and `verify-ca` check of the server's certificate:
/// nothing, or (`roots` given) its chain to the roots but not its name. The handshake's
/// signatures are checked either way: the server holds the key of the certificate it sent.
#[derive(Debug)]
struct Lenient {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Asked) {
        split_tls(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_a_url() {
        let (rest, asked) = split("postgres://ann@db:5432/agentstate?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem");
        assert_eq!(rest, "postgres://ann@db:5432/agentstate");
        assert_eq!(asked, Asked { mode: SslMode::Require, check: Check::Full, root_cert: Some("/etc/ca.pem".into()) });
        let (rest, asked) = split("postgresql://ann@db/agentstate?connect_timeout=5&sslmode=require");
        assert_eq!(rest, "postgresql://ann@db/agentstate?connect_timeout=5");
        assert_eq!((asked.mode, asked.check), (SslMode::Require, Check::Nothing));
        let (rest, asked) = split("postgres://ann@db/agentstate");
        assert_eq!(rest, "postgres://ann@db/agentstate");
        assert_eq!((asked.mode, asked.check), (SslMode::Prefer, Check::Nothing), "libpq's default");
        // libpq: `require` with a root certificate checks the chain.
        let (_, asked) = split("postgres://db/x?sslmode=require&sslrootcert=ca.pem");
        assert_eq!(asked.check, Check::Chain);
    }

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_key_values() {
        let (rest, asked) = split("host=db user=ann sslmode = verify-ca sslrootcert='/my certs/ca.pem' dbname=x");
        assert_eq!(rest, "host=db user=ann dbname=x");
        assert_eq!(asked.check, Check::Chain);
        assert_eq!(asked.root_cert.as_deref(), Some("/my certs/ca.pem"));
        let (rest, _) = split("host=db password='it\\'s' sslmode=disable");
        assert_eq!(rest, "host=db password='it\\'s'");
        assert!(split_tls("host=db sslrootcert='unclosed").is_err());
    }

    #[test]
    fn unsupported_modes_are_refused_saying_what_is_supported() {
        let allow = split_tls("postgres://db/x?sslmode=allow").expect_err("refused").to_string();
        assert!(allow.contains("not supported") && allow.contains("verify-full"), "{allow}");
        let typo = split_tls("host=db sslmode=verify_full").expect_err("refused").to_string();
        assert!(typo.contains("verify_full") && typo.contains("verify-full"), "{typo}");
        let missing =
            Target::of("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").err().expect("refused");
        assert!(missing.to_string().contains("sslrootcert=/nonexistent/ca.pem"), "{missing}");
    }
}
