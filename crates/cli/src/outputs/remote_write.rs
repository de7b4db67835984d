//! `--remote-write URL`: Prometheus remote write 1.0 (snappy protobuf; 5xx retried, 4xx never).

use tsim_sinks::Signal;
use tsim_sinks::remote_write::RemoteWriteSink;

use super::{Built, Ctx, Wired, http_headers, http_timeout, none};

/// The flag of the remote-write output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Send the metrics by Prometheus remote write to this URL (e.g. http://127.0.0.1:9090/api/v1/write).
    #[arg(help_heading = "Metrics", long, global = true, value_name = "URL")]
    pub remote_write: Option<String>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(url) = &f.remote_write else { return none() };
    tsim_sinks::check_url("--remote-write", url)?;
    c.needs(Signal::Metrics, "--remote-write")?;
    let headers = http_headers(c.g)?;
    let tls = c.http_tls()?;
    Ok(Box::pin(async move {
        Ok(vec![Wired::shared(RemoteWriteSink::new(url, &headers, http_timeout(c.g), c.policy, &tls)?)])
    }))
}
