//! The integration tests of pinpipe-lake, in one binary (each test binary links DataFusion).

mod analyses;
mod batch;
mod chunking;
mod common;
mod engines;
mod golden;
mod hardening;
mod kafka_sink;
mod kinesis;
mod outage;
mod pieces;
mod report;
mod sink;
mod stream;
mod upkeep;
mod writers;
