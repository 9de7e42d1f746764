//! System calls in assembly, for the loops being timed.
//!
//! The figures should be the kernel's, so the user side of each loop is the `svc` and the few
//! instructions around it that the ABI requires (handle, message info, timeout, call number), plus
//! the loop's own decrement and branch. Those instructions are part of every figure; `cargo xtask
//! bench` lists them with each metric. The kernel preserves every register but x0..x7 (x8 keeps
//! the call number), which each block declares clobbered.

use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_abi::{Handle, Syscall};

const NOP: u64 = Syscall::Nop as u64;
const YIELD: u64 = Syscall::Yield as u64;
const CALL: u64 = Syscall::Call as u64;
const RECV: u64 = Syscall::Recv as u64;
const REPLY_RECV: u64 = Syscall::ReplyRecv as u64;
const SIGNAL: u64 = Syscall::Signal as u64;
const WAIT: u64 = Syscall::Wait as u64;

/// `n` (at least one) calls of `call`, which must take no arguments and change no memory (Nop,
/// Yield). User side per call: `svc`, `subs`, `b.ne`.
#[inline(always)]
fn argumentless_loop<const CALL_NUMBER: u64>(n: u64) {
    // SAFETY: the call takes no arguments and touches no user memory; the registers the kernel
    // may write are declared clobbered.
    unsafe {
        core::arch::asm!(
            "2:",
            "svc #0",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            n = inout(reg) n.max(1) => _,
            in("x8") CALL_NUMBER,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            options(nostack),
        );
    }
}

/// `n` (at least one) Nop calls. User side per call: `svc`, `subs`, `b.ne`.
#[inline(never)]
pub fn nop_loop(n: u64) {
    argumentless_loop::<NOP>(n);
}

/// `n` (at least one) Yield calls: each lets an equal-priority thread run. User side per call:
/// `svc`, `subs`, `b.ne`.
#[inline(never)]
pub fn yield_loop(n: u64) {
    argumentless_loop::<YIELD>(n);
}

/// Yields forever (the other side of the yield benchmark).
pub fn yield_forever() -> ! {
    // SAFETY: as in `yield_loop`; the loop never ends, and the process is killed from outside.
    unsafe {
        core::arch::asm!(
            "mov x8, #{call}",
            "2:",
            "svc #0",
            "b 2b",
            call = const YIELD,
            options(nostack, noreturn),
        );
    }
}

/// `n` (at least one) calls on `endpoint` with a register-only message (label
/// [`crate::peer::CALL_LABEL`]), stopping at the first error; returns the last status (0: all
/// went through). User side per call: three register moves, `svc`, `cbnz`, `subs`, `b.ne`.
#[inline(never)]
pub fn call_loop(endpoint: Handle, n: u64) -> u64 {
    let status: u64;
    // SAFETY: Call only writes the caller's registers (x0..x6, declared clobbered); a
    // register-only message makes the kernel touch no user memory.
    unsafe {
        core::arch::asm!(
            "2:",
            "mov x0, {endpoint}",
            "mov x1, #{label}",
            "mov x6, #{forever}",
            "svc #0",
            "cbnz x0, 3f",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            "3:",
            endpoint = in(reg) endpoint.raw(),
            n = inout(reg) n.max(1) => _,
            label = const crate::peer::CALL_LABEL,
            forever = const TIMEOUT_FOREVER,
            in("x8") CALL,
            out("x0") status, out("x1") _, out("x2") _, out("x3") _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            options(nostack),
        );
    }
    status
}

/// Serves `endpoint`: one Recv, then ReplyRecv for as long as it succeeds, answering each call
/// with the message it brought (x1..x5 as received). Returns the status that ended it. User side
/// per call: two register moves, `svc`, `cbz`.
pub fn serve(endpoint: Handle) -> u64 {
    let status: u64;
    // SAFETY: Recv and ReplyRecv only write the caller's registers (x0..x6, declared clobbered,
    // and x8 which the block sets); register-only messages make the kernel touch no user memory.
    unsafe {
        core::arch::asm!(
            "mov x0, {endpoint}",
            "mov x1, #{forever}",
            "mov x8, #{recv}",
            "svc #0",
            "cbnz x0, 3f",
            "mov x8, #{reply_recv}",
            "2:",
            "mov x0, {endpoint}",
            "mov x6, #{forever}",
            "svc #0",
            "cbz x0, 2b",
            "3:",
            endpoint = in(reg) endpoint.raw(),
            forever = const TIMEOUT_FOREVER,
            recv = const RECV,
            reply_recv = const REPLY_RECV,
            out("x0") status, out("x1") _, out("x2") _, out("x3") _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _,
            options(nostack),
        );
    }
    status
}

/// Signals bit 0 on `notification`; returns the status.
#[inline(always)]
pub fn signal(notification: Handle) -> u64 {
    let status: u64;
    // SAFETY: Signal only writes the caller's registers (declared clobbered).
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") SIGNAL,
            inout("x0") notification.raw() => status,
            inout("x1") 1u64 => _,
            out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            options(nostack),
        );
    }
    status
}

/// Waits on `notification` without a deadline; returns the status.
#[inline(always)]
pub fn wait(notification: Handle) -> u64 {
    let status: u64;
    // SAFETY: Wait only writes the caller's registers (declared clobbered).
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") WAIT,
            inout("x0") notification.raw() => status,
            inout("x1") TIMEOUT_FOREVER => _,
            out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            options(nostack),
        );
    }
    status
}

/// One instruction (`nop`) when `i` is odd, none when it is even, for one `tbz`.
///
/// The notification benchmark runs this before each timestamp: a period of P + 0, P + 1
/// instructions alternately makes every two iterations advance by 2P + 1, an odd number, so 32
/// iterations start at every phase of the 16-instruction counter tick exactly twice, and the
/// tick rounding of the one-way latencies averages out exactly (see `notify_wake` in `bench`).
#[inline(always)]
pub fn pad_odd(i: u64) {
    // SAFETY: a test-and-branch and a nop: no memory, no registers beyond the input.
    unsafe {
        core::arch::asm!(
            "tbz {i}, #0, 2f",
            "nop",
            "2:",
            i = in(reg) i,
            options(nostack, nomem),
        );
    }
}

/// `n` (at least one) runs of a block of exactly 100 instructions (98 `nop`, `subs`, `b.ne`),
/// the known quantity that checks the counter really counts instructions.
#[inline(never)]
pub fn hundred_instruction_loop(n: u64) {
    // SAFETY: nops and a loop counter: no memory, no other registers.
    unsafe {
        core::arch::asm!(
            "2:",
            ".rept 98",
            "nop",
            ".endr",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            n = inout(reg) n.max(1) => _,
            options(nostack, nomem),
        );
    }
}
