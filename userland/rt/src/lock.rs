//! A lock for the threads of one process that yields the CPU instead of spinning.
//!
//! Threads of a server usually share one priority; on one CPU a thread spinning on a lock held by
//! a preempted (or blocked) thread would burn its whole time slice before the holder could
//! finish. Yielding hands the CPU to the holder at once.

use crate::sys;
use spin::{Mutex, MutexGuard};

/// Mutual exclusion between a process's threads.
pub struct Lock<T>(Mutex<T>);

impl<T> Lock<T> {
    /// A lock around `value`.
    pub const fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    /// Waits for the lock, yielding the CPU while someone else holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        loop {
            if let Some(guard) = self.0.try_lock() {
                return guard;
            }
            sys::yield_now();
        }
    }
}
