//! What users of the Python telemetry-simulator 1.x type, read as ours: the environment
//! variables it reads that clap cannot bind to one flag (several names for one setting).
//! Flags of that tool are declared where ours are, as aliases or flags of their own.

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::args::Global;
use crate::resolve::env;

/// Fills settings the command line left unset from the Python tool's variables:
/// `TELEMETRY_SIMULATOR_VENDOR_NAME` / `VENDOR` (the attribute prefix), `SEMCONV` (the
/// semantic-convention schema), `--tenant-id` / `TELEMETRY_SIMULATOR_TENANT_ID` (one tenant)
/// and `TENANT_WEIGHTS` (their weights). Our own variables win over these; flags over both.
pub fn fill_from_env(g: &mut Global, matches: &ArgMatches) {
    if matches.value_source("attr_prefix") == Some(ValueSource::DefaultValue)
        && let Some(v) = ["TELEMETRY_SIMULATOR_VENDOR_NAME", "VENDOR"].iter().find_map(|k| nonempty(k))
    {
        g.attr_prefix = v;
    }
    if g.schema_path.is_none() {
        g.schema_path = nonempty("SEMCONV").map(Into::into);
    }
    // `--tenant-id` (clap also reads TELEMETRY_SIMULATOR_TENANT_ID into it): given on the
    // command line it wins over TELEMETRY_TENANT_UUIDS (not over `--tenants`); from the
    // variable it fills a gap.
    let typed = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if g.tenant_id.is_some() && (g.tenants.is_none() || (typed("tenant_id") && !typed("tenants"))) {
        g.tenants = g.tenant_id.clone();
    }
    if g.tenant_weights.is_none() {
        g.tenant_weights = nonempty("TENANT_WEIGHTS");
    }
}

/// A variable that is set and not blank.
fn nonempty(k: &str) -> Option<String> {
    env(k).filter(|v| !v.trim().is_empty())
}
