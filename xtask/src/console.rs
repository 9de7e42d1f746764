//! The kernel's console contract, parsed from a QEMU log.
//!
//! Lines the kernel prints (the lead's side of the contract):
//! ```text
//! nimbus: booted at EL<n>, image at <hex>, dtb at <hex>      banner
//! nimbus: kernel ready: <N> cpus, <M> MiB free, <T> ms       start-up done
//! nimbus: fatal: <message>                                   a boot problem (then a semihosting exit)
//! nimbus-test: start <total>                                 test image only
//! nimbus-test: ok <name>
//! nimbus-test: FAIL <name>: <reason>
//! nimbus-test: done <p> passed, <f> failed
//! ```
//! A test run may hold several suites (the kernel's own, then the userland suite the test
//! image's root task runs), each with its own `start` and `done`: the report sums them.
//! A marker is recognised anywhere in a line (firmware may leave escape codes or a partial line
//! before the kernel's first output); serial `\r` is ignored. A `nimbus-test:` line that does
//! not parse is kept as malformed, so contract drift fails a test instead of vanishing.

/// One recognised line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The banner.
    Banner(Banner),
    /// The ready line.
    Ready(Ready),
    /// A fatal boot problem.
    Fatal(String),
    /// Number of kernel tests about to run.
    TestStart(u32),
    /// A passing test.
    TestOk(String),
    /// A failing test and why.
    TestFail { name: String, reason: String },
    /// The end of the test run.
    TestDone { passed: u32, failed: u32 },
    /// A `nimbus-test:` line that breaks the contract.
    Malformed(String),
}

/// `nimbus: booted at EL<n>, image at <hex>, dtb at <hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Banner {
    pub el: u32,
    pub image: u64,
    pub dtb: u64,
}

/// `nimbus: kernel ready: <N> cpus, <M> MiB free, <T> ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    pub cpus: u32,
    pub free_mib: u64,
    pub ms: u64,
}

const BANNER: &str = "nimbus: booted at EL";
const READY: &str = "nimbus: kernel ready: ";
const FATAL: &str = "nimbus: fatal: ";
const TEST: &str = "nimbus-test: ";

fn hex(text: &str) -> Option<u64> {
    let t = text.trim();
    u64::from_str_radix(
        t.strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))?
            .replace('_', "")
            .as_str(),
        16,
    )
    .ok()
}

fn number_before<T: std::str::FromStr>(text: &str, unit: &str) -> Option<T> {
    text.trim().strip_suffix(unit)?.trim().parse().ok()
}

/// Parses one line of output.
pub fn parse_line(raw: &str) -> Option<Line> {
    let line = raw.trim_end_matches(['\r', '\n']).trim_end();
    if let Some(at) = line.find(TEST) {
        let rest = &line[at + TEST.len()..];
        return Some(parse_test(rest).unwrap_or_else(|| Line::Malformed(line[at..].to_string())));
    }
    if let Some(at) = line.find(READY) {
        let mut parts = line[at + READY.len()..].split(',');
        let cpus = parts.next()?;
        let ready = Ready {
            cpus: number_before(cpus, "cpus").or_else(|| number_before(cpus, "cpu"))?,
            free_mib: number_before(parts.next()?, "MiB free")?,
            ms: number_before(parts.next()?, "ms")?,
        };
        return Some(Line::Ready(ready));
    }
    if let Some(at) = line.find(FATAL) {
        return Some(Line::Fatal(line[at + FATAL.len()..].to_string()));
    }
    if let Some(at) = line.find(BANNER) {
        let mut parts = line[at + BANNER.len()..].split(',');
        let el = parts.next()?.trim().parse().ok()?;
        let image = hex(parts.next()?.trim().strip_prefix("image at")?)?;
        let dtb = hex(parts.next()?.trim().strip_prefix("dtb at")?)?;
        return Some(Line::Banner(Banner { el, image, dtb }));
    }
    None
}

fn parse_test(rest: &str) -> Option<Line> {
    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    match word {
        "start" => tail.trim().parse().ok().map(Line::TestStart),
        "ok" if !tail.trim().is_empty() && !tail.trim().contains(' ') => {
            Some(Line::TestOk(tail.trim().into()))
        }
        "FAIL" => {
            // Names may contain `::`; the reason starts after the first ": ".
            let (name, reason) = tail
                .split_once(": ")
                .or_else(|| Some((tail.trim_end().strip_suffix(':')?, "")))?;
            let name = name.trim();
            (!name.is_empty() && !name.contains(' ')).then(|| Line::TestFail {
                name: name.into(),
                reason: reason.trim().into(),
            })
        }
        "done" => {
            let (passed, failed) = tail.split_once(',')?;
            Some(Line::TestDone {
                passed: number_before(passed, "passed")?,
                failed: number_before(failed, "failed")?,
            })
        }
        _ => None,
    }
}

/// One kernel test result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub name: String,
    /// `Err(reason)` when it failed.
    pub outcome: Result<(), String>,
}

/// Everything a log says, in the order it says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub banner: Option<Banner>,
    pub ready: Option<Ready>,
    pub fatal: Vec<String>,
    pub start: Option<u32>,
    pub results: Vec<TestResult>,
    pub done: Option<(u32, u32)>,
    /// `start` lines seen (one per suite).
    pub suites_started: u32,
    /// `done` lines seen.
    pub suites_done: u32,
    pub malformed: Vec<String>,
}

impl Report {
    /// Parses a whole log.
    pub fn parse(log: &str) -> Self {
        let mut r = Self::default();
        for line in log.lines().filter_map(parse_line) {
            match line {
                Line::Banner(b) => r.banner = r.banner.or(Some(b)),
                Line::Ready(x) => r.ready = r.ready.or(Some(x)),
                Line::Fatal(m) => r.fatal.push(m),
                Line::TestStart(n) => {
                    r.start = Some(r.start.unwrap_or(0) + n);
                    r.suites_started += 1;
                }
                Line::TestOk(name) => r.results.push(TestResult {
                    name,
                    outcome: Ok(()),
                }),
                Line::TestFail { name, reason } => r.results.push(TestResult {
                    name,
                    outcome: Err(reason),
                }),
                Line::TestDone { passed, failed } => {
                    let (p, f) = r.done.unwrap_or((0, 0));
                    r.done = Some((p + passed, f + failed));
                    r.suites_done += 1;
                }
                Line::Malformed(l) => r.malformed.push(l),
            }
        }
        r
    }

    /// Whether the log already holds the ready line (to stop a production boot).
    pub fn has_ready_line(log: &str) -> bool {
        log.lines()
            .any(|l| matches!(parse_line(l), Some(Line::Ready(_))))
    }

    /// Results that passed / failed.
    pub fn counts(&self) -> (u32, u32) {
        let passed = self.results.iter().filter(|r| r.outcome.is_ok()).count() as u32;
        (passed, self.results.len() as u32 - passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_ready_fatal() {
        assert_eq!(
            parse_line("nimbus: booted at EL2, image at 0x40200000, dtb at 0x48000000\r"),
            Some(Line::Banner(Banner {
                el: 2,
                image: 0x4020_0000,
                dtb: 0x4800_0000
            }))
        );
        assert_eq!(
            parse_line("nimbus: kernel ready: 4 cpus, 1987 MiB free, 153 ms"),
            Some(Line::Ready(Ready {
                cpus: 4,
                free_mib: 1987,
                ms: 153
            }))
        );
        assert_eq!(
            parse_line("nimbus: kernel ready: 1 cpu, 100 MiB free, 9 ms"),
            Some(Line::Ready(Ready {
                cpus: 1,
                free_mib: 100,
                ms: 9
            }))
        );
        assert_eq!(
            parse_line("\x1b[0mnimbus: fatal: no usable memory in /memory"),
            Some(Line::Fatal("no usable memory in /memory".into()))
        );
        assert_eq!(parse_line("U-Boot 2023.01+dfsg-2+deb12u3"), None);
        assert_eq!(
            parse_line("nimbus: booted at ELx, image at 0x0, dtb at 0x0"),
            None
        );
        assert_eq!(parse_line("nimbus: kernel ready: many cpus"), None);
    }

    #[test]
    fn test_lines() {
        assert_eq!(
            parse_line("nimbus-test: start 12"),
            Some(Line::TestStart(12))
        );
        assert_eq!(
            parse_line("nimbus-test: ok mm::frame_alloc"),
            Some(Line::TestOk("mm::frame_alloc".into()))
        );
        assert_eq!(
            parse_line("nimbus-test: FAIL ipc::call: expected 3, got 4: see log"),
            Some(Line::TestFail {
                name: "ipc::call".into(),
                reason: "expected 3, got 4: see log".into()
            })
        );
        assert_eq!(
            parse_line("nimbus-test: done 11 passed, 1 failed"),
            Some(Line::TestDone {
                passed: 11,
                failed: 1
            })
        );
        for bad in [
            "nimbus-test: start",
            "nimbus-test: ok",
            "nimbus-test: FAIL x",
            "nimbus-test: skip x",
            "nimbus-test: done 3",
        ] {
            assert!(matches!(parse_line(bad), Some(Line::Malformed(_))), "{bad}");
        }
    }

    #[test]
    fn whole_log() {
        let log = "U-Boot...\r\nnimbus: booted at EL1, image at 0x40400000, dtb at 0x5dcab000\r\n\
                   nimbus: kernel ready: 2 cpus, 480 MiB free, 40 ms\r\n\
                   nimbus-test: start 3\nnimbus-test: ok a\nnimbus-test: FAIL b: nope\nnimbus-test: ok c\n\
                   nimbus-test: done 2 passed, 1 failed\n";
        let r = Report::parse(log);
        assert_eq!(r.banner.unwrap().dtb, 0x5dca_b000);
        assert_eq!(r.ready.unwrap().cpus, 2);
        assert_eq!(r.start, Some(3));
        assert_eq!(r.results.len(), 3);
        assert_eq!(r.results[1].outcome, Err("nope".into()));
        assert_eq!(r.counts(), (2, 1));
        assert_eq!(r.done, Some((2, 1)));
        assert!(r.malformed.is_empty() && r.fatal.is_empty());
        assert!(Report::has_ready_line(log));
        assert!(!Report::has_ready_line(
            "nimbus: booted at EL1, image at 0x0, dtb at 0x0"
        ));
    }
}
