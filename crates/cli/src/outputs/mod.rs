//! The outputs of a run, one module each: the flags that make it, the checks of those flags,
//! how its sinks are built and, when no other output shares it, its encoder and its I/O.
//! The run walks [`OUTPUTS`] in order (the summary lists the sinks in that order).
//!
//! Adding an output is a folder here and its name in the [`outputs!`] list below. The folder's
//! `mod.rs` holds `Flags` (a `clap::Args` struct, flattened into the global options) and
//! `build`, which checks the flags and returns the future that opens the sinks; `build` of
//! every output runs before any of those futures, so a bad flag stops the run before a file
//! is created or a connection made. A sink gets its bytes from a format several outputs
//! share (OTLP, text) or from the encoder its output hands over in [`Wired`]
//! (see `influx/`: its flags, line-protocol encoder and HTTP sink).

use std::sync::Arc;

use anyhow::Result;
use tsim_model::TraceEncoder;
use tsim_model::metrics::MetricsEncoder;
use tsim_sinks::otlp::{OtlpConfig, RetryPolicy};
use tsim_sinks::tls::{ClientTls, TlsCache, TlsSettings};
use tsim_sinks::{BoxFuture, Signal, Sink};

use crate::args::Global;
use crate::live::Live;

/// Declares the outputs, in the order of the summary: their modules, the flags of all of them
/// ([`Flags`], one field per output) and [`OUTPUTS`].
macro_rules! outputs {
    ($($output:ident),* $(,)?) => {
        $(mod $output;)*

        /// The flags of every output (each output's own struct, flattened).
        #[derive(Debug, Clone, clap::Args)]
        #[group(skip)]
        pub struct Flags {
            $(
                #[allow(missing_docs)]
                #[command(flatten)]
                pub $output: $output::Flags,
            )*
        }

        /// Every output's `build`, in the order of the summary.
        const OUTPUTS: &[Build] = &[$({
            fn build<'a>(c: &'a Ctx<'a>) -> Built<'a> {
                $output::build(c, &c.g.outputs.$output)
            }
            build
        }),*];
    };
}

outputs! {
    otlp,
    discard,
    files,
    output_file,
    app_log,
    loggers,
    decision_log,
    artifact_log,
    prometheus,
    remote_write,
    openmetrics,
    influx,
    elasticsearch,
    store,
    frames,
    stdout,
}

/// What every output's `build` may read.
pub struct Ctx<'a> {
    /// The global flags (with every output's [`Flags`]).
    pub g: &'a Global,
    /// The signals of the run.
    pub signals: &'a [Signal],
    /// The OTLP exporters resolved from flags and environment, per signal, with their TLS.
    pub otlp: &'a [(Signal, OtlpConfig, ClientTls)],
    /// The run's loaded TLS.
    pub tls: &'a TlsCache,
    /// The TLS of the flags alone (`--ca-cert`, …), the network outputs' that are not OTLP.
    pub flags_tls: TlsSettings,
    /// The retry policy of network sinks.
    pub policy: RetryPolicy,
    /// The live counters (served with `--prometheus-listen`).
    pub live: Arc<Live>,
    /// Traces this shard will generate, when bounded.
    pub expected: Option<u64>,
}

impl Ctx<'_> {
    /// The TLS of the network outputs that are not OTLP, loaded at the first call (an
    /// output's `build` calls it, so that a bad file stops the run before any connection).
    fn http_tls(&self) -> Result<ClientTls> {
        Ok(self.tls.load(&self.flags_tls)?)
    }

    /// A usage error unless `signal` is among the run's signals.
    fn needs(&self, signal: Signal, flag: &str) -> Result<()> {
        if !self.signals.contains(&signal) {
            usage!("{flag} needs {} among --signals", signal.as_str());
        }
        Ok(())
    }
}

/// Who makes a sink's bytes.
pub enum Encoder {
    /// The encoder of the sink's format, shared by every sink of that format and signal.
    Shared,
    /// The output's own encoder of spans or log records.
    Traces(Box<dyn TraceEncoder + Send>),
    /// The output's own encoder of metrics.
    Metrics(Box<dyn MetricsEncoder + Send>),
}

/// A sink and who makes its bytes.
pub struct Wired {
    /// The sink.
    pub sink: Box<dyn Sink>,
    /// Its encoder.
    pub encoder: Encoder,
}

impl Wired {
    /// A sink fed by the shared encoder of its format.
    fn shared(sink: impl Sink + 'static) -> Self {
        Self { sink: Box::new(sink), encoder: Encoder::Shared }
    }

    /// A sink fed by its output's own encoder of spans or log records.
    fn traces(sink: impl Sink + 'static, encoder: impl TraceEncoder + Send + 'static) -> Self {
        Self { sink: Box::new(sink), encoder: Encoder::Traces(Box::new(encoder)) }
    }

    /// A sink fed by its output's own encoder of metrics.
    fn metrics(sink: impl Sink + 'static, encoder: impl MetricsEncoder + Send + 'static) -> Self {
        Self { sink: Box::new(sink), encoder: Encoder::Metrics(Box::new(encoder)) }
    }
}

/// What an output's `build` returns once its flags are checked: the future that opens its
/// sinks (none when its flags are not given).
type Built<'a> = Result<BoxFuture<'a, Result<Vec<Wired>>>>;

/// Checks an output's flags and returns the future that opens its sinks.
type Build = for<'a> fn(&'a Ctx<'a>) -> Built<'a>;

/// The future of an output that opens nothing.
fn none<'a>() -> Built<'a> {
    Ok(Box::pin(async { Ok(Vec::new()) }))
}

/// The sinks of every output the flags ask for: every output's flags are checked first,
/// then the sinks are opened in order.
pub async fn build_all(ctx: &Ctx<'_>) -> Result<Vec<Wired>> {
    let opening = OUTPUTS.iter().map(|build| build(ctx)).collect::<Result<Vec<_>>>()?;
    let mut sinks = Vec::new();
    for open in opening {
        sinks.extend(open.await?);
    }
    Ok(sinks)
}

/// The user's `--header` values, for the HTTP outputs that are not OTLP.
fn http_headers(g: &Global) -> Result<Vec<(String, String)>> {
    Ok(g.headers.iter().map(|h| tsim_sinks::otlp::config::parse_headers(h)).collect::<Result<Vec<_>, _>>()?.concat())
}

/// The request timeout of the HTTP outputs that are not OTLP (`--timeout`, default 10 s).
fn http_timeout(g: &Global) -> std::time::Duration {
    std::time::Duration::from_millis(g.timeout.unwrap_or(10_000))
}
