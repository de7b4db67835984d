//! `--influx-url URL`: the metrics as InfluxDB line protocol. The whole output is here: its
//! flag, its encoder ([`encode`]) and its sink ([`sink`]).

mod encode;
mod sink;

use tsim_sinks::Signal;

use super::{Built, Ctx, Wired, http_headers, http_timeout, none};

/// The flags of the line-protocol output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Write the metrics as InfluxDB line protocol to this URL (e.g. http://127.0.0.1:8428/api/v2/write).
    #[arg(id = "influx_url", help_heading = "Metrics", long = "influx-url", global = true, value_name = "URL")]
    pub url: Option<String>,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(url) = &f.url else { return none() };
    tsim_sinks::check_url("--influx-url", url)?;
    c.needs(Signal::Metrics, "--influx-url")?;
    let headers = http_headers(c.g)?;
    let tls = c.http_tls()?;
    Ok(Box::pin(async move {
        let sink = sink::InfluxSink::new(url, &headers, http_timeout(c.g), c.policy, &tls)?;
        Ok(vec![Wired::metrics(sink, encode::LineProtocol::default())])
    }))
}
