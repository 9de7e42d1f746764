//! Scheduling: priorities preempt, threads on different CPUs run in parallel, sleeps last,
//! yields let equals run.

use crate::harness::{Context, Env, Test, ensure};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use nimbus_abi::info::INFO_KERNEL;
use nimbus_rt::{sys, thread};

pub const TESTS: &[Test] = &[
    Test {
        name: "user::sched::a_busy_low_priority_thread_does_not_delay_a_high_priority_one",
        run: priority,
    },
    Test {
        name: "user::sched::threads_on_different_cpus_run_in_parallel",
        run: parallel,
    },
    Test {
        name: "user::sched::sleep_lasts_at_least_its_time",
        run: sleep,
    },
    Test {
        name: "user::sched::yield_lets_an_equal_priority_thread_run",
        run: yield_alternates,
    },
    Test {
        name: "user::sched::joined_threads_give_back_their_memory",
        run: joined_threads_are_reclaimed,
    },
];

fn cpus(env: &Env) -> Result<usize, String> {
    let mut buf = [0u8; core::mem::size_of::<nimbus_abi::info::KernelRecord>()];
    sys::system_info(env.system, INFO_KERNEL, &mut buf).context("kernel info")?;
    Ok(env.kernel()?.cpus as usize)
}

/// A low-priority thread spins on CPU 0; a high-priority thread on CPU 0 sleeps 1 ms fifty
/// times. If the spinner held the CPU until its time slice ended (10 ms), those sleeps would take
/// at least 500 ms; preemption keeps them near 50 ms.
fn priority(_env: &mut Env) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    let (s, n) = (stop.clone(), spins.clone());
    let spinner = thread::spawn(2, Some(0), move || {
        while !s.load(Ordering::Relaxed) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    })
    .context("spinner")?;
    let elapsed = Arc::new(AtomicU64::new(0));
    let e = elapsed.clone();
    let sleeper = thread::spawn(25, Some(0), move || {
        let start = sys::clock_now();
        for _ in 0..50 {
            sys::sleep(1_000_000);
        }
        e.store(sys::clock_now() - start, Ordering::Relaxed);
    })
    .context("sleeper")?;
    let joined = sleeper.join();
    stop.store(true, Ordering::Relaxed);
    let _ = spinner.join();
    joined.context("join")?;
    let ms = elapsed.load(Ordering::Relaxed) / 1_000_000;
    ensure!(
        spins.load(Ordering::Relaxed) > 0,
        "the low-priority thread never ran"
    );
    ensure!(
        ms < 400,
        "fifty 1 ms sleeps took {ms} ms next to a busy low-priority thread"
    );
    Ok(())
}

/// One thread pinned to each CPU; each waits until all have arrived. Only CPUs running at the
/// same time can all arrive.
fn parallel(env: &mut Env) -> Result<(), String> {
    let n = cpus(env)?;
    let arrived = Arc::new(AtomicUsize::new(0));
    let met = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for cpu in 0..n {
        let (a, m) = (arrived.clone(), met.clone());
        threads.push(
            thread::spawn(15, Some(cpu), move || {
                a.fetch_add(1, Ordering::AcqRel);
                let start = sys::clock_now();
                while a.load(Ordering::Acquire) < n {
                    if sys::clock_now() - start > 2_000_000_000 {
                        return;
                    }
                    core::hint::spin_loop();
                }
                m.fetch_add(1, Ordering::AcqRel);
            })
            .context("thread")?,
        );
    }
    for t in threads {
        t.join().context("join")?;
    }
    let met = met.load(Ordering::Acquire);
    ensure!(
        met == n,
        "only {met} of {n} pinned threads ran at the same time"
    );
    Ok(())
}

fn sleep(_env: &mut Env) -> Result<(), String> {
    for ns in [1_000_000u64, 10_000_000, 30_000_000] {
        let start = sys::clock_now();
        sys::sleep(ns);
        let slept = sys::clock_now() - start;
        ensure!(slept >= ns, "sleep({ns}) returned after {slept} ns");
    }
    Ok(())
}

/// Two equal-priority threads on one CPU take turns through yield.
fn yield_alternates(_env: &mut Env) -> Result<(), String> {
    let turn = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for me in 0..2u64 {
        let t = turn.clone();
        threads.push(
            thread::spawn(14, Some(0), move || {
                let start = sys::clock_now();
                while t.load(Ordering::Acquire) < 200 && sys::clock_now() - start < 5_000_000_000 {
                    if t.load(Ordering::Acquire) % 2 == me {
                        t.fetch_add(1, Ordering::AcqRel);
                    }
                    sys::yield_now();
                }
            })
            .context("thread")?,
        );
    }
    for t in threads {
        t.join().context("join")?;
    }
    let turns = turn.load(Ordering::Acquire);
    ensure!(turns >= 200, "the two threads took {turns} turns");
    Ok(())
}

/// Spawning and joining threads over and over costs nothing in the end: join frees the stack,
/// the IPC buffer and the thread data, and the kernel frees the thread.
fn joined_threads_are_reclaimed(env: &mut Env) -> Result<(), String> {
    let round = |n: usize| -> Result<(), String> {
        for i in 0..n {
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            thread::spawn(10, None, move || r.store(true, Ordering::Release))
                .context("spawn")?
                .join()
                .context("join")?;
            ensure!(ran.load(Ordering::Acquire), "thread {i} did not run");
        }
        Ok(())
    };
    // Warm up: the heaps reach their working size.
    round(20)?;
    let before = env.kernel()?;
    round(200)?;
    let after = env.kernel()?;
    crate::harness::no_leak(&before, &after)
}
