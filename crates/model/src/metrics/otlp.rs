//! Metrics as OTLP: an `ExportMetricsServiceRequest` in protobuf or OTLP/JSON.

use std::io::Write;

use super::*;
use crate::hex::push_hex;
use crate::num::i64_sat;
use crate::otlp_json::{write_f64, write_str};

impl MetricsAgg {
    /// An `ExportMetricsServiceRequest` of every series, cumulative from `start_ns` to `time_ns`.
    pub fn encode_proto(&self, resources: &Resources, start_ns: u64, time_ns: u64, out: &mut Vec<u8>) {
        out.clear();
        let mut scope = Vec::new();
        put_len_field(&mut scope, 1, resources.scope.name.as_bytes());
        put_len_field(&mut scope, 2, resources.scope.version.as_bytes());
        for (r, metrics) in self.layout() {
            let mut res = Vec::new();
            for (k, v) in &resources.list[r as usize].attrs {
                put_kv_owned(&mut res, 1, k, v);
            }
            let mut sm = Vec::new();
            put_len_field(&mut sm, 1, &scope);
            for (m, idx) in metrics {
                let def = &self.defs[m as usize];
                let mut metric = Vec::new();
                put_len_field(&mut metric, 1, def.name.as_bytes());
                if !def.description.is_empty() {
                    put_len_field(&mut metric, 2, def.description.as_bytes());
                }
                if !def.unit.is_empty() {
                    put_len_field(&mut metric, 3, def.unit.as_bytes());
                }
                let mut data = Vec::new();
                for i in idx {
                    let s = &self.series[i];
                    let mut p = Vec::new();
                    match &def.shape {
                        Shape::Counter | Shape::Gauge => {
                            // Gauges have no start time: a point is a reading at `time`.
                            if def.shape == Shape::Counter {
                                put_fixed64(&mut p, 2, start_ns);
                            }
                            put_fixed64(&mut p, 3, time_ns);
                            if def.integer {
                                put_tag(&mut p, 6, FIXED64);
                                p.extend_from_slice(&i64_sat(s.sum.round()).to_le_bytes());
                            } else {
                                put_fixed64(&mut p, 4, s.sum.to_bits());
                            }
                            for (k, v) in &s.attrs {
                                put_kv_owned(&mut p, 7, k, &OwnedValue::Str(v.clone()));
                            }
                        }
                        Shape::Histogram(bounds) => {
                            put_fixed64(&mut p, 2, start_ns);
                            put_fixed64(&mut p, 3, time_ns);
                            put_fixed64(&mut p, 4, s.count);
                            put_fixed64(&mut p, 5, s.sum.to_bits());
                            put_tag(&mut p, 6, LEN);
                            put_varint(&mut p, 8 * s.buckets.len() as u64);
                            for b in &s.buckets {
                                p.extend_from_slice(&b.to_le_bytes());
                            }
                            put_tag(&mut p, 7, LEN);
                            put_varint(&mut p, 8 * bounds.len() as u64);
                            for b in bounds {
                                p.extend_from_slice(&b.to_bits().to_le_bytes());
                            }
                            if let Some(e) = &s.exemplar {
                                let mut x = Vec::new();
                                put_fixed64(&mut x, 2, e.time_ns);
                                put_fixed64(&mut x, 3, e.value.to_bits());
                                put_len_field(&mut x, 4, &e.span_id);
                                put_len_field(&mut x, 5, &e.trace_id);
                                put_len_field(&mut p, 8, &x);
                            }
                            for (k, v) in &s.attrs {
                                put_kv_owned(&mut p, 9, k, &OwnedValue::Str(v.clone()));
                            }
                            put_fixed64(&mut p, 11, s.min.to_bits());
                            put_fixed64(&mut p, 12, s.max.to_bits());
                        }
                    }
                    put_len_field(&mut data, 1, &p);
                }
                match &def.shape {
                    Shape::Gauge => put_len_field(&mut metric, 5, &data),
                    Shape::Counter => {
                        // aggregation_temporality = CUMULATIVE (2), is_monotonic
                        put_tag(&mut data, 2, VARINT);
                        put_varint(&mut data, 2);
                        put_tag(&mut data, 3, VARINT);
                        put_varint(&mut data, 1);
                        put_len_field(&mut metric, 7, &data);
                    }
                    Shape::Histogram(_) => {
                        put_tag(&mut data, 2, VARINT);
                        put_varint(&mut data, 2);
                        put_len_field(&mut metric, 9, &data);
                    }
                }
                put_len_field(&mut sm, 2, &metric);
            }
            let mut rm = Vec::new();
            put_len_field(&mut rm, 1, &res);
            put_len_field(&mut rm, 2, &sm);
            if !resources.schema_url.is_empty() {
                put_len_field(&mut rm, 3, resources.schema_url.as_bytes());
            }
            put_len_field(out, 1, &rm);
        }
    }

    /// The same as OTLP/JSON.
    pub fn encode_json(&self, resources: &Resources, start_ns: u64, time_ns: u64, o: &mut Vec<u8>) {
        o.clear();
        o.extend_from_slice(b"{\"resourceMetrics\":[");
        for (ri, (r, metrics)) in self.layout().into_iter().enumerate() {
            if ri > 0 {
                o.push(b',');
            }
            o.extend_from_slice(b"{\"resource\":{\"attributes\":[");
            for (j, (k, v)) in resources.list[r as usize].attrs.iter().enumerate() {
                if j > 0 {
                    o.push(b',');
                }
                crate::otlp_json::write_owned_kv(o, k, v);
            }
            o.extend_from_slice(b"]},\"scopeMetrics\":[{\"scope\":{\"name\":");
            write_str(o, &resources.scope.name);
            o.extend_from_slice(b",\"version\":");
            write_str(o, &resources.scope.version);
            o.extend_from_slice(b"},\"metrics\":[");
            for (mi, (m, idx)) in metrics.into_iter().enumerate() {
                let def = &self.defs[m as usize];
                if mi > 0 {
                    o.push(b',');
                }
                o.extend_from_slice(b"{\"name\":");
                write_str(o, &def.name);
                o.extend_from_slice(b",\"description\":");
                write_str(o, &def.description);
                o.extend_from_slice(b",\"unit\":");
                write_str(o, &def.unit);
                o.extend_from_slice(match def.shape {
                    Shape::Counter => b",\"sum\":{\"dataPoints\":[".as_slice(),
                    Shape::Gauge => b",\"gauge\":{\"dataPoints\":[".as_slice(),
                    Shape::Histogram(_) => b",\"histogram\":{\"dataPoints\":[".as_slice(),
                });
                for (pi, i) in idx.into_iter().enumerate() {
                    let s = &self.series[i];
                    if pi > 0 {
                        o.push(b',');
                    }
                    o.extend_from_slice(b"{\"attributes\":[");
                    for (j, (k, v)) in s.attrs.iter().enumerate() {
                        if j > 0 {
                            o.push(b',');
                        }
                        crate::otlp_json::write_owned_kv(o, k, &OwnedValue::Str(v.clone()));
                    }
                    if def.shape == Shape::Gauge {
                        let _ = write!(o, "],\"timeUnixNano\":\"{time_ns}\"");
                    } else {
                        let _ = write!(o, "],\"startTimeUnixNano\":\"{start_ns}\",\"timeUnixNano\":\"{time_ns}\"");
                    }
                    match &def.shape {
                        Shape::Counter | Shape::Gauge => {
                            if def.integer {
                                let _ = write!(o, ",\"asInt\":\"{}\"}}", i64_sat(s.sum.round()));
                            } else {
                                o.extend_from_slice(b",\"asDouble\":");
                                write_f64(o, s.sum);
                                o.push(b'}');
                            }
                        }
                        Shape::Histogram(bounds) => {
                            let _ = write!(o, ",\"count\":\"{}\",\"sum\":", s.count);
                            write_f64(o, s.sum);
                            o.extend_from_slice(b",\"bucketCounts\":[");
                            for (j, b) in s.buckets.iter().enumerate() {
                                if j > 0 {
                                    o.push(b',');
                                }
                                let _ = write!(o, "\"{b}\"");
                            }
                            o.extend_from_slice(b"],\"explicitBounds\":[");
                            for (j, b) in bounds.iter().enumerate() {
                                if j > 0 {
                                    o.push(b',');
                                }
                                write_f64(o, *b);
                            }
                            o.push(b']');
                            if let Some(e) = &s.exemplar {
                                let _ = write!(o, ",\"exemplars\":[{{\"timeUnixNano\":\"{}\",\"asDouble\":", e.time_ns);
                                write_f64(o, e.value);
                                o.extend_from_slice(b",\"spanId\":\"");
                                push_hex(o, &e.span_id);
                                o.extend_from_slice(b"\",\"traceId\":\"");
                                push_hex(o, &e.trace_id);
                                o.extend_from_slice(b"\"}]");
                            }
                            o.extend_from_slice(b",\"min\":");
                            write_f64(o, s.min);
                            o.extend_from_slice(b",\"max\":");
                            write_f64(o, s.max);
                            o.push(b'}');
                        }
                    }
                }
                o.push(b']');
                if def.shape != Shape::Gauge {
                    o.extend_from_slice(b",\"aggregationTemporality\":2");
                }
                if def.shape == Shape::Counter {
                    o.extend_from_slice(b",\"isMonotonic\":true");
                }
                o.extend_from_slice(b"}}");
            }
            o.extend_from_slice(b"]}]");
            if !resources.schema_url.is_empty() {
                o.extend_from_slice(b",\"schemaUrl\":");
                write_str(o, &resources.schema_url);
            }
            o.push(b'}');
        }
        o.extend_from_slice(b"]}");
    }
}

fn put_kv_owned(b: &mut Vec<u8>, field: u32, key: &str, v: &OwnedValue) {
    crate::otlp_proto::put_owned_kv(b, field, key, v);
}
