//! How the process holds memory. Opening a large file passes its text through several
//! transient buffers (the frame, the framework's parsed message, the parameters)
//! before it settles in the rope. glibc serves blocks that large from its heap once its
//! dynamic mmap threshold has grown, and keeps freed heap memory resident: a 3 MB file
//! left the server ~10 MB larger than the text it holds. Fixing the thresholds makes
//! every large block its own mapping, returned to the system when freed.

/// Blocks of this size or more are mapped on their own and unmapped when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;

/// Free memory at the top of the heap beyond this is given back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 1024 * 1024;

/// Sets the allocator's thresholds; call once, first thing in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; it is called before any other
    // thread exists, and a refusal (return 0) leaves glibc's defaults in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
