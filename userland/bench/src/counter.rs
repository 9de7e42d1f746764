//! The virtual counter (CNTVCT_EL0), which the kernel lets user mode read.
//!
//! The `isb` before the read keeps the read from being taken early, ahead of the instructions it
//! is meant to follow. Both reads are asm blocks that may touch memory as far as the compiler
//! knows, so it does not move loads or stores across a timestamp.

/// The counter now, in ticks.
#[inline(always)]
pub fn now() -> u64 {
    let ticks: u64;
    // SAFETY: reading CNTVCT_EL0 is allowed at EL0 (the kernel sets CNTKCTL_EL1.EL0VCTEN) and
    // has no side effects; `isb` only orders instructions.
    unsafe {
        core::arch::asm!(
            "isb",
            "mrs {ticks}, cntvct_el0",
            ticks = out(reg) ticks,
            options(nostack, preserves_flags),
        );
    }
    ticks
}

/// Ticks per second (CNTFRQ_EL0).
pub fn frequency() -> u64 {
    let hz: u64;
    // SAFETY: CNTFRQ_EL0 is readable at EL0 whenever the counter is (EL0VCTEN); a plain read.
    unsafe {
        core::arch::asm!(
            "mrs {hz}, cntfrq_el0",
            hz = out(reg) hz,
            options(nostack, nomem, preserves_flags),
        );
    }
    hz
}
