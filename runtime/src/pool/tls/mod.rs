//! TLS through rustls, with libpq's `sslmode` meanings: `disable`, `prefer` (the default: TLS
//! when the server offers it), `require` (encrypted, not verified), `verify-ca` (the server's
//! certificate chains to a trusted root) and `verify-full` (and names the host). Roots come
//! from `sslrootcert`: a PEM file, or `system` for the platform's store.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
mod verify;

#[cfg(feature = "tls")]
use rustls::client::danger::ServerCertVerifier;
#[cfg(feature = "tls")]
use rustls::client::WebPkiServerVerifier;
#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls::pki_types::CertificateDer;
#[cfg(feature = "tls")]
use rustls::{ClientConfig, RootCertStore};

#[cfg(feature = "tls")]
use verify::{ChainOnly, NoVerifier};

/// What a connection's TLS goes through: rustls, or (without the `tls` feature) nothing.
#[cfg(feature = "tls")]
pub(crate) type Connector = tokio_postgres_rustls::MakeRustlsConnect;
/// What a connection's TLS goes through: rustls, or (without the `tls` feature) nothing.
#[cfg(not(feature = "tls"))]
pub(crate) type Connector = tokio_postgres::NoTls;

use crate::error::{Error, Result};

/// How a connection uses TLS: libpq's `sslmode`.
///
/// Nothing connects in plaintext under `Require` or stronger; `Prefer` (the default) encrypts
/// whenever the server offers TLS, without verifying it, as libpq does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// TLS when the server offers it, plaintext otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked, unless a root certificate is
    /// given (`sslrootcert`): then it is checked as for `VerifyCa`, as libpq does.
    Require,
    /// TLS, and the server's certificate must chain to a trusted root (`sslrootcert`).
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The name as in a connection string: `disable`, `prefer`, `require`, `verify-ca`,
    /// `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's `allow` tries plaintext first; the nearest safe reading is prefer.
            "allow" => SslMode::Prefer,
            other => {
                return Err(Error::Config(format!(
                    "unknown sslmode `{other}`; expected disable, prefer, require, verify-ca or \
                     verify-full"
                )))
            }
        })
    }
}

/// Where the trusted roots for `verify-ca` / `verify-full` come from: `sslrootcert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file with one or more CA certificates.
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`, as in libpq 16).
    System,
}

impl RootCert {
    pub(crate) fn parse(value: &str) -> RootCert {
        if value == "system" {
            RootCert::System
        } else {
            RootCert::File(PathBuf::from(value))
        }
    }
}

/// The TLS settings of a pool.
#[derive(Clone, Default)]
pub(crate) struct TlsSettings {
    pub(crate) mode: SslMode,
    pub(crate) root: Option<RootCert>,
    #[cfg(feature = "tls")]
    pub(crate) custom: Option<Arc<ClientConfig>>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("sslmode", &self.mode)
            .field("sslrootcert", &self.root)
            .field("custom", &self.has_custom())
            .finish()
    }
}

impl TlsSettings {
    /// The driver's mode: it knows disable, prefer and require; the verify modes are require
    /// plus a verifying connector.
    pub(crate) fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }

    fn has_custom(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.custom.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The connector for these settings: a rustls client configured for the mode.
    #[cfg(feature = "tls")]
    pub(crate) fn connector(&self) -> Result<Connector> {
        let config = match &self.custom {
            Some(custom) => (**custom).clone(),
            None => self.client_config()?,
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    /// Without the `tls` feature: plaintext, which `disable` and `prefer` accept; the modes that
    /// require TLS are refused before anything is sent.
    #[cfg(not(feature = "tls"))]
    pub(crate) fn connector(&self) -> Result<Connector> {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => Ok(tokio_postgres::NoTls),
            mode => Err(Error::Config(format!(
                "sslmode={mode} needs TLS, and skelly-db was built without its `tls` feature \
                 (on by default); enable it, or connect with sslmode=disable or prefer"
            ))),
        }
    }

    // rustls 0.23.48 deprecates the ring provider ("no support for post-quantum algorithms");
    // its only other one, aws-lc-rs, builds a C library into every application. ring's X25519
    // and ECDHE key exchange is what PostgreSQL servers negotiate today, so ring stays, and the
    // deprecation is not passed on to every downstream build (a path dependency shows it).
    #[allow(deprecated)]
    #[cfg(feature = "tls")]
    fn client_config(&self) -> Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        // As libpq: `require` with a root certificate given verifies as `verify-ca`.
        let mode = match (self.mode, &self.root) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => {
                Arc::new(NoVerifier { provider })
            }
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| Error::Config(format!("sslrootcert: {e}")))?;
                if mode == SslMode::VerifyCa {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    #[cfg(feature = "tls")]
    fn roots(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        let root = match &self.root {
            Some(root) => root.clone(),
            // libpq's default place for the root certificate.
            None => match std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                .filter(|p| p.is_file())
            {
                Some(path) => RootCert::File(path),
                None => {
                    return Err(Error::Config(format!(
                        "sslmode={} needs trusted roots: set sslrootcert=/path/to/ca.pem, or \
                         sslrootcert=system for the platform's store",
                        self.mode
                    )))
                }
            },
        };
        match root {
            RootCert::File(path) => {
                let certs = CertificateDer::pem_file_iter(&path)
                    .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| {
                        Error::Config(format!(
                            "sslrootcert={}: cannot read the certificates: {e}",
                            path.display()
                        ))
                    })?;
                if certs.is_empty() {
                    return Err(Error::Config(format!(
                        "sslrootcert={}: no PEM certificate in the file",
                        path.display()
                    )));
                }
                for cert in certs {
                    store.add(cert).map_err(|e| {
                        Error::Config(format!("sslrootcert={}: {e}", path.display()))
                    })?;
                }
            }
            RootCert::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(Error::Config(format!(
                        "sslrootcert=system: no trusted roots found in the platform's store{}",
                        found
                            .errors
                            .first()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
        Ok(store)
    }
}

/// Takes `sslmode` and `sslrootcert` out of a connection string (URL query or `key=value`
/// form), since the driver knows neither `verify-ca`/`verify-full` nor `sslrootcert`. Returns
/// the rest of the string and the two values.
pub(crate) fn split_tls_params(url: &str) -> Result<(String, Option<SslMode>, Option<RootCert>)> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool> {
        match key {
            "sslmode" => mode = Some(value.parse()?),
            "sslrootcert" => root = Some(RootCert::parse(value)),
            _ => return Ok(false),
        }
        Ok(true)
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key, &percent_decode(value))? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, mode, root));
    }
    // key=value form: values may be single-quoted.
    let mut kept = Vec::new();
    let mut rest = url.trim_start();
    while !rest.is_empty() {
        let (pair, after) = next_pair(rest);
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .map(|v| v.replace("\\'", "'"))
            .unwrap_or_else(|| value.to_string());
        if !take(key.trim(), &unquoted)? {
            kept.push(pair);
        }
        rest = after.trim_start();
    }
    Ok((kept.join(" "), mode, root))
}

// One `key=value` pair (the value possibly quoted) and what follows it.
fn next_pair(s: &str) -> (&str, &str) {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if in_quote => escaped = !escaped,
            '\'' if !escaped => in_quote = !in_quote,
            c if c.is_whitespace() && !in_quote => return (&s[..i], &s[i..]),
            _ => escaped = false,
        }
    }
    (s, "")
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_come_out_of_urls_and_key_value_strings() {
        let (rest, mode, root) = split_tls_params(
            "postgres://u:p@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@h:5432/db?application_name=x");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        assert_eq!(root, Some(RootCert::File("/etc/ca.pem".into())));

        let (rest, mode, root) =
            split_tls_params("postgresql://h/db?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(
            (mode, root),
            (Some(SslMode::Require), Some(RootCert::System))
        );

        let (rest, mode, root) =
            split_tls_params("host=h sslmode=verify-ca sslrootcert='/a b/ca.pem' dbname=d")
                .unwrap();
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(mode, Some(SslMode::VerifyCa));
        assert_eq!(root, Some(RootCert::File("/a b/ca.pem".into())));

        assert_eq!(
            split_tls_params("postgres://h/db").unwrap(),
            ("postgres://h/db".to_string(), None, None)
        );
    }

    #[test]
    fn an_unknown_sslmode_is_a_config_error_naming_it() {
        let err = split_tls_params("postgres://h/db?sslmode=verify_full").unwrap_err();
        assert!(
            err.to_string().contains("unknown sslmode `verify_full`"),
            "{err}"
        );
    }

    #[test]
    #[cfg(feature = "tls")]
    fn verify_modes_need_readable_roots() {
        let settings = TlsSettings {
            mode: SslMode::VerifyFull,
            root: Some(RootCert::File("/nonexistent/ca.pem".into())),
            custom: None,
        };
        let err = settings.connector().err().unwrap().to_string();
        assert!(
            err.contains("sslrootcert=/nonexistent/ca.pem: cannot read"),
            "{err}"
        );
        let settings = TlsSettings {
            mode: SslMode::Require,
            root: None,
            custom: None,
        };
        assert!(settings.connector().is_ok());
    }

    #[test]
    #[cfg(not(feature = "tls"))]
    fn without_tls_plaintext_modes_connect_and_tls_modes_are_refused() {
        for mode in [SslMode::Disable, SslMode::Prefer] {
            let settings = TlsSettings { mode, root: None };
            assert!(settings.connector().is_ok());
        }
        let settings = TlsSettings {
            mode: SslMode::Require,
            root: None,
        };
        let err = settings.connector().err().unwrap().to_string();
        assert!(err.contains("without its `tls` feature"), "{err}");
    }
}
