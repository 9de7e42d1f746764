//! Semihosting: how a kernel under QEMU (`-semihosting-config enable=on`) hands an exit status to
//! the host. On hardware, or when QEMU has semihosting off, the `hlt #0xf000` is an undefined
//! instruction; the exception handler recognises this call site and makes it return failure, so
//! the caller can fall back to halting.

use crate::arch::aarch64::exceptions::ExceptionFrame;

core::arch::global_asm!(
    ".section .text.semihosting, \"ax\"",
    ".global semihosting_call",
    "semihosting_call:",
    "    hlt #0xf000",
    ".global semihosting_call_return",
    "semihosting_call_return:",
    "    ret",
);

unsafe extern "C" {
    fn semihosting_call(op: u64, param: u64) -> u64;
    static semihosting_call_return: u8;
}

const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;
const UNAVAILABLE: u64 = u64::MAX;

/// Asks the host to end the run with `status`. Returns only if semihosting is unavailable.
pub fn exit(status: u32) {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: SYS_EXIT reads the two-word parameter block, which lives on our stack; if
    // semihosting is off the exception handler turns the call into a return of UNAVAILABLE.
    let _ = unsafe { semihosting_call(SYS_EXIT, block.as_ptr() as u64) };
}

/// If `frame` is the undefined-instruction exception of a semihosting call, makes the call
/// return [`UNAVAILABLE`] and says so.
pub fn fixup(frame: &mut ExceptionFrame) -> bool {
    if frame.elr != semihosting_call as *const () as u64 {
        return false;
    }
    // SAFETY: address of a linker symbol, not read.
    frame.elr = unsafe { &semihosting_call_return as *const u8 as u64 };
    frame.x[0] = UNAVAILABLE;
    true
}
