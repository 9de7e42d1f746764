//! The Nimbus microkernel.
//!
//! Only what must be privileged lives here: exceptions, address spaces, physical memory,
//! interrupts, the timer, CPU bring-up and an early console. The board is described by the
//! device tree the loader passes; `arch/aarch64` holds what is architectural.

#![no_std]
#![no_main]

extern crate alloc;

mod alloc_util;
mod arch;
mod boot_archive;
mod console;
mod drivers;
mod entry;
mod fatal;
mod ipc;
mod irq;
mod klog;
#[cfg(feature = "ktest")]
mod ktest;
mod mm;
mod object;
mod roottask;
mod sched;
mod smp;
mod startup;
mod sync;
mod syscall;
mod time;
mod uaccess;
mod user_fault;

use nimbus_boot::status::ExitStatus;

/// Called by the entry code on the boot CPU (see `nimbus_boot::arch::aarch64`).
#[unsafe(no_mangle)]
extern "C" fn nimbus_boot_primary(dtb_pa: u64, load_pa: u64, entry_ticks: u64, entry_el: u64) -> ! {
    startup::primary(startup::EntryState {
        dtb_pa,
        load_pa,
        entry_ticks,
        entry_el,
    })
}

/// Called by the entry code on each secondary CPU.
#[unsafe(no_mangle)]
extern "C" fn nimbus_boot_secondary(cpu_index: u64) -> ! {
    smp::secondary_main(cpu_index as usize)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fatal::report(format_args!(
        "kernel panic on cpu {}: {info}",
        smp::current_cpu()
    ));
    fatal::stop(ExitStatus::Panic)
}
