//! Taking samples, and printing them in the protocol `cargo xtask bench` reads.
//!
//! A sample is the number of counter ticks one batch of `ops` operations took. Batches beat the
//! counter's granularity (a tick is 16 instructions under `-icount shift=0` at 62.5 MHz): the
//! rounding error of one sample is at most one tick, spread over the batch. A few batches run
//! first unrecorded (peers settling into their loops, first-use work in the kernel).
//!
//! Per metric the root task prints its raw samples, then the summary:
//! ```text
//! nimbus-bench: start counter_hz=<Hz> cpus=<N>
//! nimbus-bench: samples <name> ops=<ops per sample> ticks=<t1>,<t2>,...   (one or more lines)
//! nimbus-bench: <name> min=<x> median=<x> mean=<x> max=<x> n=<n> unit=instructions
//! nimbus-bench: kernel <before|after> free_frames=<n> heap_used=<bytes> objects=<n> ...
//! nimbus-bench: done <metrics> metrics
//! nimbus-bench: error <what went wrong>
//! ```
//! A value is `ticks * (1e9 / Hz) / ops` instructions per operation (nanoseconds, which under
//! `-icount shift=0` are instructions), printed with one decimal. xtask recomputes the summary
//! from the samples and checks that it agrees.

use crate::error::BenchError;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use nimbus_abi::Handle;
use nimbus_bench_stats::{Summary, per_op};
use nimbus_rt::{sys, thread};

/// Prefix of every line of the protocol.
const PREFIX: &str = "nimbus-bench: ";
/// Samples per `samples` line (the kernel takes at most 1 KiB per console write).
const SAMPLES_PER_LINE: usize = 40;
/// Batches run before the recorded ones.
const WARMUP: usize = 3;

/// The samples of one metric.
pub struct Series {
    /// The metric's name.
    pub name: &'static str,
    /// Operations per sample.
    pub ops: u64,
    /// Ticks each sample took.
    pub ticks: Vec<u64>,
}

/// Runs `batch` (which returns the ticks one batch of `ops` operations took) [`WARMUP`] times,
/// then `n` times recording each.
pub fn sample(
    name: &'static str,
    ops: u64,
    n: usize,
    mut batch: impl FnMut() -> Result<u64, BenchError>,
) -> Result<Series, BenchError> {
    for _ in 0..WARMUP {
        batch()?;
    }
    let mut ticks = Vec::with_capacity(n);
    for _ in 0..n {
        ticks.push(batch()?);
    }
    Ok(Series { name, ops, ticks })
}

/// Runs `body` in a new thread of this process pinned to `cpu` at `priority`, and returns what
/// it returned. The calling thread waits, blocked, meanwhile.
pub fn on_cpu<R: Send + 'static>(
    cpu: u64,
    priority: u8,
    body: impl FnOnce() -> Result<R, BenchError> + Send + 'static,
) -> Result<R, BenchError> {
    let slot = Arc::new(spin::Mutex::new(None));
    let out = Arc::clone(&slot);
    let thread = thread::spawn(priority, Some(cpu as usize), move || {
        *out.lock() = Some(body());
    })
    .map_err(|error| BenchError::Kernel {
        what: "starting a benchmark thread",
        error,
    })?;
    thread.join().map_err(|error| BenchError::Kernel {
        what: "waiting for a benchmark thread",
        error,
    })?;
    let result = slot.lock().take();
    result.unwrap_or(Err(BenchError::NoResult))
}

/// Writes protocol lines on the kernel console.
pub struct Out {
    system: Handle,
}

impl Out {
    /// Lines go through `system` (LOG right).
    pub fn new(system: Handle) -> Self {
        Self { system }
    }

    /// One line: the prefix, `args`, a newline.
    pub fn line(&self, args: core::fmt::Arguments<'_>) {
        let mut text = String::from(PREFIX);
        let _ = text.write_fmt(args);
        text.push('\n');
        let _ = sys::debug_write(self.system, text.as_bytes());
    }

    /// The samples of `series`, then its summary, at counter frequency `hz`.
    pub fn series(&self, series: &Series, hz: u64) {
        for chunk in series.ticks.chunks(SAMPLES_PER_LINE) {
            let mut list = String::new();
            for (i, ticks) in chunk.iter().enumerate() {
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(list, "{comma}{ticks}");
            }
            self.line(format_args!(
                "samples {} ops={} ticks={list}",
                series.name, series.ops
            ));
        }
        let values: Vec<f64> = series
            .ticks
            .iter()
            .map(|t| per_op(*t, series.ops, hz))
            .collect();
        if let Some(s) = Summary::of(&values) {
            self.line(format_args!(
                "{} {} unit=instructions",
                series.name,
                s.line()
            ));
        }
    }
}
