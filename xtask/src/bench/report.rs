//! Reading the benchmark root task's output: the line protocol (see
//! `userland/bench/src/measure.rs`), the run as a whole, and the checks that make a run usable
//! (every summary recomputed from its samples and equal to the guest's, calibration at 100, the
//! run finished).

use super::{CALIBRATION, ICOUNT, METRICS, PREFIX, UNIT};
use crate::console::{self, Line};
use nimbus_bench_stats::{Summary, per_op};
use std::fmt;

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
pub(super) fn is_name(word: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::METRICS;
    use crate::bench::output::kernel_summary;
    use nimbus_bench_stats::per_op;

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
}
