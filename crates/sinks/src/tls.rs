//! TLS of the network sinks: the settings (a CA file, a client certificate and key, the
//! insecure mode) with the flag or variable each came from, their loading into the rustls
//! client configurations every HTTP and gRPC sink shares, and the reading of a failed
//! handshake (a certificate refused on either side) as a permanent failure.
//!
//! Without a CA file the server is verified against the Web PKI roots; with one, against its
//! certificates only. The insecure mode sends TLS without verifying the server's certificate.
//! rustls speaks TLS 1.2 and 1.3 only.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use thiserror::Error;

/// A setting and the flag or environment variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from (`--ca-cert`, `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`).
    pub source: String,
}

impl<T> Sourced<T> {
    /// `value` from `source`.
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Self { value, source: source.into() }
    }
}

/// What TLS a sink uses: the files to load and whether the insecure mode is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The CA certificates (PEM) the server's certificate must chain to.
    pub ca: Option<Sourced<PathBuf>>,
    /// The client certificate chain (PEM), for mutual TLS.
    pub cert: Option<Sourced<PathBuf>>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: Option<Sourced<PathBuf>>,
    /// The flag or variable that asked for the insecure mode: plain text where the URL has
    /// no `https://`, TLS without verifying the server's certificate where it has.
    pub insecure: Option<String>,
}

/// A TLS file or setting that cannot be used, found before any connection.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{source_name} {}: cannot read: {error}", path.display())]
    Read {
        /// The flag or variable that named it.
        source_name: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The file holds no PEM item of the kind needed, or a broken one.
    #[error("{source_name} {}: {why}", path.display())]
    Pem {
        /// The flag or variable that named it.
        source_name: String,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("{given} is given without {missing}: a client certificate needs its key")]
    Unpaired {
        /// The one given.
        given: String,
        /// The one missing.
        missing: String,
    },
    /// rustls refused the certificates or the key (a key that does not match, …).
    #[error("{what}: {error}")]
    Rejected {
        /// The files, with their flags or variables.
        what: String,
        /// rustls' reason.
        error: rustls::Error,
    },
}

fn read(s: &Sourced<PathBuf>) -> Result<Vec<u8>, TlsError> {
    std::fs::read(&s.value).map_err(|error| TlsError::Read {
        source_name: s.source.clone(),
        path: s.value.clone(),
        error,
    })
}

fn pem_error(s: &Sourced<PathBuf>, why: String) -> TlsError {
    TlsError::Pem { source_name: s.source.clone(), path: s.value.clone(), why }
}

/// The certificates (PEM `CERTIFICATE` blocks) of a file; at least one.
pub fn read_certs(s: &Sourced<PathBuf>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(s)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(s, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(pem_error(s, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    Ok(certs)
}

/// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of a file.
pub fn read_key(s: &Sourced<PathBuf>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(s)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            pem_error(s, "holds no PEM private key (-----BEGIN PRIVATE KEY-----)".into())
        }
        e => pem_error(s, format!("not a PEM private key file: {e}")),
    })
}

/// `--flag FILE`, for messages.
pub fn describe(s: &Sourced<PathBuf>) -> String {
    format!("{} {}", s.source, s.value.display())
}

/// A store of the certificates of `ca` (every one must be usable as a trust anchor).
pub fn root_store(ca: &Sourced<PathBuf>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca)? {
        roots.add(cert).map_err(|error| TlsError::Rejected { what: describe(ca), error })?;
    }
    Ok(roots)
}

/// The crypto of every TLS connection: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The loaded TLS of the network sinks, shared by all of them (clones share it).
#[derive(Clone)]
pub struct ClientTls {
    settings: TlsSettings,
    /// ALPN h2 and http/1.1, for the HTTP client.
    http: Arc<ClientConfig>,
    /// ALPN h2, for gRPC.
    grpc: Arc<ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// Reads the files and builds the client configurations; every error names the file
    /// and the flag or variable it came from.
    pub fn load(&self) -> Result<ClientTls, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|error| TlsError::Rejected { what: "TLS versions".into(), error })?;
        let builder = if self.insecure.is_some() {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let roots = match &self.ca {
                Some(ca) => root_store(ca)?,
                None => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
            };
            builder.with_root_certificates(roots)
        };
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                builder.with_client_auth_cert(read_certs(cert)?, read_key(key)?).map_err(|error| {
                    TlsError::Rejected { what: format!("{} with {}", describe(cert), describe(key)), error }
                })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(given), None) => return Err(unpaired(given, "a client key (--client-key)")),
            (None, Some(given)) => return Err(unpaired(given, "a client certificate (--client-cert)")),
        };
        config.alpn_protocols = vec![b"h2".to_vec()];
        let grpc = Arc::new(config.clone());
        config.alpn_protocols.push(b"http/1.1".to_vec());
        Ok(ClientTls { settings: self.clone(), http: Arc::new(config), grpc })
    }
}

fn unpaired(given: &Sourced<PathBuf>, missing: &str) -> TlsError {
    TlsError::Unpaired { given: describe(given), missing: missing.into() }
}

impl ClientTls {
    /// The settings it was loaded from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration of HTTP clients (ALPN h2, http/1.1).
    pub fn http_config(&self) -> &ClientConfig {
        &self.http
    }

    /// The configuration of gRPC connections (ALPN h2).
    pub fn grpc_config(&self) -> Arc<ClientConfig> {
        self.grpc.clone()
    }

    /// For the summary: what the insecure mode does to `url`, when it is on.
    pub fn insecure_note(&self, url: &str) -> Option<String> {
        let source = self.settings.insecure.as_ref()?;
        Some(if url.starts_with("https://") {
            format!("TLS without verifying the server's certificate ({source})")
        } else {
            format!("plain text, not encrypted ({source})")
        })
    }
}

/// The loaded TLS of a run: each distinct [`TlsSettings`] is loaded once, and its sinks share
/// the configurations.
#[derive(Debug, Default)]
pub struct TlsCache(std::sync::Mutex<Vec<ClientTls>>);

impl TlsCache {
    /// The configurations of `settings`, loaded at the first call.
    pub fn load(&self, settings: &TlsSettings) -> Result<ClientTls, TlsError> {
        let mut loaded = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = loaded.iter().find(|t| t.settings == *settings) {
            return Ok(t.clone());
        }
        let t = settings.load()?;
        loaded.push(t.clone());
        Ok(t)
    }
}

/// The insecure mode's verifier: any certificate is accepted; the handshake's signatures
/// are still checked (the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// When `e` (or one of its causes) is a TLS handshake with `peer` that failed for good — a
/// certificate refused by either side, a peer that does not speak TLS — the reason, for the
/// drop count: retrying cannot help.
///
/// A server refuses a client certificate of TLS 1.3 after the client's side of the handshake
/// is done, with an alert the client reads with its first answer; HTTP/2 passes such a read
/// error on as text only, so the alert is also recognised by rustls' wording.
pub fn handshake_failure(e: &(dyn std::error::Error + 'static), peer: &str) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(format!("TLS handshake with {peer} failed: {t}"));
        }
        let text = err.to_string();
        if text.starts_with("received fatal alert: ") {
            return Some(format!("TLS handshake with {peer} failed: {text}"));
        }
        // An I/O error's `source` is its inner error's source: step into the inner one.
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|i| i as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}
