//! TLS of `receive`'s two listeners (`--tls-cert`, `--tls-key`, `--tls-client-ca`): the files
//! read into one rustls server configuration (TLS 1.2 and 1.3; with a client CA, a client
//! certificate signed by it is required) for the receiver library, which runs the
//! handshakes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tsim_sinks::tls::{Sourced, describe, provider, read_certs, read_key, root_store};

use super::ReceiveArgs;

/// Reads the files of `--tls-cert`, `--tls-key`, `--tls-client-ca` (errors name the file and
/// its flag); `None` without `--tls-cert`.
pub fn load(a: &ReceiveArgs) -> Result<Option<ServerConfig>> {
    let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) else { return Ok(None) };
    let flag = |p: &PathBuf, f: &str| Sourced::new(p.clone(), f);
    let (cert, key) = (flag(cert, "--tls-cert"), flag(key, "--tls-key"));
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .context("TLS versions")?;
    let builder = match &a.tls_client_ca {
        Some(ca) => {
            let ca = flag(ca, "--tls-client-ca");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(&ca)?), provider)
                .build()
                .with_context(|| describe(&ca))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(read_certs(&cert)?, read_key(&key)?)
        .with_context(|| format!("{} with {}", describe(&cert), describe(&key)))?;
    Ok(Some(config))
}
