//! The filesystem calls the server makes while answering requests (resolving a
//! file's real path, reading `.codexignore`), in one place and counted: a code action
//! asked for on every cursor move must cost no syscall once the rules are known, and
//! a test holds the server to that by reading [`calls`].
//!
//! Writes and the chain store's own file are not here: they happen once per answer or
//! at start, off the per-keystroke path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

fn count() {
    CALLS.fetch_add(1, Ordering::Relaxed);
}

/// How many calls this process has made through this module.
pub fn calls() -> u64 {
    CALLS.load(Ordering::Relaxed)
}

/// `std::fs::canonicalize`.
pub fn canonicalize(path: &Path) -> std::io::Result<PathBuf> {
    count();
    std::fs::canonicalize(path)
}

/// `std::fs::read`.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    count();
    std::fs::read(path)
}
