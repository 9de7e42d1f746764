//! `cargo xtask bench`: the kernel's basic operations, counted in guest instructions.
//!
//! Why instructions: under QEMU `-icount shift=0` every guest instruction advances the virtual
//! clock by exactly one nanosecond, so the virtual counter the guest times itself with counts
//! instructions, and a run gives the same figures every time on any host. (`sleep=off` as well:
//! otherwise a moment when every CPU idles would advance the virtual clock with the host's real
//! time, which differs from run to run.) With more than one CPU, QEMU runs the CPUs in turn on
//! one host thread and the clock counts the instructions of all of them, so a cross-CPU figure
//! is the sum of what both CPUs executed, not a wall-clock latency on real parallel hardware.
//!
//! What runs: the benchmark image ([`ImageKind::Bench`]: the production kernel with
//! `userland/bench` as its root task and nothing else) on the default machine (2 Cortex-A53,
//! 512 MiB, GICv2). The root task prints its raw samples and a summary per metric (the protocol
//! is described in `userland/bench/src/measure.rs`); this module recomputes every summary from
//! the samples and refuses a run whose figures disagree with the guest's, whose calibration loop
//! (exactly 100 instructions) does not measure 100, or that did not finish.
//!
//! Not pass/fail: a figure over its target is shown as such, never an error. The command fails
//! only when the run itself fails (build, boot, a benchmark error, a malformed or incomplete
//! report), so CI can run it for the numbers.

mod metrics;
mod output;
mod report;

use metrics::{METRICS, info};
use output::{json, kernel_summary, legend, table};
use report::{Metric, Report};

use crate::build;
use crate::cli::BenchOptions;
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::Loader;
use crate::qemu::{self, Console, Machine};
use crate::runner::{self, Ending, Mode, Spec};
use std::time::Duration;

/// Default time limit of the benchmark boot (a run takes well under a minute on a laptop).
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// The `-icount` option: one instruction per virtual nanosecond, no real-time idling.
pub const ICOUNT: &str = "shift=0,sleep=off";
/// Prefix of the root task's lines.
const PREFIX: &str = "nimbus-bench: ";
/// Unit of every figure.
pub const UNIT: &str = "instructions";
/// The calibration loop's length, and how far its median may be from it.
const CALIBRATION: (f64, f64) = (100.0, 1.0);
/// Lines of the log shown when a run fails.
const TAIL_LINES: usize = 30;

/// Builds the benchmark image, boots it under `-icount`, and reports.
pub fn run(o: &BenchOptions) -> Result<u8> {
    let built = build::build(ImageKind::Bench)?;
    let machine = Machine::default();
    let qemu = launch::prepare(Request {
        machine: &machine,
        loader: Loader::Kernel,
        image: &built.image,
        name: "bench",
        dtb: Dtb::Qemu,
        console: Console::Captured,
        window: false,
        extra: vec!["-icount".into(), ICOUNT.into()],
    })?;
    let log = paths::logs_dir().join("bench.log");
    println!(
        "==> benchmarks: {} under -icount {ICOUNT} (log: {})",
        machine.describe(),
        paths::display(&log)
    );
    let timeout = Duration::from_secs(o.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let outcome = runner::run(&Spec {
        program: qemu::PROGRAM,
        args: qemu.args(),
        log: log.clone(),
        timeout: Some(timeout),
        mode: Mode::Captured,
        stop_when: None,
    })?;
    let report = Report::parse(&outcome.output);
    let fail = |reason: String| {
        Error::Other(format!(
            "{reason}\nQEMU: {}; log: {}\n{}",
            outcome.ending,
            paths::display(&log),
            runner::tail(&outcome.output, TAIL_LINES)
        ))
    };
    let metrics = report.metrics().map_err(|e| fail(e.to_string()))?;
    if outcome.ending != Ending::Exited(0) {
        return Err(fail("the benchmark run did not power off cleanly".into()));
    }
    println!(
        "==> instructions per operation ({:.1} s)\n",
        outcome.elapsed.as_secs_f64()
    );
    print!("{}", table(&metrics));
    println!("\nWhat one operation is:\n{}", legend(&metrics));
    for name in &report.skipped {
        println!("  skipped: {name}");
    }
    let kernel = kernel_summary(&report);
    if !kernel.is_empty() {
        println!("Kernel figures:\n{kernel}");
    }
    if let Some(path) = &o.json {
        paths::write(path, json(&metrics).as_bytes())?;
        println!("==> wrote {}", path.display());
    }
    Ok(0)
}
