//! A size-limited file system of a test's own, to fill up: a tmpfs mounted on a temporary
//! directory (root only), unmounted when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::skip_or_panic;

/// A mounted tmpfs of a fixed size.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `megabytes` MiB, or `None` when the developer skips such tests.
    ///
    /// # Panics
    /// When the mount fails (it needs root, as in CI), saying so.
    pub fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            Some(Self { dir })
        } else {
            skip_or_panic(
                "this test mounts a size-limited tmpfs to fill its disk, which needs root (CI runs \
                 as root); set PINPIPE_SKIP_SERVER_TESTS=1 to skip it",
            )
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills it with a ballast file that leaves `megabytes` MiB free; removing the file frees
    /// the space again.
    pub fn ballast_leaving(&self, megabytes: u64) -> PathBuf {
        let output = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(self.path())
            .output()
            .expect("run df");
        let available: u64 = String::from_utf8_lossy(&output.stdout)
            .lines()
            .nth(1)
            .and_then(|line| line.trim().parse().ok())
            .expect("df tells the free space");
        let size = available.saturating_sub(megabytes * 1024 * 1024);
        let path = self.path().join(format!("ballast-{size}"));
        std::fs::write(&path, vec![0u8; usize::try_from(size).expect("fits")])
            .expect("write the ballast");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
