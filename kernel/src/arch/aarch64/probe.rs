//! Memory probes that survive faults: they report whether an access was permitted instead of
//! crashing the kernel. The kernel tests use them to check W^X and the extent of the mappings.
//!
//! Each probe's faulting instruction is a known symbol; the synchronous exception handler sends a
//! fault there to `probe_failed`, which returns 1.

use crate::arch::aarch64::exceptions::ExceptionFrame;
use core::sync::atomic::{AtomicU64, Ordering};

core::arch::global_asm!(
    ".section .text.probe, \"ax\"",
    ".global probe_read_u64",
    "probe_read_u64:",
    ".global probe_read_insn",
    "probe_read_insn:",
    "    ldr x1, [x0]",
    "    str x1, [x2]",
    "    mov x0, #0",
    "    ret",
    ".global probe_write_u8",
    "probe_write_u8:",
    ".global probe_write_insn",
    "probe_write_insn:",
    "    strb w1, [x0]",
    "    mov x0, #0",
    "    ret",
    ".global probe_exec",
    "probe_exec:",
    "    mov x9, x30",
    "    blr x0",
    ".global probe_exec_return",
    "probe_exec_return:",
    "    mov x30, x9",
    "    mov x0, #0",
    "    ret",
    ".global probe_exec_failed",
    "probe_exec_failed:",
    "    mov x30, x9",
    ".global probe_failed",
    "probe_failed:",
    "    mov x0, #1",
    "    ret",
);

unsafe extern "C" {
    #[cfg(feature = "ktest")]
    fn probe_read_u64(addr: u64, _unused: u64, out: *mut u64) -> u64;
    #[cfg(feature = "ktest")]
    fn probe_write_u8(addr: u64, value: u64) -> u64;
    #[cfg(feature = "ktest")]
    fn probe_exec(addr: u64) -> u64;
    static probe_read_insn: u8;
    static probe_write_insn: u8;
    static probe_exec_return: u8;
    static probe_exec_failed: u8;
    static probe_failed: u8;
}

fn symbol(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// Reads the word at `addr`, or `None` if the access faults.
#[cfg(feature = "ktest")]
pub fn read_u64(addr: u64) -> Option<u64> {
    let mut value = 0;
    // SAFETY: a faulting load is caught by `fixup`; a successful one only reads.
    let failed = unsafe { probe_read_u64(addr, 0, &mut value) };
    (failed == 0).then_some(value)
}

/// Writes `value` to the byte at `addr`; false if the access faults.
///
/// # Safety
///
/// If the write succeeds it really happens: `addr` must be memory the caller may change.
#[cfg(feature = "ktest")]
pub unsafe fn write_u8(addr: u64, value: u8) -> bool {
    // SAFETY: a faulting store is caught by `fixup`; the caller vouches for a successful one.
    unsafe { probe_write_u8(addr, value.into()) == 0 }
}

/// Calls the code at `addr`; false if fetching it faults.
///
/// # Safety
///
/// If `addr` is executable the code there runs: it must be a function that preserves x9 and
/// returns.
#[cfg(feature = "ktest")]
pub unsafe fn exec(addr: u64) -> bool {
    // SAFETY: a faulting fetch is caught by `fixup`; the caller vouches for the code otherwise.
    unsafe { probe_exec(addr) == 0 }
}

static LAST_FAULT_ESR: AtomicU64 = AtomicU64::new(0);
static LAST_FAULT_FAR: AtomicU64 = AtomicU64::new(0);

/// Syndrome and fault address of the last fault a probe caught (for tests of the exception path).
#[cfg(feature = "ktest")]
pub fn last_fault() -> (u64, u64) {
    (
        LAST_FAULT_ESR.load(Ordering::Relaxed),
        LAST_FAULT_FAR.load(Ordering::Relaxed),
    )
}

/// Redirects a fault raised by a probe to its failure return; says whether it did.
pub fn fixup(frame: &mut ExceptionFrame) -> bool {
    let caught = redirect(frame);
    if caught {
        LAST_FAULT_ESR.store(frame.esr, Ordering::Relaxed);
        LAST_FAULT_FAR.store(frame.far, Ordering::Relaxed);
    }
    caught
}

fn redirect(frame: &mut ExceptionFrame) -> bool {
    use nimbus_kcore::esr::{ExceptionClass, Syndrome};
    // SAFETY: addresses of linker symbols, not read.
    let (read, write, exec_return, exec_failed, failed) = unsafe {
        (
            symbol(&probe_read_insn),
            symbol(&probe_write_insn),
            symbol(&probe_exec_return),
            symbol(&probe_exec_failed),
            symbol(&probe_failed),
        )
    };
    match Syndrome(frame.esr).class() {
        ExceptionClass::DataAbortSame if frame.elr == read || frame.elr == write => {
            frame.elr = failed;
            true
        }
        ExceptionClass::InstructionAbortSame if frame.x[30] == exec_return => {
            frame.elr = exec_failed;
            true
        }
        _ => false,
    }
}
