//! Interrupt dispatch: what each INTID means to the kernel.
//!
//! SGIs carry cross-CPU wake-ups (a CPU must look at its run queue again), the timer PPI drives
//! timeouts and time slices, and device interrupts are forwarded to the userland driver that
//! holds them. Interrupts are taken only in user mode and where the kernel waits for one; the
//! kernel itself runs with IRQs masked.

use crate::arch::aarch64::{gic, timer};
use crate::object::{self, Kernel};
use crate::{sched, smp};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// SGI that wakes a CPU to look at its mailbox and run queue.
pub const SGI_WAKE: u32 = 0;

static TIMER_INTID: AtomicU32 = AtomicU32::new(u32::MAX);
static SCHEDULING: AtomicBool = AtomicBool::new(false);

/// Records which INTID the generic timer raises.
pub fn set_timer_intid(intid: u32) {
    TIMER_INTID.store(intid, Ordering::Relaxed);
}

/// The generic timer's INTID.
pub fn timer_intid() -> u32 {
    TIMER_INTID.load(Ordering::Relaxed)
}

/// From now on interrupts drive the scheduler (userland has started).
pub fn start_scheduling() {
    SCHEDULING.store(true, Ordering::Release);
}

/// Whether interrupts drive the scheduler yet.
pub fn scheduling() -> bool {
    SCHEDULING.load(Ordering::Acquire)
}

/// Enables the interrupts this CPU handles itself: the wake-up SGI and its timer.
pub fn enable_cpu_local(cpu: usize) -> Result<(), gic::GicError> {
    timer::init_cpu();
    gic::enable(SGI_WAKE, cpu, true)?;
    gic::enable(timer_intid(), cpu, false)
}

fn dispatch(intid: u32, cpu: usize, mut kernel: Option<&mut Kernel>) {
    if intid == SGI_WAKE {
        smp::this_cpu().count_wake();
        if let Some(c) = kernel
            .as_deref_mut()
            .and_then(|k| k.sched.cpus.get_mut(cpu))
        {
            c.resched = true;
        }
    } else if intid == timer_intid() {
        timer::disarm();
        smp::this_cpu().count_timer_irq();
        if let Some(k) = kernel {
            k.on_timer(cpu);
        }
    } else if !kernel.is_some_and(|k| k.device_interrupt(intid)) {
        log::warn!("interrupt {intid} has no handler; masking it (cpu {cpu})");
        gic::mask(intid);
    }
}

fn handle_pending(cpu: usize, mut kernel: Option<&mut Kernel>) {
    while let Some(intid) = gic::acknowledge() {
        dispatch(intid, cpu, kernel.as_deref_mut());
        gic::end_of_interrupt(intid);
    }
}

/// Handles whatever interrupts are pending, for a CPU that holds the kernel lock with IRQs masked
/// (an idle CPU that WFI woke).
pub fn handle_pending_locked(cpu: usize, kernel: &mut Kernel) {
    handle_pending(cpu, Some(kernel));
}

/// Called from the EL1 IRQ vector (a CPU waiting in the kernel).
pub fn handle_irq() {
    let cpu = smp::current_cpu();
    if scheduling() {
        let mut kernel = object::lock();
        handle_pending(cpu, Some(&mut kernel));
    } else {
        handle_pending(cpu, None);
    }
}

/// Called from the EL0 IRQ vector: handle, then return to whatever should run now.
pub fn handle_irq_from_user() {
    let cpu = smp::current_cpu();
    let mut kernel = object::lock();
    handle_pending(cpu, Some(&mut kernel));
    sched::exit_to_user(kernel, cpu);
}
