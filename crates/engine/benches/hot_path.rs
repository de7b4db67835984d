//! The hot path, stage by stage: sample → build (engine) → encode (OTLP protobuf / JSON,
//! application log, decision log, metrics), plus the arrival schedule. Throughput is in
//! spans for trace stages, in samples / points / arrivals for the others.

#![allow(clippy::unwrap_used)] // a benchmark fails loudly where its setup breaks

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tsim_engine::{Arrivals, Engine, EngineConfig, Sampler, Schedule, Scratch, Traffic};
use tsim_model::applog::AppLogEncoder;
use tsim_model::decision::DecisionEncoder;
use tsim_model::otlp_json::JsonTraceEncoder;
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{Lines, TraceBuf, TraceEncoder};
use tsim_scenario::Catalog;
use tsim_scenario::{Dist, NumDist};

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
    let mut applog = Lines::new(AppLogEncoder::new());
    g.bench_function("encode_app_log", |b| {
        b.iter(|| {
            applog.add(engine.resources(), 0, &buf);
            if applog.spans() >= 512 {
                applog.finish(engine.resources(), &mut out);
            }
        })
    });
    let mut decisions = Lines::new(DecisionEncoder::new());
    g.bench_function("encode_decision_log", |b| {
        b.iter(|| {
            decisions.add(engine.resources(), 0, &buf);
            decisions.finish(engine.resources(), &mut out);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("metrics_export");
    g.throughput(Throughput::Elements(agg.points() as u64));
    g.bench_function("encode_proto", |b| b.iter(|| agg.encode_proto(engine.resources(), START, START + 1, &mut out)));
    g.bench_function("encode_prometheus", |b| b.iter(|| agg.encode_prometheus(engine.resources(), &mut out)));
    g.finish();

    let mut g = c.benchmark_group("samplers");
    g.throughput(Throughput::Elements(1));
    let mut rng = tsim_engine::rng::trace_rng(1, 1);
    for (name, dist) in [
        ("lognormal", Dist::LogNormal { mu: 5.0, sigma: 0.5 }),
        ("normal", Dist::Normal { mean: 100.0, stddev: 10.0 }),
        ("exponential", Dist::Exponential { mean: 50.0 }),
        ("pareto", Dist::Pareto { scale: 10.0, shape: 2.0 }),
        ("poisson", Dist::Poisson { lambda: 4.0 }),
    ] {
        let s = Sampler::new(&NumDist { dist, min: None, max: None }, None).unwrap();
        g.bench_function(name, |b| b.iter(|| s.sample(&mut rng)));
    }
    g.finish();

    let mut g = c.benchmark_group("schedule");
    g.throughput(Throughput::Elements(1));
    for (name, arrivals, traffic) in [
        ("constant_flat", Arrivals::Constant, Traffic::Flat),
        ("poisson_flat", Arrivals::Poisson, Traffic::Flat),
        ("poisson_weekly", Arrivals::Poisson, Traffic::Weekly),
    ] {
        let sched = Schedule::new(START, 1e5, arrivals, traffic, 1);
        let mut clock = sched.clock();
        g.bench_function(name, |b| b.iter(|| clock.next_arrival()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
