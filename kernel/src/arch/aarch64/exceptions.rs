//! Exception handling: the vector table (`vectors.S`) and the Rust side of it.
//!
//! Anything the kernel does not expect gets a readable report — the exception class decoded from
//! ESR, the fault address, where it happened and every register — and stops the kernel with
//! [`ExitStatus::UnhandledException`]. Nothing a device or userland does may lead here; only
//! kernel bugs do.

use crate::{arch::aarch64::probe, arch::aarch64::semihosting, fatal, irq};
use aarch64_cpu::registers::{VBAR_EL1, Writeable};
use nimbus_boot::status::ExitStatus;
use nimbus_kcore::esr::Syndrome;

core::arch::global_asm!(include_str!("vectors.S"));

/// Everything saved on exception entry, in the layout `vectors.S` writes.
#[repr(C)]
pub struct ExceptionFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// Stack pointer before the exception.
    pub sp: u64,
    /// Return address.
    pub elr: u64,
    /// Saved PSTATE.
    pub spsr: u64,
    /// Syndrome.
    pub esr: u64,
    /// Fault address.
    pub far: u64,
    /// FP status and control.
    pub fpsr: u64,
    /// FP control.
    pub fpcr: u64,
    /// q0..q31.
    pub q: [u128; 32],
}

const _: () = assert!(core::mem::size_of::<ExceptionFrame>() == 816);

unsafe extern "C" {
    static exception_vectors: u8;
}

/// Points VBAR_EL1 at the vector table. Every CPU does this first.
pub fn install_vectors() {
    // SAFETY: address of the linker symbol, not read.
    let base = unsafe { &exception_vectors as *const u8 as u64 };
    VBAR_EL1.set(base);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

const SOURCES: [&str; 4] = ["EL1 with SP_EL0", "EL1", "EL0 (AArch64)", "EL0 (AArch32)"];
const KINDS: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

#[unsafe(no_mangle)]
extern "C" fn exception_entry(frame: &mut ExceptionFrame, kind: u64) {
    match kind {
        4 => {
            if probe::fixup(frame) || semihosting::fixup(frame) {
                return;
            }
            unexpected(frame, kind)
        }
        5 => irq::handle_irq(),
        _ => unexpected(frame, kind),
    }
}

fn unexpected(frame: &ExceptionFrame, kind: u64) -> ! {
    let source = SOURCES.get((kind / 4) as usize).copied().unwrap_or("?");
    let what = KINDS.get((kind % 4) as usize).copied().unwrap_or("?");
    let syndrome = Syndrome(frame.esr);
    fatal::report(format_args!(
        "unhandled {what} exception from {source} on cpu {}: {syndrome}",
        crate::smp::current_cpu()
    ));
    fatal::report_detail(format_args!(
        "  ELR {:#018x}  FAR {:#018x}  SPSR {:#010x}  SP {:#018x}",
        frame.elr, frame.far, frame.spsr, frame.sp
    ));
    for row in 0..8 {
        let mut line = heapless::String::<128>::new();
        for col in 0..4 {
            let reg = row * 4 + col;
            if let Some(value) = frame.x.get(reg) {
                let _ = core::fmt::Write::write_fmt(
                    &mut line,
                    format_args!("  x{reg:<2} {value:#018x}"),
                );
            }
        }
        fatal::report_detail(format_args!("{line}"));
    }
    fatal::stop(ExitStatus::UnhandledException)
}
