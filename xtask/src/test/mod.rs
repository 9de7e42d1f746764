//! `cargo xtask test`: every test, one tally, one final line `N passed, N failed`.
//!
//! Layers, in order:
//! 1. [`host`]: `cargo test` on the host crates (counted from cargo's own result lines).
//! 2. [`kernel`]: the kernel test image booted on each machine of `qemu/profiles.txt`; every
//!    `nimbus-test:` line is a test, plus one test per machine that checks the run itself.
//! 3. [`system`]: the production Image boots to its ready line, and broken device trees make it
//!    fail loudly with the right exit status.
//!
//! Each result prints cargo-style (`test NAME ... ok` / `... FAILED` with the reason and the tail
//! of the QEMU log). Setup problems (a tool that cannot be installed, a build that fails) are
//! failed tests too, so the summary line always comes last and CI can rely on it.

pub mod host;
pub mod kernel;
pub mod system;

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lines of QEMU output shown with a failure.
pub const TAIL_LINES: usize = 25;

/// Why a test failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// One-line (or few-line) reason.
    pub reason: String,
    /// The QEMU log, if there was a run.
    pub log: Option<PathBuf>,
    /// The last lines of the output, if they help.
    pub tail: Option<String>,
}

impl Failure {
    /// A failure with only a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            log: None,
            tail: None,
        }
    }
}

/// One test result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `layer::...` name.
    pub name: String,
    /// Pass, or why not.
    pub result: Result<(), Failure>,
}

impl Outcome {
    /// A pass.
    pub fn pass(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            result: Ok(()),
        }
    }

    /// A failure.
    pub fn fail(name: impl Into<String>, failure: Failure) -> Self {
        Self {
            name: name.into(),
            result: Err(failure),
        }
    }
}

/// Counts and the names of what failed.
#[derive(Debug, Default)]
pub struct Tally {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Names of the failures, for the summary.
    pub failures: Vec<String>,
}

impl Tally {
    /// Prints and counts one result.
    pub fn record(&mut self, o: &Outcome) {
        match &o.result {
            Ok(()) => {
                println!("test {} ... ok", o.name);
                self.passed += 1;
            }
            Err(f) => {
                println!("test {} ... FAILED", o.name);
                for line in f.reason.lines() {
                    println!("    {line}");
                }
                if let Some(log) = &f.log {
                    println!("    log: {}", crate::paths::display(log));
                }
                if let Some(tail) = f.tail.as_deref().filter(|t| !t.trim().is_empty()) {
                    println!("    last lines of output:");
                    for line in tail.lines() {
                        println!("    | {}", line.trim_end_matches('\r'));
                    }
                }
                self.failed += 1;
                self.failures.push(o.name.clone());
            }
        }
    }

    /// Adds counts that were printed by someone else (cargo).
    pub fn add_counts(&mut self, passed: usize, failed: usize, failed_names: Vec<String>) {
        self.passed += passed;
        self.failed += failed;
        self.failures.extend(failed_names);
    }

    /// The final line.
    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// A unit of QEMU work that yields test results (one boot, or a build).
pub type Job<'a> = Box<dyn FnOnce() -> Result<Vec<Outcome>> + Send + 'a>;

/// How many QEMU boots run at once: `NIMBUS_TEST_JOBS`, else half the host's CPUs (TCG runs a
/// thread per guest CPU, and timeouts must not fire because the host is oversubscribed).
pub fn workers() -> usize {
    if let Some(n) = std::env::var("NIMBUS_TEST_JOBS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.max(1);
    }
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Runs jobs on `workers` threads and records their results in job order, each as soon as it
/// and every job before it are done.
pub fn run_jobs(jobs: Vec<Job<'_>>, workers: usize, tally: &mut Tally) -> Result<()> {
    let count = jobs.len();
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate());
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<Vec<Outcome>>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, count.max(1)) {
            let tx = tx.clone();
            let queue = &queue;
            scope.spawn(move || {
                while !crate::interrupt::interrupted() {
                    let next = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((index, job)) = next else { break };
                    if tx.send((index, job())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: Vec<Option<Result<Vec<Outcome>>>> = (0..count).map(|_| None).collect();
        let mut next = 0;
        let mut interrupted = false;
        for (index, result) in rx {
            pending[index] = Some(result);
            while let Some(Some(result)) = pending.get_mut(next).map(Option::take) {
                match result {
                    Ok(outcomes) => outcomes.iter().for_each(|o| tally.record(o)),
                    Err(Error::Interrupted) => interrupted = true,
                    Err(e) => tally.record(&Outcome::fail(
                        format!("job-{next}"),
                        Failure::new(e.to_string()),
                    )),
                }
                next += 1;
            }
        }
        if interrupted || crate::interrupt::interrupted() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    })
}

fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Runs every layer; returns the process exit code.
pub fn run() -> Result<u8> {
    let start = Instant::now();
    let mut tally = Tally::default();

    println!("==> host unit tests");
    match host::run(&mut tally) {
        Ok(()) => {}
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => tally.record(&Outcome::fail(
            "host::cargo-test",
            Failure::new(e.to_string()),
        )),
    }
    crate::interrupt::check()?;

    let tools = crate::deps::ensure(&crate::deps::ALL_QEMU_TOOLS);
    crate::interrupt::check()?;
    match tools {
        Ok(()) => {
            let workers = workers();
            println!(
                "==> kernel tests (test image on each machine of qemu/profiles.txt, {workers} at a time)"
            );
            kernel::run(&mut tally, workers)?;
            println!("==> boot checks (production Image, good and broken device trees)");
            system::run(&mut tally, workers)?;
        }
        Err(e) => tally.record(&Outcome::fail(
            "setup::host-tools",
            Failure::new(e.to_string()),
        )),
    }

    if !tally.failures.is_empty() {
        println!("\nfailures:");
        for name in &tally.failures {
            println!("    {name}");
        }
    }
    println!(
        "\nlogs: {}",
        crate::paths::display(&crate::paths::logs_dir())
    );
    println!("test time: {}", elapsed(start.elapsed()));
    println!("{}", tally.summary_line());
    Ok(if tally.failed == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_and_lists_failures() {
        let mut t = Tally::default();
        t.record(&Outcome::pass("a"));
        t.record(&Outcome::fail("b", Failure::new("because")));
        t.add_counts(10, 2, vec!["host::x".into(), "host::y".into()]);
        assert_eq!(t.summary_line(), "11 passed, 3 failed");
        assert_eq!(t.failures, ["b", "host::x", "host::y"]);
    }

    #[test]
    fn jobs_report_in_order_whatever_finishes_first() {
        let mut jobs: Vec<Job> = Vec::new();
        for i in 0..6u64 {
            jobs.push(Box::new(move || {
                std::thread::sleep(Duration::from_millis(60 - i * 10));
                Ok(vec![Outcome::pass(format!("t{i}"))])
            }));
        }
        jobs.push(Box::new(|| Err(Error::Other("no qemu".into()))));
        let mut t = Tally::default();
        run_jobs(jobs, 3, &mut t).unwrap();
        assert_eq!(t.passed, 6);
        assert_eq!(t.failed, 1);
    }

    #[test]
    fn durations() {
        assert_eq!(elapsed(Duration::from_millis(4200)), "4.2s");
        assert_eq!(elapsed(Duration::from_secs(192)), "3m 12s");
    }
}
