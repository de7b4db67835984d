//! `--es-url URL`: log records and decisions indexed with `_bulk` (Elasticsearch, OpenSearch).

use tsim_model::Lines;
use tsim_model::esbulk::EsBulkEncoder;
use tsim_sinks::Signal;
use tsim_sinks::elasticsearch::{EsAuth, EsConfig, EsSink};

use super::{Built, Ctx, Wired, http_timeout, none};
use crate::args::ranged;

/// The flags of the `_bulk` output.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Flags {
    /// Index application log records and decisions into Elasticsearch/OpenSearch at this URL (`_bulk`).
    #[arg(help_heading = "Elasticsearch", long, global = true, value_name = "URL")]
    pub es_url: Option<String>,

    /// Index for log records (`%Y %m %d %H` from the event time).
    #[arg(
        help_heading = "Elasticsearch",
        long,
        global = true,
        default_value = "taskpilot-logs-%Y.%m.%d",
        value_name = "TEMPLATE"
    )]
    pub es_index: String,

    /// Index for policy decisions.
    #[arg(
        help_heading = "Elasticsearch",
        long,
        global = true,
        default_value = "decision-logs-%Y.%m.%d",
        value_name = "TEMPLATE"
    )]
    pub es_decision_index: String,

    /// Basic-auth user for --es-url (with --es-password / ES_PASSWORD).
    #[arg(help_heading = "Elasticsearch", long, global = true, value_name = "USER")]
    pub es_user: Option<String>,

    /// Basic-auth password for --es-url.
    #[arg(help_heading = "Elasticsearch", long, global = true, hide_env_values = true, env = "ES_PASSWORD", value_name = "PASSWORD")]
    pub es_password: Option<String>,

    /// API key for --es-url (`Authorization: ApiKey …`).
    #[arg(help_heading = "Elasticsearch", long, global = true, hide_env_values = true, env = "ES_API_KEY", value_name = "KEY")]
    pub es_api_key: Option<String>,

    /// Most documents per `_bulk` request (1 to 100000).
    #[arg(help_heading = "Elasticsearch", long, global = true, default_value_t = 500, value_name = "N", value_parser = ranged::<1, 100_000>)]
    pub es_bulk_max_docs: u64,
}

pub(super) fn build<'a>(c: &'a Ctx<'a>, f: &'a Flags) -> Built<'a> {
    let Some(url) = &f.es_url else { return none() };
    tsim_sinks::check_url("--es-url", url)?;
    c.needs(Signal::Logs, "--es-url")?;
    let auth = match (&f.es_api_key, &f.es_user) {
        (Some(k), _) => Some(EsAuth::ApiKey(k.clone())),
        (None, Some(u)) => Some(EsAuth::Basic { user: u.clone(), password: f.es_password.clone().unwrap_or_default() }),
        (None, None) => None,
    };
    let cfg = EsConfig { url: url.clone(), auth, max_docs: f.es_bulk_max_docs as usize, max_bytes: 5 << 20, timeout: http_timeout(c.g) };
    let encoder = Lines::new(EsBulkEncoder::new(&f.es_index, &f.es_decision_index));
    let tls = c.http_tls()?;
    Ok(Box::pin(async move { Ok(vec![Wired::traces(EsSink::new(cfg, c.policy, &tls)?, encoder)]) }))
}
