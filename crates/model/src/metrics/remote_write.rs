//! Metrics as a Prometheus remote-write 1.0 `WriteRequest` (protobuf; the sink compresses it).

use super::*;

impl MetricsAgg {
    /// A Prometheus remote-write `WriteRequest` (protobuf, uncompressed) with one sample per
    /// series at `time_ms`.
    pub fn encode_remote_write(&self, resources: &Resources, time_ms: i64, out: &mut Vec<u8>) -> usize {
        out.clear();
        let series = self.prometheus_series(resources);
        let mut ts = Vec::new();
        for (labels, value) in &series {
            ts.clear();
            for (k, v) in labels {
                let mut l = Vec::new();
                put_len_field(&mut l, 1, k.as_bytes());
                put_len_field(&mut l, 2, v.as_bytes());
                put_len_field(&mut ts, 1, &l);
            }
            let mut sample = Vec::new();
            put_fixed64(&mut sample, 1, value.to_bits());
            put_tag(&mut sample, 2, VARINT);
            put_varint(&mut sample, time_ms.cast_unsigned());
            put_len_field(&mut ts, 2, &sample);
            put_len_field(out, 1, &ts);
        }
        series.len()
    }
}
