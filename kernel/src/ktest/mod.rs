//! Kernel tests: named checks that run inside the real kernel on real (emulated) hardware, after
//! a normal boot, in the test image (`--features ktest`).
//!
//! Output protocol, parsed by `cargo xtask test`:
//!
//! ```text
//! nimbus-test: start <total>
//! nimbus-test: ok <name>                  (or)  nimbus-test: FAIL <name>: <reason>
//! nimbus-test: done <passed> passed, <failed> failed
//! ```
//!
//! Userland suites (run by the test image's root task) follow in the same format; the run ends
//! with the root task's shutdown, whose exit status is 0 only if every suite passed.

mod boot;
mod exceptions;
mod irq;
mod mm;
mod smp;

use crate::kprintln;
use alloc::string::String;

/// A named kernel test.
pub struct Test {
    /// `area::what_it_checks`.
    pub name: &'static str,
    /// The check; `Err` says what went wrong.
    pub run: fn() -> Result<(), String>,
}

/// Fails the current test unless `cond` holds: `ensure!(x == 1, "x is {x}")`.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}
pub(crate) use ensure;

static FAILED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a test of the in-kernel suite failed (the run's exit status must say so).
pub fn kernel_suite_failed() -> bool {
    FAILED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Runs the in-kernel suite and prints its results; userland tests follow in the root task.
pub fn run_kernel_suite() {
    let suites: [&[Test]; 5] = [
        boot::TESTS,
        mm::TESTS,
        exceptions::TESTS,
        irq::TESTS,
        smp::TESTS,
    ];
    let total: usize = suites.iter().map(|s| s.len()).sum();
    kprintln!("nimbus-test: start {total}");
    let (mut passed, mut failed) = (0, 0);
    for test in suites.iter().flat_map(|s| s.iter()) {
        match (test.run)() {
            Ok(()) => {
                passed += 1;
                kprintln!("nimbus-test: ok {}", test.name);
            }
            Err(reason) => {
                failed += 1;
                kprintln!("nimbus-test: FAIL {}: {reason}", test.name);
            }
        }
    }
    kprintln!("nimbus-test: done {passed} passed, {failed} failed");
    FAILED.store(failed > 0, core::sync::atomic::Ordering::Relaxed);
}
