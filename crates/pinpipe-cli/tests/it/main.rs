//! End-to-end tests of the `pinpipe` binary: real processes, real HTTP, SIGKILL.

mod at_scale;
mod cluster;
mod crash;
mod hardening;
mod observe;
mod original_client;
mod outage;
mod pipeline;
mod process;
mod schedule;
mod stream;
