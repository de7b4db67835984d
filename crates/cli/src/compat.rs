//! What users of the Python telemetry-simulator 1.x type, read as ours: the environment
//! variables it reads that clap cannot bind to one flag (several names for one setting).
//! Flags of that tool are declared where ours are, as aliases or flags of their own.

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::args::Global;
use crate::resolve::env;

/// Fills settings the command line left unset from the Python tool's variables:
/// `TELEMETRY_SIMULATOR_VENDOR_NAME` / `VENDOR` (the attribute prefix), `SEMCONV` (the
/// semantic-convention schema), `TELEMETRY_SIMULATOR_TENANT_ID` (one tenant) and
/// `TENANT_WEIGHTS` (their weights). Our own names win over these.
pub fn fill_from_env(g: &mut Global, matches: &ArgMatches) {
    if matches.value_source("attr_prefix") == Some(ValueSource::DefaultValue)
        && let Some(v) = ["TELEMETRY_SIMULATOR_VENDOR_NAME", "VENDOR"].iter().find_map(|k| nonempty(k))
    {
        g.attr_prefix = v;
    }
    if g.schema_path.is_none() {
        g.schema_path = nonempty("SEMCONV").map(Into::into);
    }
    if g.tenants.is_none() {
        g.tenants = g.tenant_id.clone().or_else(|| nonempty("TELEMETRY_SIMULATOR_TENANT_ID"));
    }
    if g.tenant_weights.is_none() {
        g.tenant_weights = nonempty("TENANT_WEIGHTS");
    }
}

/// A variable that is set and not blank.
fn nonempty(k: &str) -> Option<String> {
    env(k).filter(|v| !v.trim().is_empty())
}
