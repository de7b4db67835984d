//! OTLP/JSON metrics: data points of every type, their exemplars and buckets.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exemplar,
    exponential_histogram_data_point, metric, number_data_point, summary_data_point,
};

use super::*;

/// The `asDouble` or `asInt` of a data point or an exemplar.
enum Number {
    Double(f64),
    Int(i64),
}

impl Number {
    fn either<T>(self, double: impl FnOnce(f64) -> T, int: impl FnOnce(i64) -> T) -> T {
        match self {
            Number::Double(d) => double(d),
            Number::Int(i) => int(i),
        }
    }
}

fn number(o: &Map<String, Value>, at: &At<'_>) -> R<Option<Number>> {
    if let Some(v) = field(o, "asDouble") {
        Ok(Some(Number::Double(f64_of(v, &At::Field(at, "asDouble"))?)))
    } else if let Some(v) = field(o, "asInt") {
        Ok(Some(Number::Int(i64_of(v, &At::Field(at, "asInt"))?)))
    } else {
        Ok(None)
    }
}

fn exemplars(o: &Map<String, Value>, at: &At<'_>) -> R<Vec<Exemplar>> {
    each(o, "exemplars", at, |v, at| {
        let e = object(v, at)?;
        let value = number(e, at)?.map(|n| n.either(exemplar::Value::AsDouble, exemplar::Value::AsInt));
        Ok(Exemplar {
            filtered_attributes: each(e, "filteredAttributes", at, key_value)?,
            time_unix_nano: u64_field(e, "timeUnixNano", at)?,
            span_id: id(e, "spanId", 8, at)?,
            trace_id: id(e, "traceId", 16, at)?,
            value,
        })
    })
}

fn number_point(v: &Value, at: &At<'_>) -> R<NumberDataPoint> {
    let p = object(v, at)?;
    let value = number(p, at)?.map(|n| n.either(number_data_point::Value::AsDouble, number_data_point::Value::AsInt));
    Ok(NumberDataPoint {
        attributes: attributes(p, at)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", at)?,
        time_unix_nano: u64_field(p, "timeUnixNano", at)?,
        exemplars: exemplars(p, at)?,
        flags: u32_field(p, "flags", at)?,
        value,
    })
}

fn u64_list(o: &Map<String, Value>, name: &'static str, at: &At<'_>) -> R<Vec<u64>> {
    each(o, name, at, u64_of)
}

fn histogram_point(v: &Value, at: &At<'_>) -> R<HistogramDataPoint> {
    let p = object(v, at)?;
    Ok(HistogramDataPoint {
        attributes: attributes(p, at)?,
        start_time_unix_nano: u64_field(p, "startTimeUnixNano", at)?,
        time_unix_nano: u64_field(p, "timeUnixNano", at)?,
        count: u64_field(p, "count", at)?,
        sum: opt_f64(p, "sum", at)?,
        bucket_counts: u64_list(p, "bucketCounts", at)?,
        explicit_bounds: each(p, "explicitBounds", at, f64_of)?,
        exemplars: exemplars(p, at)?,
        flags: u32_field(p, "flags", at)?,
        min: opt_f64(p, "min", at)?,
        max: opt_f64(p, "max", at)?,
    })
}

fn buckets(
    p: &Map<String, Value>,
    name: &'static str,
    at: &At<'_>,
) -> R<Option<exponential_histogram_data_point::Buckets>> {
    let Some(v) = field(p, name) else { return Ok(None) };
    let at = At::Field(at, name);
    let b = object(v, &at)?;
    let offset = field(b, "offset").map_or(Ok(0), |v| i64_of(v, &At::Field(&at, "offset")))?;
    Ok(Some(exponential_histogram_data_point::Buckets {
        offset: i32::try_from(offset).map_or_else(|_| At::Field(&at, "offset").err("out of range"), Ok)?,
        bucket_counts: u64_list(b, "bucketCounts", &at)?,
    }))
}

fn metric(v: &Value, at: &At<'_>) -> R<Metric> {
    let m = object(v, at)?;
    let data = if let Some(v) = field(m, "gauge") {
        let a = At::Field(at, "gauge");
        Some(metric::Data::Gauge(Gauge { data_points: each(object(v, &a)?, "dataPoints", &a, number_point)? }))
    } else if let Some(v) = field(m, "sum") {
        let a = At::Field(at, "sum");
        let s = object(v, &a)?;
        Some(metric::Data::Sum(Sum {
            data_points: each(s, "dataPoints", &a, number_point)?,
            aggregation_temporality: enum_field(s, "aggregationTemporality", TEMPORALITIES, &a)?,
            is_monotonic: bool_field(s, "isMonotonic", &a)?,
        }))
    } else if let Some(v) = field(m, "histogram") {
        let a = At::Field(at, "histogram");
        let h = object(v, &a)?;
        Some(metric::Data::Histogram(Histogram {
            data_points: each(h, "dataPoints", &a, histogram_point)?,
            aggregation_temporality: enum_field(h, "aggregationTemporality", TEMPORALITIES, &a)?,
        }))
    } else if let Some(v) = field(m, "exponentialHistogram") {
        let a = At::Field(at, "exponentialHistogram");
        let h = object(v, &a)?;
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: each(h, "dataPoints", &a, |v, at| {
                let p = object(v, at)?;
                let scale = field(p, "scale").map_or(Ok(0), |v| i64_of(v, &At::Field(at, "scale")))?;
                Ok(ExponentialHistogramDataPoint {
                    attributes: attributes(p, at)?,
                    start_time_unix_nano: u64_field(p, "startTimeUnixNano", at)?,
                    time_unix_nano: u64_field(p, "timeUnixNano", at)?,
                    count: u64_field(p, "count", at)?,
                    sum: opt_f64(p, "sum", at)?,
                    scale: i32::try_from(scale).map_or_else(|_| At::Field(at, "scale").err("out of range"), Ok)?,
                    zero_count: u64_field(p, "zeroCount", at)?,
                    positive: buckets(p, "positive", at)?,
                    negative: buckets(p, "negative", at)?,
                    flags: u32_field(p, "flags", at)?,
                    exemplars: exemplars(p, at)?,
                    min: opt_f64(p, "min", at)?,
                    max: opt_f64(p, "max", at)?,
                    zero_threshold: opt_f64(p, "zeroThreshold", at)?.unwrap_or(0.0),
                })
            })?,
            aggregation_temporality: enum_field(h, "aggregationTemporality", TEMPORALITIES, &a)?,
        }))
    } else if let Some(v) = field(m, "summary") {
        let a = At::Field(at, "summary");
        Some(metric::Data::Summary(Summary {
            data_points: each(object(v, &a)?, "dataPoints", &a, |v, at| {
                let p = object(v, at)?;
                Ok(SummaryDataPoint {
                    attributes: attributes(p, at)?,
                    start_time_unix_nano: u64_field(p, "startTimeUnixNano", at)?,
                    time_unix_nano: u64_field(p, "timeUnixNano", at)?,
                    count: u64_field(p, "count", at)?,
                    sum: opt_f64(p, "sum", at)?.unwrap_or(0.0),
                    quantile_values: each(p, "quantileValues", at, |v, at| {
                        let q = object(v, at)?;
                        Ok(summary_data_point::ValueAtQuantile {
                            quantile: opt_f64(q, "quantile", at)?.unwrap_or(0.0),
                            value: opt_f64(q, "value", at)?.unwrap_or(0.0),
                        })
                    })?,
                    flags: u32_field(p, "flags", at)?,
                })
            })?,
        }))
    } else {
        None
    };
    Ok(Metric {
        name: string(m, "name", at)?,
        description: string(m, "description", at)?,
        unit: string(m, "unit", at)?,
        metadata: each(m, "metadata", at, key_value)?,
        data,
    })
}

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest` (or `MetricsData`).
pub fn metrics(bytes: &[u8]) -> Result<ExportMetricsServiceRequest, JsonError> {
    let doc = parse(bytes)?;
    let o = object(&doc, &At::Root)?;
    let resource_metrics = each(o, "resourceMetrics", &At::Root, |v, at| {
        let rm = object(v, at)?;
        Ok(ResourceMetrics {
            resource: resource(rm, at)?,
            scope_metrics: each(rm, "scopeMetrics", at, |v, at| {
                let sm = object(v, at)?;
                Ok(ScopeMetrics {
                    scope: scope(sm, at)?,
                    metrics: each(sm, "metrics", at, metric)?,
                    schema_url: string(sm, "schemaUrl", at)?,
                })
            })?,
            schema_url: string(rm, "schemaUrl", at)?,
        })
    })?;
    Ok(ExportMetricsServiceRequest { resource_metrics })
}
