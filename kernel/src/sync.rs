//! The kernel's spin locks: `spin`'s ticket locks, waiting with the YIELD hint (see
//! [`YieldRelax`]). Every lock in the kernel is one of these.

use crate::arch::aarch64::cpu::YieldRelax;

/// A fair (ticket) spin lock.
pub type Mutex<T> = spin::mutex::TicketMutex<T, YieldRelax>;

/// What [`Mutex::lock`] returns.
pub type MutexGuard<'a, T> = spin::mutex::TicketMutexGuard<'a, T, YieldRelax>;
