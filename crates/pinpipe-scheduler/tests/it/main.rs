//! The integration tests of pinpipe-scheduler, in one binary (each test binary links the lake's
//! DataFusion and delta-rs).

mod backfill;
mod batch_job;
mod catchup;
mod common;
mod concurrency;
mod retries;
