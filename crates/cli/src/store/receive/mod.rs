//! `receive`: an OTLP receiver (gRPC and HTTP) that stores what it acknowledges — durable
//! in the write-ahead log before the answer, converted to Parquet within `--flush-interval` —
//! with a live line, its own counters on `/metrics`, and a clean stop on Ctrl-C or SIGTERM
//! that converts everything pending. With `--tls-cert` both listeners speak TLS only
//! ([`tls`]), with `--tls-client-ca` mutual TLS.

mod grpc;
mod http;
mod ingest;
mod payload;
mod tls;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tonic::transport::server::TcpIncoming;
use tsim_store::{Store, Table};

use crate::args::parse_duration_ms;

/// The flags of `receive`.
#[derive(Debug, clap::Args, Clone)]
pub struct ReceiveArgs {
    /// Where OTLP/gRPC is served (port 0: any free port, printed at start).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4317")]
    pub grpc_listen: String,
    /// Where OTLP/HTTP (and the receiver's /metrics) is served.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:4318")]
    pub http_listen: String,
    /// Require `Authorization: Bearer TOKEN`, the token read from this file (first line).
    /// Or set TELEMETRY_SIMULATOR_RECEIVE_TOKEN. Never printed.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Close the log segment and convert it into Parquet at least this often (sooner at
    /// 64 MiB); reports see data once converted.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_ms)]
    pub flush_interval: u64,
    /// Serve both listeners over TLS only (1.2 or 1.3) with this certificate chain (PEM);
    /// with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require a client certificate signed by one of these CAs (PEM): mutual TLS. A client
    /// without one is refused at the handshake.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

fn token(a: &ReceiveArgs) -> Result<Option<String>> {
    if let Some(f) = &a.token_file {
        let t = std::fs::read_to_string(f).with_context(|| format!("--token-file {}", f.display()))?;
        let t = t.lines().next().unwrap_or("").trim().to_owned();
        if t.is_empty() {
            usage!("--token-file {}: the file is empty", f.display());
        }
        return Ok(Some(t));
    }
    Ok(std::env::var("TELEMETRY_SIMULATOR_RECEIVE_TOKEN").ok().filter(|t| !t.is_empty()))
}

async fn bind(flag: &str, addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("{flag} {addr}: cannot listen"))
}

/// Waits for Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The live line: items per second per signal (and its busiest services) since the last.
fn live_line(
    stats: &ingest::Stats,
    last: &mut [u64; 3],
    last_services: &mut BTreeMap<(Table, String), u64>,
    secs: f64,
) -> String {
    let services = stats.services.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let mut parts = Vec::new();
    for t in Table::ALL {
        let now = stats.of(t).acked.load(Ordering::Relaxed);
        let rate = (now - last[t as usize]) as f64 / secs;
        last[t as usize] = now;
        let mut by: Vec<(&str, f64)> = services
            .iter()
            .filter(|((tt, _), _)| *tt == t)
            .map(|(k, v)| (k.1.as_str(), (v - last_services.get(k).copied().unwrap_or(0)) as f64 / secs))
            .filter(|(_, r)| *r > 0.0)
            .collect();
        by.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = by.iter().take(3).map(|(s, r)| format!("{s} {}", si(*r))).collect();
        let top = if top.is_empty() { String::new() } else { format!(" ({})", top.join(", ")) };
        parts.push(format!("{} {}/s{top}", t.signal(), si(rate)));
    }
    *last_services = services;
    let stored: u64 = Table::ALL.iter().map(|t| stats.of(*t).stored.load(Ordering::Relaxed)).sum();
    format!("{} · stored {}", parts.join(" · "), si(stored as f64))
}

type Served<E> = tokio::task::JoinHandle<Result<(), E>>;

/// Starts both servers, over TLS when `tls` is given; they stop once `stop` turns true.
fn serve(
    shared: &Arc<grpc::Shared>,
    grpc_l: tokio::net::TcpListener,
    http_l: tokio::net::TcpListener,
    tls: Option<&tls::ServerTls>,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<(Served<tonic::transport::Error>, Served<std::io::Error>)> {
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let router = http::router(shared.clone());
    Ok(match tls {
        None => (
            tokio::spawn(grpc::serve(shared.clone(), TcpIncoming::from(grpc_l), wait(stop.clone()))),
            tokio::spawn(axum::serve(http_l, router).with_graceful_shutdown(wait(stop.clone())).into_future()),
        ),
        Some(t) => (
            tokio::spawn(grpc::serve(shared.clone(), t.grpc(grpc_l), wait(stop.clone()))),
            tokio::spawn(axum::serve(t.http(http_l)?, router).with_graceful_shutdown(wait(stop.clone())).into_future()),
        ),
    })
}

/// Prints what was acknowledged, stored and refused; whether acknowledged items are still
/// waiting in the log.
fn final_counts(stats: &ingest::Stats, tls: Option<&tls::ServerTls>) -> bool {
    let mut lost = false;
    for t in Table::ALL {
        let s = stats.of(t);
        let (acked, stored) = (s.acked.load(Ordering::Relaxed), s.stored.load(Ordering::Relaxed));
        lost |= acked != stored;
        say!(
            "{:<8} {acked} items in {} requests acknowledged, {stored} stored, {} requests refused",
            t.signal(),
            s.requests.load(Ordering::Relaxed),
            s.refused.load(Ordering::Relaxed)
        );
    }
    if let Some(t) = tls {
        say!("tls      {} handshakes refused", t.refused.load(Ordering::Relaxed));
    }
    lost
}

/// Runs the receiver until Ctrl-C or SIGTERM.
pub fn receive(a: &ReceiveArgs, store: Option<&std::path::Path>, quiet: bool) -> Result<ExitCode> {
    let store = store.map_or_else(|| PathBuf::from(super::DEFAULT_STORE), std::path::Path::to_path_buf);
    let token = token(a)?;
    let tls = tls::load(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let (store_handle, replayed) =
            Store::open(&store).with_context(|| format!("opening the store {}", store.display()))?;
        let grpc_l = bind("--grpc-listen", &a.grpc_listen).await?;
        let http_l = bind("--http-listen", &a.http_listen).await?;
        let (grpc_addr, http_addr) = (grpc_l.local_addr()?, http_l.local_addr()?);
        if !quiet && !replayed.is_empty() {
            let items: u64 = replayed.iter().map(tsim_store::Converted::items).sum();
            say!("converted {} log segment(s) left by the last run: {items} items", replayed.len());
        }
        let (ingest, writer) = ingest::start(store_handle, store.clone(), Duration::from_millis(a.flush_interval.max(1)));
        let stats = ingest.stats.clone();
        let shared = Arc::new(grpc::Shared { ingest, token });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (g, h) = serve(&shared, grpc_l, http_l, tls.as_ref(), &stop_rx)?;
        drop(shared);
        let paths = "(/v1/traces, /v1/logs, /v1/metrics; /metrics)";
        let into = format!("storing into {} — Ctrl-C stops", store.display());
        match &tls {
            None => say!("receiving OTLP on grpc://{grpc_addr} and http://{http_addr} {paths}, {into}"),
            Some(t) => say!(
                "receiving OTLP over TLS{} on https://{grpc_addr} (gRPC) and https://{http_addr} {paths}, {into}",
                if t.mutual { " (client certificates required)" } else { "" },
            ),
        }
        let tty = std::io::stderr().is_terminal() && !quiet;
        // The live line, on a terminal only.
        let live = tty.then(|| {
            let stats = stats.clone();
            tokio::spawn(async move {
                let mut last = [0u64; 3];
                let mut last_services = BTreeMap::new();
                let mut t = Instant::now();
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let line = live_line(&stats, &mut last, &mut last_services, t.elapsed().as_secs_f64().max(1e-3));
                    t = Instant::now();
                    say_raw!("\r\x1b[2K{line}");
                }
            })
        });
        stopped().await;
        if let Some(live) = live {
            live.abort();
            say_raw!("\r\x1b[2K");
        }
        say!("stopping: answering what is in flight, then converting what is pending…");
        let _ = stop_tx.send(true);
        if let Ok(Err(e)) = g.await {
            say!("error: the gRPC server: {e}");
        }
        if let Ok(Err(e)) = h.await {
            say!("error: the HTTP server: {e}");
        }
        tokio::task::spawn_blocking(move || writer.finish()).await.ok();
        let lost = final_counts(&stats, tls.as_ref());
        if lost {
            say!("warning: some acknowledged items are still in the log (a conversion failed); they are converted at the next start");
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}
