//! User faults. Whatever a process does wrong stops that process and becomes a message to its
//! supervisor saying what happened and where; the kernel carries on.

use crate::object::Kernel;
use nimbus_abi::fault::FaultKind;
use nimbus_boot::status::ExitStatus;
use nimbus_kcore::esr::{ExceptionClass, FaultKind as Abort, Syndrome};
use nimbus_kcore::slab::Id;

/// How far below the stack pointer an unmapped access still counts as a stack overflow.
const STACK_SLACK: u64 = 64 * 1024;

/// Classifies a fault for the supervisor.
pub fn classify(syndrome: Syndrome, far: u64, sp: u64) -> FaultKind {
    match syndrome.class() {
        ExceptionClass::DataAbortLower | ExceptionClass::InstructionAbortLower => {
            match syndrome.abort().map(|a| a.kind) {
                Some(Abort::Translation)
                    if far < sp.saturating_add(4096) && far.saturating_add(STACK_SLACK) >= sp =>
                {
                    FaultKind::StackOverflow
                }
                Some(Abort::Translation | Abort::AddressSize) => FaultKind::UnmappedAddress,
                Some(Abort::Permission) => FaultKind::PermissionDenied,
                Some(Abort::Alignment) => FaultKind::Misaligned,
                _ => FaultKind::Other,
            }
        }
        ExceptionClass::PcAlignment | ExceptionClass::SpAlignment => FaultKind::Misaligned,
        ExceptionClass::Unknown | ExceptionClass::IllegalState => FaultKind::UndefinedInstruction,
        ExceptionClass::SystemRegister | ExceptionClass::FpAccess => {
            FaultKind::PrivilegedInstruction
        }
        ExceptionClass::Brk | ExceptionClass::Debug => FaultKind::Breakpoint,
        _ => FaultKind::Other,
    }
}

/// Stops the faulting thread's process and reports it.
pub fn handle(kernel: &mut Kernel, thread: Id, syndrome: Syndrome, far: u64) {
    let Some(t) = kernel.threads.get(thread) else {
        return;
    };
    let (pc, sp, process) = (t.context.elr, t.context.sp, t.process);
    // FAR holds the faulting address only for aborts that set it.
    let far = if syndrome.abort().is_some_and(|a| a.far_valid) {
        far
    } else {
        0
    };
    let kind = classify(syndrome, far, sp);

    let Some(p) = kernel.processes.get(process) else {
        return;
    };
    log::warn!(
        "process {} (pid {}) stopped: {} at {far:#x}, pc {pc:#x} ({syndrome})",
        p.name,
        process.index(),
        kind.describe()
    );
    if p.parent.is_none() {
        // Without the root task nothing supervises anything: the system cannot go on.
        crate::fatal!(
            ExitStatus::UnhandledException,
            "the root task faulted: {} at {far:#x}, pc {pc:#x} ({syndrome})",
            kind.describe()
        );
    }
    // Stopped either way; without a supervisor its creator finds out through ProcessStatus.
    kernel.fault_process(process, kind, far, pc, syndrome.0);
}
