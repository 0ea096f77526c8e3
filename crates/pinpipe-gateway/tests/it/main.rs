//! Gateway tests over real HTTP against the embedded bus: the wire formats of SPEC §3, bad
//! input, API keys and metrics.

mod clients;
mod fuzz;
mod hardening;
mod harness;
mod kinesis;
mod kinesis_api;
mod rest;
mod security;
