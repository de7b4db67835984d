//! The store's three tables and their columns, named as the OpenTelemetry Collector's
//! ClickHouse exporter names them (`otel_traces`, `otel_logs`, and its metric tables in one),
//! plus a few columns of our own: frequent attributes promoted so that scans need not open
//! the attribute maps.

use crate::columns::{Col, Kind};

/// One of the store's tables (a signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Spans (`signal=traces`).
    Traces,
    /// Log records (`signal=logs`).
    Logs,
    /// Metric data points (`signal=metrics`).
    Metrics,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 3] = [Table::Traces, Table::Logs, Table::Metrics];

    /// The signal's name, as in the partition directory `signal=NAME`.
    pub fn signal(self) -> &'static str {
        match self {
            Table::Traces => "traces",
            Table::Logs => "logs",
            Table::Metrics => "metrics",
        }
    }

    /// The table's name (the Parquet schema's name, and the ClickHouse exporter's).
    pub fn name(self) -> &'static str {
        match self {
            Table::Traces => "otel_traces",
            Table::Logs => "otel_logs",
            Table::Metrics => "otel_metrics",
        }
    }

    /// Its columns, in file order.
    pub fn columns(self) -> &'static [Col] {
        match self {
            Table::Traces => SPANS,
            Table::Logs => LOGS,
            Table::Metrics => METRICS,
        }
    }

    /// The Parquet leaf column a scalar column is (columns before it may have several).
    pub fn leaf(self, name: &str) -> Option<usize> {
        let i = self.column(name)?;
        Some(self.columns()[..i].iter().map(Col::leaves).sum())
    }

    /// The index of a column by name.
    pub fn column(self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }
}

use Kind::{Bool, F64, F64List, I32, I64, Map, MapList, Str, StrList, Time, TimeList, U64, U64List};

/// Columns of `otel_traces`: one row per span.
pub const SPANS: &[Col] = &[
    Col::new("Timestamp", Time),
    Col::new("TraceId", Str),
    Col::new("SpanId", Str),
    Col::new("ParentSpanId", Str),
    Col::new("TraceState", Str),
    Col::new("SpanName", Str),
    Col::new("SpanKind", Str),
    Col::new("ServiceName", Str),
    Col::new("ResourceAttributes", Map),
    Col::new("ScopeName", Str),
    Col::new("ScopeVersion", Str),
    Col::new("SpanAttributes", Map),
    Col::new("Duration", U64),
    Col::new("StatusCode", Str),
    Col::new("StatusMessage", Str),
    Col::new("Events.Timestamp", TimeList),
    Col::new("Events.Name", StrList),
    Col::new("Events.Attributes", MapList),
    Col::new("Links.TraceId", StrList),
    Col::new("Links.SpanId", StrList),
    Col::new("Links.TraceState", StrList),
    Col::new("Links.Attributes", MapList),
    // Promoted attributes (null when the span has none of their keys).
    Col::optional("AgentName", Str),
    Col::optional("Operation", Str),
    Col::optional("Model", Str),
    Col::optional("InputTokens", I64),
    Col::optional("OutputTokens", I64),
    Col::optional("ToolName", Str),
    Col::optional("ErrorType", Str),
    Col::optional("WorkflowId", Str),
    Col::optional("WorkflowName", Str),
    Col::optional("TenantId", Str),
    Col::optional("Component", Str),
    Col::optional("Scenario", Str),
    // When the receiver got it (null for what was imported or written by a run).
    Col::optional("ReceivedTime", Time),
];

/// Columns of `otel_logs`: one row per log record.
pub const LOGS: &[Col] = &[
    Col::new("Timestamp", Time),
    Col::new("TraceId", Str),
    Col::new("SpanId", Str),
    Col::new("TraceFlags", I32),
    Col::new("SeverityText", Str),
    Col::new("SeverityNumber", I32),
    Col::new("ServiceName", Str),
    Col::new("Body", Str),
    Col::new("ResourceSchemaUrl", Str),
    Col::new("ResourceAttributes", Map),
    Col::new("ScopeSchemaUrl", Str),
    Col::new("ScopeName", Str),
    Col::new("ScopeVersion", Str),
    Col::new("ScopeAttributes", Map),
    Col::new("LogAttributes", Map),
    // Promoted.
    Col::optional("EventName", Str),
    Col::optional("AgentName", Str),
    Col::optional("ErrorType", Str),
    Col::optional("TenantId", Str),
    Col::optional("Scenario", Str),
    Col::optional("ArtifactPath", Str),
    Col::optional("ReviewStatus", Str),
    Col::optional("ReceivedTime", Time),
];

/// Columns of `otel_metrics`: one row per data point, of every metric type (the ClickHouse
/// exporter's `otel_metrics_gauge`, `_sum` and `_histogram` in one table; `MetricType` says
/// which, and the columns another type has are null or empty).
pub const METRICS: &[Col] = &[
    Col::new("ResourceAttributes", Map),
    Col::new("ResourceSchemaUrl", Str),
    Col::new("ScopeName", Str),
    Col::new("ScopeVersion", Str),
    Col::new("ScopeAttributes", Map),
    Col::new("ScopeSchemaUrl", Str),
    Col::new("ServiceName", Str),
    Col::new("MetricName", Str),
    Col::new("MetricDescription", Str),
    Col::new("MetricUnit", Str),
    Col::new("MetricType", Str),
    Col::new("Attributes", Map),
    Col::new("StartTimeUnix", Time),
    Col::new("TimeUnix", Time),
    Col::optional("Value", F64),
    Col::new("Flags", I32),
    Col::new("AggregationTemporality", I32),
    Col::new("IsMonotonic", Bool),
    Col::optional("Count", I64),
    Col::optional("Sum", F64),
    Col::new("BucketCounts", U64List),
    Col::new("ExplicitBounds", F64List),
    Col::optional("Min", F64),
    Col::optional("Max", F64),
    Col::new("Exemplars.TimeUnix", TimeList),
    Col::new("Exemplars.Value", F64List),
    Col::new("Exemplars.SpanId", StrList),
    Col::new("Exemplars.TraceId", StrList),
    Col::new("Exemplars.FilteredAttributes", MapList),
    Col::optional("ReceivedTime", Time),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_schema() {
        for t in Table::ALL {
            let s = crate::columns::schema(t.name(), t.columns()).expect("schema");
            assert_eq!(s.get_fields().len(), t.columns().len());
        }
        assert_eq!(Table::Traces.column("Duration"), Some(12));
    }
}
