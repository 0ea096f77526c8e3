//! The integration tests of pinpipe-lake, in one binary (each test binary links DataFusion).

mod analyses;
mod batch;
mod common;
mod golden;
mod pieces;
mod report;
mod stream;
mod upkeep;
