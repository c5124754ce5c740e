//! Poisoned-lock recovery, written once. A panic while a lock was held (a bug, caught
//! at the job's task boundary) must not take every later request down with it, so the
//! value a poisoned lock holds is used as is; where that needs an argument, the owner
//! of the lock gives it (`DocumentStore`, `ChainStore`).

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn read<T: ?Sized>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

pub fn write<T: ?Sized>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f`, which blocks on the filesystem, without stalling the other tasks of the
/// worker thread it is called on: on the multi-threaded runtime the worker's queue is
/// handed to another thread meanwhile. Elsewhere (a current-thread runtime, no
/// runtime) it just runs.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn poison<G>(f: impl FnOnce() -> G + std::panic::UnwindSafe) {
        let _ = std::panic::catch_unwind(|| {
            let _guard = f();
            panic!("poisoning the lock on purpose");
        });
    }

    #[test]
    fn a_poisoned_mutex_still_gives_its_value() {
        let m = Mutex::new(1);
        poison(|| lock(&m));
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }

    #[test]
    fn a_poisoned_rwlock_still_reads_and_writes() {
        let l = RwLock::new(String::from("a"));
        poison(|| write(&l));
        assert!(l.is_poisoned());
        write(&l).push('b');
        assert_eq!(*read(&l), "ab");
    }
}
