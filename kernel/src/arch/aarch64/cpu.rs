//! Per-CPU register access: identity, counter, interrupt masking, waiting.

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTPCT_EL0, DAIF, MPIDR_EL1, Readable, Writeable};

/// The affinity fields of MPIDR_EL1 (Aff3..Aff0), as device trees write CPU `reg` values.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & 0xff_00ff_ffff
}

/// The physical counter.
pub fn counter() -> u64 {
    barrier::isb(barrier::SY);
    CNTPCT_EL0.get()
}

/// Counter ticks per second.
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// Whether IRQs are masked on this CPU.
pub fn irqs_masked() -> bool {
    DAIF.read(DAIF::I) != 0
}

/// Masks IRQs on this CPU.
pub fn mask_irqs() {
    DAIF.write(DAIF::D::Masked + DAIF::A::Masked + DAIF::I::Masked + DAIF::F::Masked);
}

/// Unmasks IRQs (and SErrors) on this CPU.
pub fn unmask_irqs() {
    DAIF.write(DAIF::D::Masked + DAIF::A::Unmasked + DAIF::I::Unmasked + DAIF::F::Masked);
}

/// Masks IRQs until dropped, then restores the previous state.
pub struct IrqGuard {
    was_masked: bool,
}

impl IrqGuard {
    /// Masks IRQs.
    pub fn new() -> Self {
        let was_masked = irqs_masked();
        mask_irqs();
        Self { was_masked }
    }
}

impl Drop for IrqGuard {
    fn drop(&mut self) {
        if !self.was_masked {
            unmask_irqs();
        }
    }
}

/// Waits until an interrupt is pending, then lets it (and any other pending one) run its
/// handler, and returns with IRQs masked again.
///
/// Call it with IRQs masked, after checking there is nothing to do: WFI wakes on a pending
/// interrupt even while IRQs are masked, so an interrupt that arrives after the check is not
/// lost. (Unmasking before WFI would let it be handled just before WFI, which would then sleep
/// with the work it created left undone.)
pub fn wait_for_interrupt() {
    // SAFETY: WFI with IRQs masked only waits; the short unmasked window lets the installed
    // handlers run; the clobber tells the compiler that caller-saved registers do not survive
    // (handlers preserve the rest).
    unsafe {
        core::arch::asm!(
            "wfi",
            "msr daifclr, #2",
            "isb",
            "msr daifset, #2",
            clobber_abi("C"),
            options(nostack)
        );
    }
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    mask_irqs();
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Cleans and invalidates the data cache line holding `addr` to the point of coherency.
pub fn clean_dcache_line(addr: u64) {
    // SAFETY: cache maintenance by VA has no effect on program semantics.
    unsafe {
        core::arch::asm!("dc civac, {0}", "dsb sy", in(reg) addr, options(nostack, preserves_flags));
    }
}

/// Signals an event to all CPUs (wakes CPUs waiting in WFE, e.g. on a spin-table).
pub fn send_event() {
    aarch64_cpu::asm::sev();
}

core::arch::global_asm!(
    ".section .text.run_on_stack, \"ax\"",
    ".global run_on_stack_asm",
    "run_on_stack_asm:",
    "    mov sp, x0",
    "    mov x0, x2",
    "    mov x29, xzr",
    "    mov x30, xzr",
    "    br x1",
);

unsafe extern "C" {
    fn run_on_stack_asm(top: u64, f: usize, arg: usize) -> !;
}

/// Abandons the current stack and calls `f(arg)` on the stack whose top is `top`.
pub fn run_on_stack<T>(top: u64, f: extern "C" fn(&T) -> !, arg: &T) -> ! {
    // SAFETY: `top` is the top of a mapped, otherwise unused stack; `arg` stays valid because
    // the stack it lives on is abandoned, never reused, and `f` never returns.
    unsafe { run_on_stack_asm(top, f as usize, arg as *const T as usize) }
}

/// Waits for an interrupt with IRQs left masked: a pending interrupt ends WFI even so, and the
/// caller then polls the interrupt controller itself.
pub fn wait_for_interrupt_masked() {
    // SAFETY: WFI only waits; it changes no state.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// How the kernel's spin locks wait: the YIELD hint between attempts.
///
/// On hardware YIELD costs next to nothing. Under QEMU's single-threaded TCG (what `-icount`
/// forces) it hands the host thread to the next virtual CPU; without it a CPU spinning on a lock
/// held by a descheduled CPU would spin until the next timer deadline, or forever if there is none.
pub struct YieldRelax;

impl spin::RelaxStrategy for YieldRelax {
    #[inline(always)]
    fn relax() {
        // SAFETY: YIELD is a hint with no architectural effect.
        unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
    }
}
