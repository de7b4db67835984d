//! `receive`: the command around the OTLP receiver of `tsim_receive` (gRPC and HTTP, storing
//! what it acknowledges) — its flags, the token file, the TLS files ([`tls`]), the start
//! line, the live line on a terminal, a clean stop on Ctrl-C or SIGTERM and its summary.

mod tls;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tsim_receive::{Counts, Listener, Notice, ReceiveError, Receiver, ReceiverConfig, Running, Table};

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
    counts: &Counts,
    last: &mut [u64; 3],
    last_services: &mut BTreeMap<(Table, String), u64>,
    secs: f64,
) -> String {
    let mut parts = Vec::new();
    for t in Table::ALL {
        let now = counts.of(t).acked;
        let rate = (now - last[t as usize]) as f64 / secs;
        last[t as usize] = now;
        let mut by: Vec<(&str, f64)> = counts
            .services
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
    last_services.clone_from(&counts.services);
    let stored: u64 = Table::ALL.iter().map(|t| counts.of(*t).stored).sum();
    format!("{} · stored {}", parts.join(" · "), si(stored as f64))
}

/// Prints what was acknowledged, stored and refused (and refused handshakes with TLS).
fn final_counts(counts: &Counts, tls: bool) {
    for t in Table::ALL {
        let s = counts.of(t);
        say!(
            "{:<8} {} items in {} requests acknowledged, {} stored, {} requests refused",
            t.signal(),
            s.acked,
            s.requests,
            s.stored,
            s.refused
        );
    }
    if tls {
        say!("tls      {} handshakes refused", counts.tls_refused);
    }
}

/// Refused handshakes printed at most (all are counted).
const SAID: u64 = 10;

/// Prints what the receiver reports while it runs.
fn print_notice(n: Notice) {
    match &n {
        Notice::HandshakeRefused { count, .. } if *count > SAID => {}
        Notice::HandshakeRefused { count, .. } => {
            let more = if *count == SAID { " (further refused handshakes are counted, not printed)" } else { "" };
            say!("{n}{more}");
        }
        _ => say!("{n}"),
    }
}

/// A start failure in the terms of the command line (a listener by its flag).
fn start_error(e: ReceiveError) -> anyhow::Error {
    match e {
        ReceiveError::Bind { listener, addr, source } => {
            let flag = match listener {
                Listener::Grpc => "--grpc-listen",
                Listener::Http => "--http-listen",
            };
            anyhow::Error::new(source).context(format!("{flag} {addr}: cannot listen"))
        }
        e => anyhow::Error::new(e),
    }
}

/// Prints the start line (after the segments the last run left, unless quiet).
fn start_line(running: &Running, store: &std::path::Path, tls: Option<bool>, quiet: bool) {
    let replayed = running.replayed();
    if !quiet && !replayed.is_empty() {
        let items: u64 = replayed.iter().map(tsim_store::Converted::items).sum();
        say!("converted {} log segment(s) left by the last run: {items} items", replayed.len());
    }
    let (grpc_addr, http_addr) = (running.grpc_addr(), running.http_addr());
    let paths = "(/v1/traces, /v1/logs, /v1/metrics; /metrics)";
    let into = format!("storing into {} — Ctrl-C stops", store.display());
    match tls {
        None => say!("receiving OTLP on grpc://{grpc_addr} and http://{http_addr} {paths}, {into}"),
        Some(mutual) => say!(
            "receiving OTLP over TLS{} on https://{grpc_addr} (gRPC) and https://{http_addr} {paths}, {into}",
            if mutual { " (client certificates required)" } else { "" },
        ),
    }
}

/// Redraws the live line every second, forever.
async fn live(running: &Running) {
    let mut last = [0u64; 3];
    let mut last_services = BTreeMap::new();
    let mut t = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let line = live_line(&running.stats(), &mut last, &mut last_services, t.elapsed().as_secs_f64().max(1e-3));
        t = Instant::now();
        say_raw!("\r\x1b[2K{line}");
    }
}

/// Runs the receiver until Ctrl-C or SIGTERM.
pub fn receive(a: &ReceiveArgs, store: Option<&std::path::Path>, quiet: bool) -> Result<ExitCode> {
    let store = store.map_or_else(|| PathBuf::from(super::DEFAULT_STORE), std::path::Path::to_path_buf);
    let token = token(a)?;
    let tls = tls::load(a)?;
    let mutual = tls.is_some().then_some(a.tls_client_ca.is_some());
    let config = ReceiverConfig {
        grpc_listen: a.grpc_listen.clone(),
        http_listen: a.http_listen.clone(),
        token,
        flush_interval: Duration::from_millis(a.flush_interval),
        tls,
        notify: Some(Arc::new(print_notice)),
        ..ReceiverConfig::new(store.clone())
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    rt.block_on(async move {
        let running = Receiver::start(config).await.map_err(start_error)?;
        start_line(&running, &store, mutual, quiet);
        // The live line, on a terminal only.
        let tty = std::io::stderr().is_terminal() && !quiet;
        tokio::select! {
            () = stopped() => {}
            () = live(&running), if tty => {}
        }
        if tty {
            say_raw!("\r\x1b[2K");
        }
        say!("stopping: answering what is in flight, then converting what is pending…");
        let summary = running.shutdown().await?;
        final_counts(&summary.counts, mutual.is_some());
        if summary.unconverted() {
            say!("warning: some acknowledged items are still in the log (a conversion failed); they are converted at the next start");
            return Ok(ExitCode::from(1));
        }
        Ok(ExitCode::SUCCESS)
    })
}
