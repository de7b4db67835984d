//! `report cost`: LLM tokens and their cost in USD, by model and by agent. Tokens are the
//! spans' `gen_ai.usage.input_tokens` / `output_tokens`, the model their `Model`; a span's
//! agent is its own `AgentName`, else its parent's (an LLM call made by an agent run), else
//! its service in parentheses. Prices are USD per million tokens, per model.

use std::collections::{BTreeMap, HashMap};
use tsim_model::metrics::Price;
use tsim_store::Snapshot;

use serde_json::json;
use tsim_store::Table;

use crate::scan::rows;
use crate::stats::{Names, id_key};
use crate::{Filter, Report, ReportError, Section};

const COLUMNS: [&str; 7] =
    ["SpanId", "ParentSpanId", "AgentName", "Model", "InputTokens", "OutputTokens", "ServiceName"];

/// Tokens and cost of a group.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    input: u64,
    output: u64,
    usd: f64,
    spans: u64,
}

impl Usage {
    fn add(&mut self, input: u64, output: u64, usd: f64) {
        self.input += input;
        self.output += output;
        self.usd += usd;
        self.spans += 1;
    }
}

/// Groups by cost, largest first (then by tokens, then by name).
fn sorted(m: BTreeMap<&str, Usage>) -> Vec<(&str, Usage)> {
    let mut v: Vec<(&str, Usage)> = m.into_iter().collect();
    v.sort_by(|a, b| {
        b.1.usd.total_cmp(&a.1.usd).then((b.1.input + b.1.output).cmp(&(a.1.input + a.1.output))).then(a.0.cmp(b.0))
    });
    v
}

/// Tokens and cost by model and agent, at `prices`.
pub fn report(root: &Snapshot, f: &Filter, prices: &[Price]) -> Result<Report, ReportError> {
    let mut names = Names::default();
    // Agents by span, and the spans with tokens: (parent, own agent, model, in, out, service).
    let mut agent_of: HashMap<u64, u32> = HashMap::new();
    let mut used: Vec<(u64, Option<u32>, u32, u64, u64, u32)> = Vec::new();
    rows(root, Table::Traces, f, &COLUMNS, |b, i| {
        let c = |k: usize| &b.cols[k];
        let agent = c(2).str(i).map(|a| names.id(a));
        if let Some(a) = agent {
            agent_of.insert(id_key(c(0).bytes(i).unwrap_or(b"")), a);
        }
        let (input, output) = (c(4).int(i), c(5).int(i));
        if input.is_none() && output.is_none() {
            return;
        }
        let model = names.id(c(3).str(i).unwrap_or("(no model)"));
        let service = names.id(&format!("({})", c(6).str(i).unwrap_or("")));
        let t = |v: Option<i64>| v.unwrap_or(0).max(0).cast_unsigned();
        used.push((id_key(c(1).bytes(i).unwrap_or(b"")), agent, model, t(input), t(output), service));
    })?;
    let price: HashMap<&str, &Price> = prices.iter().map(|p| (p.model.as_str(), p)).collect();
    let mut by_model: BTreeMap<&str, Usage> = BTreeMap::new();
    let mut by_agent: BTreeMap<&str, Usage> = BTreeMap::new();
    let mut unpriced: BTreeMap<&str, u64> = BTreeMap::new();
    let mut total = Usage::default();
    for &(parent, own, model, input, output, service) in &used {
        let m = names.name(model);
        let usd = match price.get(m) {
            Some(p) => (input as f64 * p.input_per_million + output as f64 * p.output_per_million) / 1e6,
            None => {
                *unpriced.entry(m).or_default() += input + output;
                0.0
            }
        };
        let agent = own.or_else(|| agent_of.get(&parent).copied()).unwrap_or(service);
        by_model.entry(m).or_default().add(input, output, usd);
        by_agent.entry(names.name(agent)).or_default().add(input, output, usd);
        total.add(input, output, usd);
    }
    let (models, agents) = (sorted(by_model), sorted(by_agent));
    let section = |title: &str, first: &str, v: &[(&str, Usage)]| {
        let mut s = Section::new(title, &[first, "calls", "input tokens", "output tokens", "USD"]);
        for (k, u) in v {
            s.row(vec![
                (*k).to_owned(),
                u.spans.to_string(),
                u.input.to_string(),
                u.output.to_string(),
                format!("{:.4}", u.usd),
            ]);
        }
        s
    };
    let mut sections = vec![section("By model", "model", &models), section("By agent", "agent", &agents)];
    let mut t = Section::new("Total", &["", ""]);
    t.row(vec!["USD".into(), format!("{:.4}", total.usd)]);
    t.row(vec!["input tokens".into(), total.input.to_string()]);
    t.row(vec!["output tokens".into(), total.output.to_string()]);
    if !unpriced.is_empty() {
        t.row(vec![
            "tokens without a price".into(),
            unpriced.iter().map(|(m, n)| format!("{m}: {n}")).collect::<Vec<_>>().join(", "),
        ]);
    }
    sections.push(t);
    let doc = |k: &str, v: &[(&str, Usage)]| {
        v.iter()
            .map(|(name, u)| json!({k: name, "calls": u.spans, "inputTokens": u.input, "outputTokens": u.output, "cost": u.usd}))
            .collect::<Vec<_>>()
    };
    let json = json!({
        "currency": "USD",
        "byModel": doc("model", &models),
        "byAgent": doc("agent", &agents),
        "total": {"calls": total.spans, "inputTokens": total.input, "outputTokens": total.output, "cost": total.usd},
        "unpricedTokens": unpriced,
        "pricesPerMillion": prices.iter().map(|p| json!({"model": p.model, "input": p.input_per_million, "output": p.output_per_million})).collect::<Vec<_>>(),
    });
    let bars = |title: &str, v: &[(&str, Usage)]| crate::Chart::Bars {
        title: title.to_owned(),
        x_label: "USD".into(),
        bars: v.iter().map(|(k, u)| ((*k).to_owned(), u.usd)).collect(),
    };
    let charts = vec![bars("Cost by model", &models), bars("Cost by agent", &agents)];
    Ok(Report { title: "LLM cost".into(), sections, json, charts })
}
