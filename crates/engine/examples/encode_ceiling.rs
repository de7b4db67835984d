//! The practical ceiling of the hot path: OTLP protobuf encoding alone, over pre-built
//! `successful_agent_turn` traces (no sampling, no tree building, no I/O).
//!
//! `cargo run --release -p tsim-engine --example encode_ceiling [SECONDS]` prints one JSON
//! line with spans per second on one core.

#![allow(clippy::unwrap_used)] // a benchmark fails loudly where its setup breaks

use std::time::{Duration, Instant};

use tsim_engine::{Engine, EngineConfig, Scratch};
use tsim_model::otlp_proto::ProtoTraceEncoder;
use tsim_model::{TraceBuf, TraceEncoder};
use tsim_scenario::Catalog;

const START: u64 = 1_766_577_600_000_000_000;

fn main() {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let cat = Catalog::load(&[], "vendor").expect("built-in scenarios");
    let s = cat.find("successful_agent_turn").expect("successful_agent_turn");
    let engine = Engine::new(&[s], &EngineConfig { seed: 1, ..Default::default() }).expect("engine");
    let mut scratch = Scratch::default();
    // 1024 distinct traces, built once.
    let traces: Vec<TraceBuf> = (0..1024)
        .map(|i| {
            let mut b = TraceBuf::default();
            engine.generate(i, START, &mut b, &mut scratch);
            b
        })
        .collect();
    let mut enc = ProtoTraceEncoder::new();
    let mut out = Vec::with_capacity(1 << 20);
    let (mut spans, mut bytes) = (0u64, 0u64);
    let started = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    while started.elapsed() < budget {
        for t in &traces {
            enc.add(engine.resources(), 0, t);
            spans += t.spans.len() as u64;
            if enc.spans() >= 512 {
                enc.finish(engine.resources(), &mut out);
                bytes += out.len() as u64;
                out.clear();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{{\"stage\": \"encode_only\", \"spans\": {spans}, \"seconds\": {secs:.3}, \"spans_per_second\": {:.0}, \"bytes\": {bytes}}}",
        spans as f64 / secs
    );
}
