//! Gateway tests over real HTTP against the embedded bus: the wire formats of SPEC §3, bad
//! input, API keys and metrics.

mod fuzz;
mod hardening;
mod harness;
mod kinesis;
mod rest;
mod security;
