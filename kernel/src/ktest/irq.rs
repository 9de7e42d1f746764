//! Interrupts: the timer and software-generated interrupts on every CPU.

use super::{Test, ensure};
use crate::arch::aarch64::{cpu, timer};
use crate::{smp, time};
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};

pub const TESTS: &[Test] = &[
    Test {
        name: "irq::timer_fires_on_every_cpu",
        run: timer_every_cpu,
    },
    Test {
        name: "irq::timer_waits_at_least_the_deadline",
        run: timer_deadline,
    },
    Test {
        name: "irq::sgi_reaches_every_cpu",
        run: sgi_every_cpu,
    },
];

const ONE_SECOND: u64 = 1_000_000_000;

static TIMER_OK: AtomicU64 = AtomicU64::new(0);

fn wait_for_timer_irq(cpu_index: usize) {
    let me = smp::this_cpu();
    let before = me.timer_irqs();
    timer::arm_in(time::ns_to_ticks(1_000_000));
    let start = time::since_entry_ns();
    while me.timer_irqs() == before && time::since_entry_ns() - start < ONE_SECOND {
        cpu::wait_for_interrupt();
    }
    if me.timer_irqs() > before {
        TIMER_OK.fetch_or(1 << cpu_index, Ordering::Relaxed);
    }
}

fn timer_every_cpu() -> Result<(), String> {
    TIMER_OK.store(0, Ordering::Relaxed);
    for index in 0..smp::cpu_count() {
        ensure!(
            smp::run_on(index, wait_for_timer_irq, 2 * ONE_SECOND),
            "cpu {index} did not run the test"
        );
    }
    let expected = (1u64 << smp::cpu_count()) - 1;
    let got = TIMER_OK.load(Ordering::Relaxed);
    ensure!(
        got == expected,
        "timer interrupts seen on cpus {got:#b}, expected {expected:#b}"
    );
    Ok(())
}

fn timer_deadline() -> Result<(), String> {
    let me = smp::this_cpu();
    let before = me.timer_irqs();
    let start = timer::now();
    let wait = time::ns_to_ticks(10_000_000);
    timer::arm_at(start + wait);
    while me.timer_irqs() == before {
        cpu::wait_for_interrupt();
    }
    let elapsed = timer::now() - start;
    ensure!(
        elapsed >= wait,
        "timer fired after {elapsed} ticks, before the {wait}-tick deadline"
    );
    Ok(())
}

fn sgi_every_cpu() -> Result<(), String> {
    for index in 0..smp::cpu_count() {
        if index == smp::current_cpu() {
            continue;
        }
        let target = smp::cpu(index).ok_or("no such cpu")?;
        let before = target.wakes();
        smp::wake(index);
        let start = time::since_entry_ns();
        while target.wakes() == before {
            ensure!(
                time::since_entry_ns() - start < ONE_SECOND,
                "cpu {index} never took the SGI"
            );
            core::hint::spin_loop();
        }
    }
    Ok(())
}
