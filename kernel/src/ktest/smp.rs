//! Every CPU in the tree is up, is who the tree says, and runs in parallel with the others.

use super::{Test, ensure};
use crate::arch::aarch64::{cpu, probe};
use crate::{smp, startup, time};
use alloc::string::String;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

pub const TESTS: &[Test] = &[
    Test {
        name: "smp::every_cpu_in_the_tree_is_online",
        run: all_online,
    },
    Test {
        name: "smp::each_cpu_has_the_mpidr_the_tree_gives",
        run: mpidr_matches,
    },
    Test {
        name: "smp::cpus_run_in_parallel",
        run: parallel,
    },
    Test {
        name: "smp::each_cpu_has_its_own_guarded_stack",
        run: guarded_stacks,
    },
];

fn all_online() -> Result<(), String> {
    let tree = startup::platform().map_or(0, |p| p.cpus.len()).max(1);
    ensure!(
        smp::cpu_count() == tree,
        "kernel knows {} cpus, tree has {tree}",
        smp::cpu_count()
    );
    ensure!(
        smp::online_count() == tree,
        "{} of {tree} cpus online",
        smp::online_count()
    );
    Ok(())
}

static SEEN_MPIDR: [AtomicU64; smp::MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; smp::MAX_CPUS];

fn record_mpidr(index: usize) {
    SEEN_MPIDR[index].store(cpu::mpidr(), Ordering::Relaxed);
}

fn mpidr_matches() -> Result<(), String> {
    let platform = startup::platform().ok_or("no platform")?;
    ensure!(
        smp::run_on_all(record_mpidr, 2_000_000_000),
        "not every cpu ran the check"
    );
    for (index, slot) in SEEN_MPIDR.iter().enumerate().take(smp::cpu_count()) {
        let seen = slot.load(Ordering::Relaxed);
        ensure!(
            platform.cpus.iter().any(|c| c.mpidr == seen),
            "cpu {index} has MPIDR {seen:#x}, not in the tree"
        );
        let others = (0..smp::cpu_count())
            .filter(|&j| SEEN_MPIDR[j].load(Ordering::Relaxed) == seen)
            .count();
        ensure!(others == 1, "MPIDR {seen:#x} seen on {others} cpus");
    }
    Ok(())
}

static ARRIVED: AtomicUsize = AtomicUsize::new(0);
static MET: AtomicUsize = AtomicUsize::new(0);

/// Each CPU arrives and waits for all the others: only possible if they run at the same time.
fn rendezvous(_: usize) {
    ARRIVED.fetch_add(1, Ordering::AcqRel);
    let start = time::since_entry_ns();
    while ARRIVED.load(Ordering::Acquire) < smp::online_count() {
        if time::since_entry_ns() - start > 1_000_000_000 {
            return;
        }
        core::hint::spin_loop();
    }
    MET.fetch_add(1, Ordering::AcqRel);
}

fn parallel() -> Result<(), String> {
    ARRIVED.store(0, Ordering::Release);
    MET.store(0, Ordering::Release);
    ensure!(
        smp::run_on_all(rendezvous, 3_000_000_000),
        "not every cpu finished"
    );
    let met = MET.load(Ordering::Acquire);
    ensure!(
        met == smp::online_count(),
        "only {met} of {} cpus met at the rendezvous",
        smp::online_count()
    );
    Ok(())
}

fn guarded_stacks() -> Result<(), String> {
    let mut bottoms = heapless::Vec::<u64, { smp::MAX_CPUS }>::new();
    for index in 0..smp::cpu_count() {
        let bottom = smp::cpu(index).map_or(0, |c| c.stack_bottom());
        ensure!(bottom != 0, "cpu {index} has no stack");
        ensure!(!bottoms.contains(&bottom), "cpu {index} shares a stack");
        ensure!(
            probe::read_u64(bottom - 8).is_none(),
            "cpu {index} stack has no guard page"
        );
        let _ = bottoms.push(bottom);
    }
    Ok(())
}
