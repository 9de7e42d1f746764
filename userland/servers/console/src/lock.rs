//! A lock for the console's threads that yields instead of spinning.
//!
//! The console's threads share one priority; on one CPU a thread that spun on a lock held by a
//! preempted thread would burn its whole time slice before the holder could finish. Yielding
//! hands the CPU to the holder at once.

use nimbus_rt::sys;
use spin::{Mutex, MutexGuard};

/// Mutual exclusion between the console's threads.
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
