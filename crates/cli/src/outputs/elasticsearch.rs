//! `--es-url URL`: log records and decisions indexed with `_bulk` (Elasticsearch, OpenSearch).

use anyhow::Result;
use tsim_sinks::elasticsearch::{EsAuth, EsConfig, EsSink};
use tsim_sinks::{BoxFuture, Signal, Sink};

use super::{Ctx, http_timeout};

pub(super) fn build<'a>(c: &'a Ctx<'a>) -> BoxFuture<'a, Result<Vec<Box<dyn Sink>>>> {
    Box::pin(async move {
        let g = c.g;
        let Some(url) = &g.es_url else { return Ok(Vec::new()) };
        c.needs(Signal::Logs, "--es-url")?;
        let auth = match (&g.es_api_key, &g.es_user) {
            (Some(k), _) => Some(EsAuth::ApiKey(k.clone())),
            (None, Some(u)) => {
                Some(EsAuth::Basic { user: u.clone(), password: g.es_password.clone().unwrap_or_default() })
            }
            (None, None) => None,
        };
        let cfg = EsConfig {
            url: url.clone(),
            auth,
            max_docs: g.es_bulk_max_docs as usize,
            max_bytes: 5 << 20,
            timeout: http_timeout(g),
        };
        Ok(vec![Box::new(EsSink::new(cfg, c.policy)?) as Box<dyn Sink>])
    })
}
