//! The hot path, stage by stage: sample → build (engine) → encode (OTLP protobuf / JSON).
//! Throughput is in spans.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tsim_engine::{Engine, EngineConfig, Scratch};
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{TraceBuf, TraceEncoder};
use tsim_scenario::Catalog;

const START: u64 = 1_766_577_600_000_000_000;

fn bench(c: &mut Criterion) {
    let cat = Catalog::load(&[], "vendor").unwrap();
    let s = cat.find("successful_agent_turn").unwrap();
    let engine = Engine::new(&[s], &EngineConfig { seed: 1, ..Default::default() }).unwrap();
    let mut buf = TraceBuf::default();
    let mut scratch = Scratch::default();
    engine.generate(0, START, &mut buf, &mut scratch);
    let spans = buf.spans.len() as u64;

    let mut g = c.benchmark_group("agent_turn");
    g.throughput(Throughput::Elements(spans));
    let mut i = 0u64;
    g.bench_function("build", |b| {
        b.iter(|| {
            i += 1;
            engine.generate(i, START, &mut buf, &mut scratch);
        })
    });
    let mut enc = ProtoTraceEncoder::new();
    let mut out = Vec::new();
    engine.generate(0, START, &mut buf, &mut scratch);
    g.bench_function("encode_proto", |b| {
        b.iter(|| {
            enc.add(engine.resources(), 0, &buf);
            if enc.spans() >= 512 {
                enc.finish(engine.resources(), &mut out);
            }
        })
    });
    let mut jenc = JsonTraceEncoder::new();
    g.bench_function("encode_json", |b| {
        b.iter(|| {
            jenc.add(engine.resources(), 0, &buf);
            if jenc.spans() >= 512 {
                jenc.finish(engine.resources(), &mut out);
            }
        })
    });
    let mut agg = tsim_model::metrics::MetricsAgg::new();
    g.bench_function("metrics_add", |b| b.iter(|| agg.add(0, &buf)));
    let mut buf2 = TraceBuf::default();
    g.bench_function("build_and_encode_proto", |b| {
        b.iter(|| {
            i += 1;
            engine.generate(i, START, &mut buf2, &mut scratch);
            enc.add(engine.resources(), 0, &buf2);
            if enc.spans() >= 512 {
                enc.finish(engine.resources(), &mut out);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
