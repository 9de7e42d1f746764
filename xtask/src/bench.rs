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

use crate::build;
use crate::cli::BenchOptions;
use crate::console::{self, Line};
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::Loader;
use crate::qemu::{self, Console, Machine};
use crate::runner::{self, Ending, Mode, Spec};
use std::fmt;
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

/// A metric: its name, what it measures, and the target the issue set, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// Name in the output and the JSON.
    pub name: &'static str,
    /// What one operation is.
    pub what: &'static str,
    /// The figure it should stay at or under.
    pub target: Option<f64>,
}

/// Every metric, in the order the root task measures them.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "boot_to_root_task",
        what: "QEMU reset to the root task's main, all CPUs (n = 1)",
        target: None,
    },
    MetricInfo {
        name: "calibration",
        what: "a loop of exactly 100 instructions: proves the counter counts instructions",
        target: None,
    },
    MetricInfo {
        name: "null_syscall",
        what: "Nop: svc into the kernel and back (user side: svc + 2 loop instructions)",
        target: Some(150.0),
    },
    MetricInfo {
        name: "ipc_call_reply_same_cpu",
        what: "Call + ReplyRecv round trip, register-only, client and server processes on CPU 0 \
               (user side: 11 instructions)",
        target: Some(600.0),
    },
    MetricInfo {
        name: "ipc_call_reply_cross_cpu",
        what: "the same with the server on CPU 1: both CPUs' instructions, two IPIs and wake-ups",
        target: Some(3000.0),
    },
    MetricInfo {
        name: "notify_wake",
        what: "Signal to the waiting thread running: waiter in another process, same CPU, \
               higher priority; one way",
        target: None,
    },
    MetricInfo {
        name: "yield",
        what: "one switch between threads of two processes, equal priority, CPU 0, each looping \
               on Yield",
        target: None,
    },
    MetricInfo {
        name: "map_unmap",
        what: "MemMap of one page of a memory object + MemUnmap (through nimbus-rt's sys)",
        target: None,
    },
    MetricInfo {
        name: "spawn",
        what: "process::spawn of a minimal program, run to its exit, exit notice received, \
               handle closed (child placed by the kernel)",
        target: None,
    },
];

/// The description of metric `name`, if this xtask knows it.
pub fn info(name: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name)
}

/// Why a benchmark report is unusable.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchError {
    /// A `nimbus-bench:` line that breaks the protocol.
    Malformed(String),
    /// The root task reported an error.
    Guest(String),
    /// No `start` line (so no counter frequency).
    NoStart,
    /// No `done` line: the run stopped early.
    NotDone,
    /// `done` counted a different number of metrics than were reported.
    Count { done: usize, reported: usize },
    /// A metric has samples but no summary line, or the other way round.
    Unpaired(String),
    /// The guest's summary differs from the one computed here from its samples.
    Disagree {
        name: String,
        guest: String,
        host: String,
    },
    /// A metric this xtask expects was neither reported nor skipped.
    Missing(String),
    /// The calibration loop did not measure its length: the counter does not count instructions.
    NotCounting(f64),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(line) => write!(f, "malformed benchmark line: {line:?}"),
            Self::Guest(e) => write!(f, "the benchmark program failed: {e}"),
            Self::NoStart => write!(f, "no `{PREFIX}start` line"),
            Self::NotDone => write!(f, "no `{PREFIX}done` line: the run stopped early"),
            Self::Count { done, reported } => {
                write!(
                    f,
                    "`done` counts {done} metrics but {reported} were reported"
                )
            }
            Self::Unpaired(name) => write!(f, "{name}: samples and summary do not pair up"),
            Self::Disagree { name, guest, host } => write!(
                f,
                "{name}: the guest's summary ({guest}) differs from its samples' ({host})"
            ),
            Self::Missing(name) => write!(f, "no figures for {name}"),
            Self::NotCounting(median) => write!(
                f,
                "the {} instruction calibration loop measured {median:.1}: the virtual counter \
                 does not count instructions (is QEMU running with -icount {ICOUNT}?)",
                CALIBRATION.0
            ),
        }
    }
}

/// min / median / mean / max / n of per-operation figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub mean: f64,
    pub max: f64,
    pub n: usize,
}

impl Summary {
    /// The summary of `values`: the mean sums them in their order, the median of an even count
    /// is the mean of the middle two (the root task computes it the same way, so both agree to
    /// the bit). None for no values.
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        let mean = values.iter().fold(0.0, |sum, v| sum + v) / n as f64;
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (*sorted.get(n / 2)? + sorted[n / 2 - 1]) / 2.0
        };
        Some(Self {
            min: *sorted.first()?,
            median,
            mean,
            max: *sorted.last()?,
            n,
        })
    }

    /// The summary as the root task prints it (one decimal).
    pub fn line(&self) -> String {
        format!(
            "min={:.1} median={:.1} mean={:.1} max={:.1} n={}",
            self.min, self.median, self.mean, self.max, self.n
        )
    }
}

/// Instructions per operation of a sample of `ticks` counter ticks for `ops` operations at
/// `hz`: ticks are `1e9 / hz` virtual nanoseconds, which under `-icount shift=0` are
/// instructions. The root task computes it with the same operations.
pub fn per_op(ticks: u64, ops: u64, hz: u64) -> f64 {
    ticks as f64 * (1e9 / hz as f64) / ops as f64
}

/// One line of the root task's protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchLine {
    /// `start counter_hz=<Hz> cpus=<N>`.
    Start { counter_hz: u64, cpus: u64 },
    /// `samples <name> ops=<ops> ticks=<t>,<t>,...`.
    Samples {
        name: String,
        ops: u64,
        ticks: Vec<u64>,
    },
    /// `<name> min=.. median=.. mean=.. max=.. n=.. unit=instructions`, values as printed.
    Summary { name: String, text: String },
    /// `kernel <when> key=value ...`.
    Kernel {
        when: String,
        figures: Vec<(String, u64)>,
    },
    /// `skip <name>: <reason>`.
    Skip(String),
    /// `done <n> metrics`.
    Done(usize),
    /// `error <message>`.
    Error(String),
}

/// `key=value` words of `text`, in order; None if a word has no `=`.
fn pairs(text: &str) -> Option<Vec<(&str, &str)>> {
    text.split_whitespace().map(|w| w.split_once('=')).collect()
}

fn value<'a>(pairs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Parses one line of output: None if it is not a benchmark line, `Err` if it is one that does
/// not parse.
pub fn parse_line(raw: &str) -> Option<std::result::Result<BenchLine, BenchError>> {
    let line = raw.trim_end_matches(['\r', '\n']).trim_end();
    let at = line.find(PREFIX)?;
    let rest = &line[at + PREFIX.len()..];
    let malformed = || BenchError::Malformed(line[at..].to_string());
    Some(parse_rest(rest).ok_or_else(malformed))
}

fn parse_rest(rest: &str) -> Option<BenchLine> {
    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let tail = tail.trim();
    Some(match word {
        "start" => {
            let p = pairs(tail)?;
            BenchLine::Start {
                counter_hz: value(&p, "counter_hz")?.parse().ok().filter(|&hz| hz > 0)?,
                cpus: value(&p, "cpus")?.parse().ok()?,
            }
        }
        "samples" => {
            let (name, tail) = tail.split_once(' ')?;
            let p = pairs(tail)?;
            let ticks = value(&p, "ticks")?
                .split(',')
                .map(|t| t.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            BenchLine::Samples {
                name: name.into(),
                ops: value(&p, "ops")?.parse().ok().filter(|&ops| ops > 0)?,
                ticks,
            }
        }
        "kernel" => {
            let (when, tail) = tail.split_once(' ')?;
            let figures = pairs(tail)?
                .into_iter()
                .map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
                .collect::<Option<Vec<_>>>()?;
            BenchLine::Kernel {
                when: when.into(),
                figures,
            }
        }
        "skip" => BenchLine::Skip(tail.split(':').next()?.trim().to_string()),
        "done" => BenchLine::Done(tail.strip_suffix("metrics")?.trim().parse().ok()?),
        "error" => BenchLine::Error(tail.to_string()),
        name if is_name(name) => {
            let p = pairs(tail)?;
            let unit = value(&p, "unit")?;
            let keys: Vec<&str> = p.iter().map(|(k, _)| *k).collect();
            if unit != UNIT || keys != ["min", "median", "mean", "max", "n", "unit"] {
                return None;
            }
            for (_, v) in &p[..4] {
                v.parse::<f64>().ok()?;
            }
            value(&p, "n")?.parse::<usize>().ok()?;
            let text = tail.strip_suffix(&format!(" unit={UNIT}"))?.to_string();
            BenchLine::Summary {
                name: name.into(),
                text,
            }
        }
        _ => return None,
    })
}

/// Metric names are lower-case words joined by `_`.
fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// One metric's raw samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    pub name: String,
    pub ops: u64,
    pub ticks: Vec<u64>,
}

/// Everything a run printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Counter frequency and CPUs, from the `start` line.
    pub start: Option<(u64, u64)>,
    /// Samples per metric, in the order they first appeared.
    pub samples: Vec<Samples>,
    /// The guest's summaries: (name, text as printed).
    pub summaries: Vec<(String, String)>,
    /// Kernel figures: (when, [(key, value)]).
    pub kernel: Vec<(String, Vec<(String, u64)>)>,
    /// Metrics the guest skipped.
    pub skipped: Vec<String>,
    /// `done` count.
    pub done: Option<usize>,
    /// Guest errors and malformed lines.
    pub problems: Vec<BenchError>,
    /// The kernel's own start-up time (`kernel ready: ... <T> ms`), in virtual milliseconds.
    pub kernel_ready_ms: Option<u64>,
}

impl Report {
    /// Collects the benchmark lines (and the kernel's ready line) of `output`.
    pub fn parse(output: &str) -> Self {
        let mut r = Self::default();
        for line in output.lines() {
            if let Some(Line::Ready(ready)) = console::parse_line(line) {
                r.kernel_ready_ms = Some(ready.ms);
            }
            match parse_line(line) {
                None => {}
                Some(Err(e)) => r.problems.push(e),
                Some(Ok(l)) => r.add(l),
            }
        }
        r
    }

    fn add(&mut self, line: BenchLine) {
        match line {
            BenchLine::Start { counter_hz, cpus } => self.start = Some((counter_hz, cpus)),
            BenchLine::Samples { name, ops, ticks } => {
                match self.samples.iter_mut().find(|s| s.name == name) {
                    Some(s) if s.ops == ops => s.ticks.extend(ticks),
                    Some(_) => self.problems.push(BenchError::Malformed(format!(
                        "samples {name}: ops changed"
                    ))),
                    None => self.samples.push(Samples { name, ops, ticks }),
                }
            }
            BenchLine::Summary { name, text } => self.summaries.push((name, text)),
            BenchLine::Kernel { when, figures } => self.kernel.push((when, figures)),
            BenchLine::Skip(name) => self.skipped.push(name),
            BenchLine::Done(n) => self.done = Some(n),
            BenchLine::Error(e) => self.problems.push(BenchError::Guest(e)),
        }
    }

    /// The metrics, each summary recomputed from its samples and checked against the guest's;
    /// the run must be complete, consistent and calibrated.
    pub fn metrics(&self) -> std::result::Result<Vec<Metric>, BenchError> {
        if let Some(problem) = self.problems.first() {
            return Err(problem.clone());
        }
        let (hz, _) = self.start.ok_or(BenchError::NoStart)?;
        let done = self.done.ok_or(BenchError::NotDone)?;
        let mut metrics = Vec::new();
        for s in &self.samples {
            let values: Vec<f64> = s.ticks.iter().map(|t| per_op(*t, s.ops, hz)).collect();
            let summary = Summary::of(&values).ok_or(BenchError::Unpaired(s.name.clone()))?;
            let guest = self
                .summaries
                .iter()
                .find(|(name, _)| *name == s.name)
                .map(|(_, text)| text)
                .ok_or(BenchError::Unpaired(s.name.clone()))?;
            if *guest != summary.line() {
                return Err(BenchError::Disagree {
                    name: s.name.clone(),
                    guest: guest.clone(),
                    host: summary.line(),
                });
            }
            metrics.push(Metric {
                name: s.name.clone(),
                ops: s.ops,
                summary,
            });
        }
        if let Some((name, _)) = self
            .summaries
            .iter()
            .find(|(name, _)| !self.samples.iter().any(|s| s.name == *name))
        {
            return Err(BenchError::Unpaired(name.clone()));
        }
        if done != metrics.len() {
            return Err(BenchError::Count {
                done,
                reported: metrics.len(),
            });
        }
        for m in METRICS {
            if !metrics.iter().any(|x| x.name == m.name)
                && !self.skipped.iter().any(|s| s == m.name)
            {
                return Err(BenchError::Missing(m.name.into()));
            }
        }
        if let Some(c) = metrics.iter().find(|m| m.name == "calibration") {
            let (length, tolerance) = CALIBRATION;
            if (c.summary.median - length).abs() > tolerance {
                return Err(BenchError::NotCounting(c.summary.median));
            }
        }
        Ok(metrics)
    }
}

/// One metric's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: String,
    /// Operations per sample.
    pub ops: u64,
    pub summary: Summary,
}

/// The figures as a Markdown table (aligned, so it reads in a terminal as well as in the
/// README).
pub fn table(metrics: &[Metric]) -> String {
    let header = ["metric", "min", "median", "mean", "max", "n", "target"];
    let rows: Vec<[String; 7]> = metrics
        .iter()
        .map(|m| {
            let s = &m.summary;
            let target = info(&m.name)
                .and_then(|i| i.target)
                .map_or(String::new(), |t| {
                    let verdict = if s.median <= t { "met" } else { "MISSED" };
                    format!("<= {t:.0} ({verdict})")
                });
            [
                m.name.clone(),
                format!("{:.1}", s.min),
                format!("{:.1}", s.median),
                format!("{:.1}", s.mean),
                format!("{:.1}", s.max),
                s.n.to_string(),
                target,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 || i == 6 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&header.map(String::from));
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 || i == 6 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// What each metric measures, one line each.
pub fn legend(metrics: &[Metric]) -> String {
    metrics
        .iter()
        .filter_map(|m| info(&m.name).map(|i| format!("  {:<26} {}\n", m.name, i.what)))
        .collect()
}

/// The figures as JSON: an array with one object per metric.
pub fn json(metrics: &[Metric]) -> String {
    let objects: Vec<String> = metrics
        .iter()
        .map(|m| {
            let s = &m.summary;
            format!(
                "  {{\"name\": {}, \"unit\": {}, \"min\": {:.1}, \"median\": {:.1}, \"mean\": {:.1}, \"max\": {:.1}, \"n\": {}}}",
                json_string(&m.name),
                json_string(UNIT),
                s.min,
                s.median,
                s.mean,
                s.max,
                s.n
            )
        })
        .collect();
    format!("[\n{}\n]\n", objects.join(",\n"))
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The kernel's own figures: start-up time, and memory and objects before and after the
/// benchmarks (equal figures after mean nothing leaked).
pub fn kernel_summary(r: &Report) -> String {
    let mut out = String::new();
    if let Some(ms) = r.kernel_ready_ms {
        out.push_str(&format!(
            "  kernel ready after {ms} virtual ms (~{ms} million instructions, all CPUs)\n"
        ));
    }
    let get = |when: &str| r.kernel.iter().find(|(w, _)| w == when).map(|(_, f)| f);
    if let (Some(before), Some(after)) = (get("before"), get("after")) {
        for (key, b) in before {
            if key == "uptime_ns" {
                continue;
            }
            if let Some((_, a)) = after.iter().find(|(k, _)| k == key) {
                let change = if a == b {
                    String::from("unchanged")
                } else {
                    format!("{:+}", *a as i128 - *b as i128)
                };
                out.push_str(&format!("  {key:<12} {b:>10} -> {a:>10}  ({change})\n"));
            }
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 62_500_000;

    /// A complete run's output: every metric with the given samples (ops 64 each).
    fn output(ticks: &[u64], tamper: Option<&str>) -> String {
        let mut out = String::from("nimbus: kernel ready: 2 cpus, 500 MiB free, 3 ms\r\n");
        out.push_str("nimbus-bench: start counter_hz=62500000 cpus=2\n");
        for m in METRICS {
            let list: Vec<String> = ticks.iter().map(u64::to_string).collect();
            out.push_str(&format!(
                "nimbus-bench: samples {} ops=64 ticks={}\n",
                m.name,
                list.join(",")
            ));
            let values: Vec<f64> = ticks.iter().map(|t| per_op(*t, 64, HZ)).collect();
            let line = match (tamper, m.name) {
                (Some(text), "null_syscall") => text.to_string(),
                _ => Summary::of(&values).unwrap().line(),
            };
            out.push_str(&format!(
                "nimbus-bench: {} {line} unit=instructions\n",
                m.name
            ));
        }
        out.push_str("nimbus-bench: kernel before free_frames=100 objects=7 uptime_ns=5\n");
        out.push_str("nimbus-bench: kernel after free_frames=100 objects=9 uptime_ns=9\n");
        out.push_str(&format!("nimbus-bench: done {} metrics\n", METRICS.len()));
        out.push_str("nimbus: power off (status 0)\n");
        out
    }

    #[test]
    fn statistics() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(
            (s.min, s.median, s.mean, s.max, s.n),
            (1.0, 2.0, 2.0, 3.0, 3)
        );
        let s = Summary::of(&[4.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!(
            (s.min, s.median, s.mean, s.max, s.n),
            (1.0, 3.0, 4.25, 10.0, 4)
        );
        let s = Summary::of(&[7.5]).unwrap();
        assert_eq!(
            (s.min, s.median, s.mean, s.max, s.n),
            (7.5, 7.5, 7.5, 7.5, 1)
        );
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(
            Summary::of(&[571.25, 571.5, 572.0]).unwrap().line(),
            "min=571.2 median=571.5 mean=571.6 max=572.0 n=3"
        );
    }

    #[test]
    fn ticks_become_instructions_per_operation() {
        // 62.5 MHz: a tick is 16 ns, and under -icount shift=0 a nanosecond is an instruction.
        assert_eq!(per_op(1, 1, HZ), 16.0);
        assert_eq!(per_op(2286, 64, HZ), 571.5);
        assert_eq!(per_op(6250, 1000, HZ), 100.0);
        assert_eq!(per_op(100, 4, 1_000_000_000), 25.0);
    }

    #[test]
    fn lines() {
        let ok = |l: &str| parse_line(l).unwrap().unwrap();
        assert_eq!(
            ok("nimbus-bench: start counter_hz=62500000 cpus=2\r"),
            BenchLine::Start {
                counter_hz: HZ,
                cpus: 2
            }
        );
        assert_eq!(
            ok("\x1b[0mnimbus-bench: samples yield ops=128 ticks=1,22,333"),
            BenchLine::Samples {
                name: "yield".into(),
                ops: 128,
                ticks: vec![1, 22, 333]
            }
        );
        assert_eq!(
            ok(
                "nimbus-bench: null_syscall min=1.0 median=2.0 mean=2.5 max=9.0 n=4 unit=instructions"
            ),
            BenchLine::Summary {
                name: "null_syscall".into(),
                text: "min=1.0 median=2.0 mean=2.5 max=9.0 n=4".into()
            }
        );
        assert_eq!(
            ok("nimbus-bench: kernel after free_frames=10 objects=3"),
            BenchLine::Kernel {
                when: "after".into(),
                figures: vec![("free_frames".into(), 10), ("objects".into(), 3)]
            }
        );
        assert_eq!(
            ok("nimbus-bench: skip ipc_call_reply_cross_cpu: one CPU"),
            BenchLine::Skip("ipc_call_reply_cross_cpu".into())
        );
        assert_eq!(ok("nimbus-bench: done 9 metrics"), BenchLine::Done(9));
        assert_eq!(
            ok("nimbus-bench: error spawn: quota exceeded"),
            BenchLine::Error("spawn: quota exceeded".into())
        );
        assert_eq!(
            parse_line("nimbus: kernel ready: 2 cpus, 1 MiB free, 3 ms"),
            None
        );
        for bad in [
            "nimbus-bench: start counter_hz=0 cpus=2",
            "nimbus-bench: start cpus=2",
            "nimbus-bench: samples yield ops=0 ticks=1",
            "nimbus-bench: samples yield ops=4 ticks=1,,2",
            "nimbus-bench: samples yield ops=4 ticks=-1",
            "nimbus-bench: yield min=1.0 median=2.0 mean=2.5 max=9.0 n=4 unit=cycles",
            "nimbus-bench: yield min=1.0 median=2.0 max=9.0 n=4 unit=instructions",
            "nimbus-bench: yield min=x median=2.0 mean=2.5 max=9.0 n=4 unit=instructions",
            "nimbus-bench: Yield min=1.0 median=2.0 mean=2.5 max=9.0 n=4 unit=instructions",
            "nimbus-bench: done many metrics",
            "nimbus-bench: kernel after free_frames=lots",
        ] {
            assert!(
                matches!(parse_line(bad), Some(Err(BenchError::Malformed(_)))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_complete_run_gives_every_metric() {
        let text = output(&[400, 401, 400], None);
        let report = Report::parse(&text);
        assert_eq!(report.kernel_ready_ms, Some(3));
        let metrics = report.metrics().unwrap();
        assert_eq!(metrics.len(), METRICS.len());
        let calibration = metrics.iter().find(|m| m.name == "calibration").unwrap();
        assert_eq!(calibration.summary.median, 100.0);
        assert_eq!(calibration.summary.max, 100.25);
        let kernel = kernel_summary(&report);
        assert!(
            kernel.contains("kernel ready after 3 virtual ms"),
            "{kernel}"
        );
        assert!(
            kernel.contains("free_frames         100 ->        100  (unchanged)"),
            "{kernel}"
        );
        assert!(
            kernel.contains("objects               7 ->          9  (+2)"),
            "{kernel}"
        );
        assert!(!kernel.contains("uptime"));
    }

    #[test]
    fn samples_may_span_lines() {
        let text = output(&[400], None).replace(
            "nimbus-bench: samples spawn ops=64 ticks=400\n",
            "nimbus-bench: samples spawn ops=64 ticks=400\nnimbus-bench: samples spawn ops=64 ticks=402\n",
        );
        let report = Report::parse(&text);
        assert_eq!(
            report
                .samples
                .iter()
                .find(|s| s.name == "spawn")
                .unwrap()
                .ticks,
            [400, 402]
        );
        // The guest's summary still covers one sample: the two disagree.
        assert!(matches!(report.metrics(), Err(BenchError::Disagree { .. })));
    }

    /// A benchmark log and how its parse must fail.
    type BadRun = (String, fn(&BenchError) -> bool);

    #[test]
    fn bad_runs_are_refused() {
        let guest_wrong = "min=1.0 median=1.0 mean=1.0 max=1.0 n=3";
        let cases: Vec<BadRun> = vec![
            (output(&[400], Some(guest_wrong)), |e| {
                matches!(e, BenchError::Disagree { .. })
            }),
            (
                output(&[400], None).replace("nimbus-bench: done", "x"),
                |e| *e == BenchError::NotDone,
            ),
            (output(&[400], None).replace("done 9", "done 8"), |e| {
                matches!(e, BenchError::Count { .. })
            }),
            (
                output(&[400], None).replace("nimbus-bench: start", "x"),
                |e| *e == BenchError::NoStart,
            ),
            (
                output(&[400], None) + "nimbus-bench: error spawn: out of memory\n",
                |e| *e == BenchError::Guest("spawn: out of memory".into()),
            ),
            (
                output(&[400], None)
                    .replace("nimbus-bench: samples yield", "nimbus-bench: samples other"),
                |e| matches!(e, BenchError::Unpaired(_)),
            ),
            // Without -icount the calibration loop takes a fraction of a tick per instruction.
            (output(&[3], None), |e| {
                matches!(e, BenchError::NotCounting(_))
            }),
        ];
        for (text, expected) in cases {
            let got = Report::parse(&text).metrics();
            assert!(got.as_ref().is_err_and(expected), "{got:?}");
        }
        // A metric that is neither reported nor skipped is missing; a skipped one is fine.
        let mut text = String::new();
        let mut skip = false;
        for line in output(&[400], None).lines() {
            if line.contains("ipc_call_reply_cross_cpu") {
                skip = true;
                continue;
            }
            text.push_str(&line.replace("done 9", "done 8"));
            text.push('\n');
        }
        assert!(skip);
        assert_eq!(
            Report::parse(&text).metrics(),
            Err(BenchError::Missing("ipc_call_reply_cross_cpu".into()))
        );
        text.push_str("nimbus-bench: skip ipc_call_reply_cross_cpu: one CPU\n");
        assert_eq!(Report::parse(&text).metrics().map(|m| m.len()), Ok(8));
    }

    fn metric(name: &str, values: &[f64]) -> Metric {
        Metric {
            name: name.into(),
            ops: 1,
            summary: Summary::of(values).unwrap(),
        }
    }

    #[test]
    fn json_has_one_object_per_metric() {
        let metrics = [
            metric("null_syscall", &[140.0, 141.5]),
            metric("spawn", &[9.0]),
        ];
        assert_eq!(
            json(&metrics),
            "[\n  {\"name\": \"null_syscall\", \"unit\": \"instructions\", \"min\": 140.0, \
             \"median\": 140.8, \"mean\": 140.8, \"max\": 141.5, \"n\": 2},\n  \
             {\"name\": \"spawn\", \"unit\": \"instructions\", \"min\": 9.0, \"median\": 9.0, \
             \"mean\": 9.0, \"max\": 9.0, \"n\": 1}\n]\n"
        );
        assert_eq!(json(&[]), "[\n\n]\n");
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn table_shows_targets() {
        let metrics = [
            metric("null_syscall", &[140.0]),
            metric("ipc_call_reply_same_cpu", &[650.0]),
            metric("spawn", &[123_456.0]),
        ];
        let t = table(&metrics);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("| metric "));
        assert!(lines[1].starts_with("| ---") && lines[1].contains("-: |"));
        assert!(lines[2].contains("<= 150 (met)"), "{t}");
        assert!(lines[3].contains("<= 600 (MISSED)"), "{t}");
        assert!(lines[4].contains("123456.0"), "{t}");
        assert!(lines.iter().all(|l| l.len() == lines[0].len()), "{t}");
        assert!(legend(&metrics).contains("null_syscall"));
    }

    #[test]
    fn every_metric_is_described_once() {
        for (i, m) in METRICS.iter().enumerate() {
            assert!(is_name(m.name) && !m.what.is_empty());
            assert!(METRICS[i + 1..].iter().all(|o| o.name != m.name));
        }
        for name in [
            "ipc_call_reply_same_cpu",
            "ipc_call_reply_cross_cpu",
            "null_syscall",
            "notify_wake",
            "yield",
            "map_unmap",
            "spawn",
        ] {
            assert!(info(name).is_some(), "{name}");
        }
    }
}
