//! Entry from user mode. `user.S` has saved the thread's registers into its context; these
//! handlers decide what the exception means and which thread runs next.

use crate::arch::aarch64::user::UserContext;
use crate::object::thread::ThreadState;
use crate::{irq, object, sched, smp, syscall, time, user_fault};
use nimbus_abi::Syscall;
use nimbus_kcore::esr::{ExceptionClass, Syndrome};

/// Synchronous exception from EL0: a system call or a fault.
#[unsafe(no_mangle)]
extern "C" fn el0_sync_handler(context: *mut UserContext, esr: u64, far: u64) {
    let syndrome = Syndrome(esr);
    let is_svc = syndrome.is_svc();
    if is_svc {
        // SAFETY: `context` is the running thread's context, just saved by the entry code; only
        // this CPU touches a running thread's registers, and the thread cannot be freed while it
        // is current here.
        let regs = unsafe { &mut *context };
        // Calls that touch no shared state skip the big lock.
        if regs.x[8] == Syscall::Nop as u64 {
            regs.x[0] = 0;
            return;
        }
        if regs.x[8] == Syscall::ClockNow as u64 {
            regs.x[0] = 0;
            regs.x[1] = time::since_entry_ns();
            return;
        }
    }
    let cpu = smp::current_cpu();
    let mut kernel = object::lock();
    // Call and ReplyRecv in their common case switch straight to the other thread and return.
    if is_svc && kernel.ipc_fast_path(cpu) {
        return;
    }
    general_path(kernel, cpu, syndrome, far);
}

/// Everything but the fast path, out of line so that the fast path does not pay for its frame.
#[inline(never)]
fn general_path(mut kernel: object::KernelGuard, cpu: usize, syndrome: Syndrome, far: u64) {
    let current = kernel.sched.cpus.get(cpu).and_then(|c| c.current);
    let running = current.filter(|t| {
        kernel
            .threads
            .get(*t)
            .is_some_and(|t| t.state == ThreadState::Running)
    });
    // A thread killed from another CPU while it ran gets here first: it just leaves.
    if let Some(thread) = running {
        match syndrome.class() {
            ExceptionClass::Svc => syscall::handle(&mut kernel, cpu, thread),
            ExceptionClass::WfiWfe => {
                // A trapped WFI is a polite yield.
                if let Some(t) = kernel.threads.get_mut(thread) {
                    t.context.elr += 4;
                }
                if let Some(c) = kernel.sched.cpus.get_mut(cpu) {
                    c.resched = true;
                }
            }
            _ => user_fault::handle(&mut kernel, thread, syndrome, far),
        }
    }
    sched::exit_to_user(kernel, cpu);
}

/// IRQ while in EL0.
#[unsafe(no_mangle)]
extern "C" fn el0_irq_handler() {
    irq::handle_irq_from_user();
}
