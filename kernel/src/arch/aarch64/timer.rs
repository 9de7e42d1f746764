//! The Arm generic timer: the EL1 virtual timer, whose interrupt is a per-CPU PPI.

use aarch64_cpu::registers::{
    CNTKCTL_EL1, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0, ReadWriteable, Readable, Writeable,
};

/// The virtual counter.
pub fn now() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTVCT_EL0.get()
}

/// Fires this CPU's timer interrupt once the virtual counter reaches `deadline`.
pub fn arm_at(deadline: u64) {
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Fires this CPU's timer interrupt `ticks` counter ticks from now.
#[cfg(feature = "ktest")]
pub fn arm_in(ticks: u64) {
    arm_at(now().saturating_add(ticks));
}

/// Stops this CPU's timer (and drops its interrupt line).
pub fn disarm() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR + CNTV_CTL_EL0::IMASK::SET);
}

/// Sets up this CPU's timer: disarmed, and the virtual counter readable from EL0 (user code can
/// time itself without a system call; the timers themselves stay the kernel's).
pub fn init_cpu() {
    disarm();
    CNTKCTL_EL1.modify(
        CNTKCTL_EL1::EL0VCTEN::SET
            + CNTKCTL_EL1::EL0PCTEN::CLEAR
            + CNTKCTL_EL1::EL0VTEN::CLEAR
            + CNTKCTL_EL1::EL0PTEN::CLEAR,
    );
}
