//! glibc's malloc, tuned for pinpipe's work before any thread starts. A setting is left to glibc
//! where the user chose it: its tunable in `GLIBC_TUNABLES`, or its own `MALLOC_*` variable.
//!
//! - **Arenas: 8**, rather than glibc's 8 per core. The batch writes its Parquet files on blocking
//!   threads beside the threads that clean, and each thread that found the arenas busy made
//!   another: a 3M-post batch then peaked at 1,143 MiB, against 830 MiB with 8 arenas, at the
//!   same speed (with 4 it was slower).
//! - **Arenas: 2 for the stream job**, which runs for long. The large short-lived buffers of Delta
//!   merges and checkpoints left each arena holding freed memory: at 500 records/s the resident
//!   size of `pinpipe bench stream` rose in steps at every checkpoint, 110 → 250 MiB in 4
//!   minutes; with two arenas it stayed between 150 and 170 MiB after the first checkpoint.
//! - **Blocks under 4 MiB come from the arenas, which keep up to 16 MiB free.** glibc's defaults
//!   move: a block is mapped on its own from 128 KiB until the first such block is freed, and an
//!   arena returns its free top to the kernel past twice that. The bus writer's batches and
//!   SQLite's copies of them (about 2 MB each under 100-record produce calls) then came as fresh
//!   pages, zeroed by the kernel, in some runs and not in others: 816,459 page faults in 6 s of
//!   `scripts/bench_gateway.sh`'s 100-record scenario, 42 per request, at 2,969 requests/s; 638
//!   to 1,625 with these settings, at 3,228 to 3,369 requests/s. The 1M-post batch ran as before
//!   (5.56 s and 606–658 MiB, against 5.47 s and 667–674 MiB).

/// Sets the allocator up; `stream_job` when this process runs the stream job.
pub fn tune(stream_job: bool) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let set = |parameter: libc::c_int, value: libc::c_int, tunable: &str, variable: &str| {
            if !tunables.contains(tunable) && std::env::var_os(variable).is_none() {
                // SAFETY: mallopt only tunes the allocator, before any other thread runs; a
                // value it refuses leaves the allocator as it was.
                unsafe {
                    libc::mallopt(parameter, value);
                }
            }
        };
        set(
            libc::M_ARENA_MAX,
            if stream_job { 2 } else { 8 },
            "glibc.malloc.arena_max",
            "MALLOC_ARENA_MAX",
        );
        set(
            libc::M_MMAP_THRESHOLD,
            4 << 20,
            "glibc.malloc.mmap_threshold",
            "MALLOC_MMAP_THRESHOLD_",
        );
        set(
            libc::M_TRIM_THRESHOLD,
            16 << 20,
            "glibc.malloc.trim_threshold",
            "MALLOC_TRIM_THRESHOLD_",
        );
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = stream_job;
}
