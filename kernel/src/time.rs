//! Time since the kernel was entered, from the architectural counter.

use crate::arch::aarch64::cpu;
use core::sync::atomic::{AtomicU64, Ordering};

static ENTRY_TICKS: AtomicU64 = AtomicU64::new(0);

/// Records the counter value the entry code read first thing.
pub fn record_entry(ticks: u64) {
    ENTRY_TICKS.store(ticks, Ordering::Relaxed);
}

/// Converts counter ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    let freq = cpu::counter_frequency().max(1);
    ((u128::from(ticks) * 1_000_000_000) / u128::from(freq)) as u64
}

/// Converts nanoseconds to counter ticks (rounding up).
pub fn ns_to_ticks(ns: u64) -> u64 {
    let freq = cpu::counter_frequency().max(1);
    (u128::from(ns) * u128::from(freq)).div_ceil(1_000_000_000) as u64
}

/// Nanoseconds since the kernel was entered.
pub fn since_entry_ns() -> u64 {
    ticks_to_ns(cpu::counter().saturating_sub(ENTRY_TICKS.load(Ordering::Relaxed)))
}
