//! The integration tests of the command line, one test binary (one link, one build of the
//! helpers) with a module per area, the way cargo's own test suite is laid out. Each test
//! starts the built binary and the real peers it needs on 127.0.0.1 (see [`common`]); the
//! data they read stays beside this folder (`tests/snapshots`, `tests/golden`,
//! `tests/python1x`, `tests/paper_metrics.yaml`).

#![allow(clippy::unwrap_used)] // a test fails loudly where its assumption breaks

mod common;

mod alerts;
mod builtins;
mod cli;
mod dashboards;
mod elasticsearch;
mod export_order;
mod faults;
mod filelog;
mod first_hour;
mod fresh;
mod golden;
mod incidents;
mod load;
mod openmetrics;
mod otlp_peers;
mod prometheus;
mod python1x;
mod readme;
mod receive;
mod report;
mod scenario_properties;
mod stack;
mod tls;
mod verify;
mod victoria;
