//! The exception path: faults are decoded, and interrupts preserve the interrupted state.

use super::{Test, ensure};
use crate::arch::aarch64::{probe, timer};
use crate::{smp, time};
use alloc::string::String;
use nimbus_kcore::esr::{ExceptionClass, FaultKind, Syndrome};

pub const TESTS: &[Test] = &[
    Test {
        name: "exceptions::fault_is_decoded_with_address",
        run: fault_decoded,
    },
    Test {
        name: "exceptions::write_fault_reports_permission",
        run: permission_decoded,
    },
    Test {
        name: "exceptions::interrupt_preserves_fp_and_general_registers",
        run: irq_preserves_registers,
    },
];

fn fault_decoded() -> Result<(), String> {
    let unmapped = nimbus_boot::layout::VMAP_BASE + (1 << 35) + 0x123;
    ensure!(
        probe::read_u64(unmapped).is_none(),
        "read of unmapped {unmapped:#x} did not fault"
    );
    let (esr, far) = probe::last_fault();
    let syndrome = Syndrome(esr);
    ensure!(
        syndrome.class() == ExceptionClass::DataAbortSame,
        "class is {:?}",
        syndrome.class()
    );
    let abort = syndrome.abort().ok_or("no abort details")?;
    ensure!(
        abort.kind == FaultKind::Translation && !abort.write,
        "decoded as {syndrome}"
    );
    ensure!(far == unmapped, "FAR {far:#x}, expected {unmapped:#x}");
    Ok(())
}

fn permission_decoded() -> Result<(), String> {
    let text = permission_decoded as *const () as u64;
    // SAFETY: expected to fault (text is read-only).
    ensure!(!unsafe { probe::write_u8(text, 0) }, "text writable");
    let syndrome = Syndrome(probe::last_fault().0);
    let abort = syndrome.abort().ok_or("no abort details")?;
    ensure!(
        abort.kind == FaultKind::Permission && abort.write,
        "decoded as {syndrome}"
    );
    Ok(())
}

/// Loads known values into v8, v20 and x21, waits for a timer interrupt, and checks they survived.
fn irq_preserves_registers() -> Result<(), String> {
    let before = smp::this_cpu().timer_irqs();
    timer::arm_in(time::ns_to_ticks(1_000_000));
    let (v8_lo, v20_hi, x21): (u64, u64, u64);
    // SAFETY: only registers declared as clobbered or outputs are touched; WFI with IRQs
    // unmasked lets the timer interrupt run its handler in between.
    unsafe {
        core::arch::asm!(
            "mov {t}, #0x1234",
            "fmov d8, {t}",
            "mov {t}, #0x5678",
            "mov v20.d[1], {t}",
            "mov x21, #0x4242",
            // Until the handler disarms the timer (clears CNTV_CTL_EL0.ENABLE).
            "1: wfi",
            "msr daifclr, #2",
            "isb",
            "msr daifset, #2",
            "mrs {n}, cntv_ctl_el0",
            "tbnz {n}, #0, 1b",
            "fmov {lo}, d8",
            "mov {hi}, v20.d[1]",
            "mov {x}, x21",
            t = out(reg) _,
            n = out(reg) _,
            lo = out(reg) v8_lo,
            hi = out(reg) v20_hi,
            x = out(reg) x21,
            out("v8") _, out("v20") _, out("x21") _,
            options(nostack),
        );
    }
    ensure!(
        smp::this_cpu().timer_irqs() > before,
        "no timer interrupt arrived"
    );
    ensure!(v8_lo == 0x1234, "d8 became {v8_lo:#x}");
    ensure!(v20_hi == 0x5678, "v20.d[1] became {v20_hi:#x}");
    ensure!(x21 == 0x4242, "x21 became {x21:#x}");
    Ok(())
}
