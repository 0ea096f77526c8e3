//! The workspace-hack crate, managed by `cargo hakari` (`.config/hakari.toml`): it depends on
//! every third-party crate with the union of the features the workspace uses, so that
//! `cargo run -p pinpipe`, `cargo test --workspace` and any other build resolve shared
//! dependencies the same way and reuse one build. Regenerate with `cargo hakari generate`;
//! `scripts/test` fails when it is out of date.
