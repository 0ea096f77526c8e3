//! Integration tests of pinpipe-model (one test binary; each module one subject).

mod peer_raw;
mod props;
