//! The benchmark image's root task (`bin/init` there): measures the kernel's basic operations
//! and prints the figures for `cargo xtask bench`, then powers off.
//!
//! It is the root task so that nothing else runs: no servers, no timers, one CPU busy at a time
//! unless a benchmark involves two. The figures are counts of guest instructions (see
//! `nimbus_bench`), so the run must be booted under QEMU `-icount shift=0`; the first metric,
//! `calibration`, times a loop of known length to check that it was. See `measure` for the
//! output protocol and `suites` for what each metric measures.

#![no_std]
#![no_main]

extern crate alloc;

mod env;
mod error;
mod measure;
mod suites;

use alloc::vec;
use env::Env;
use error::BenchError;
use measure::{Out, Series};
use nimbus_abi::info::KernelRecord;
use nimbus_bench::counter;
use nimbus_rt::{RootStart, sys};

nimbus_rt::entry!(root: main);

/// Priority of the thread that runs the benchmarks one after the other: above every thread it
/// starts, so none of them can preempt it.
const CONDUCTOR_PRIORITY: u8 = 30;

fn main(root: &RootStart) -> i32 {
    // Before anything else: how long the system took to get here.
    let boot_ticks = counter::now();
    let out = Out::new(root.system);
    // The benchmarks are conducted from a thread pinned to the last CPU, not from this one: the
    // kernel never moves a preempted thread to another CPU, so this thread (priority 20,
    // unpinned) could be stranded behind a peer that spins on its CPU while another CPU idles.
    let result = Env::new(root).and_then(|env| {
        let cpu = env.cpus - 1;
        measure::on_cpu(cpu, CONDUCTOR_PRIORITY, move || run(env, boot_ticks))
    });
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            out.line(format_args!("error {e}"));
            1
        }
    };
    let _ = sys::shutdown(root.system, code as u64);
    code
}

fn run(mut env: Env, boot_ticks: u64) -> Result<(), BenchError> {
    let out = &Out::new(env.system);
    let hz = counter::frequency();
    out.line(format_args!("start counter_hz={hz} cpus={}", env.cpus));
    let before = env.kernel()?;
    let mut count = 0;
    let mut report = |series: Series| {
        out.series(&series, hz);
        count += 1;
    };
    report(Series {
        name: "boot_to_root_task",
        ops: 1,
        ticks: vec![boot_ticks],
    });
    report(suites::calibration()?);
    report(suites::null_syscall()?);
    report(suites::ipc_same_cpu(&mut env)?);
    if env.cpus > 1 {
        report(suites::ipc_cross_cpu(&mut env)?);
    } else {
        out.line(format_args!("skip ipc_call_reply_cross_cpu: one CPU"));
    }
    report(suites::notify_wake(&mut env)?);
    report(suites::yield_switch(&mut env)?);
    report(suites::map_unmap()?);
    report(suites::spawn(&mut env)?);
    let after = env.kernel()?;
    kernel_line(out, "before", &before);
    kernel_line(out, "after", &after);
    out.line(format_args!("done {count} metrics"));
    Ok(())
}

/// The kernel's own figures: memory and objects, to see that the benchmarks leaked nothing.
fn kernel_line(out: &Out, when: &str, k: &KernelRecord) {
    out.line(format_args!(
        "kernel {when} free_frames={} heap_used={} objects={} processes={} threads={} uptime_ns={}",
        k.free_frames, k.heap_used, k.objects, k.processes, k.threads, k.uptime_ns
    ));
}
