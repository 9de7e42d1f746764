//! Running QEMU with a hard timeout, a log file, and an optional early stop.
//!
//! QEMU's stdout and stderr share one pipe (so the log keeps their order); a reader thread copies
//! it to `target/nimbus/logs/<name>.log` and, when asked, to the terminal. Test runs get their own
//! process group and no stdin; on timeout, on the early-stop condition (e.g. the ready line of a
//! kernel that then idles forever) or on Ctrl-C the whole group is killed. Interactive runs stay
//! in the terminal's process group, because QEMU reads the terminal. Everything runs in the
//! workspace root.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the process meets the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// stdin from the terminal, output echoed, same process group.
    Interactive,
    /// No stdin, output only in the log, own process group.
    Captured,
}

/// What to run.
pub struct Spec<'a> {
    /// The program.
    pub program: &'a str,
    /// Its arguments.
    pub args: Vec<String>,
    /// The log file (created or truncated).
    pub log: PathBuf,
    /// Kill after this long.
    pub timeout: Option<Duration>,
    /// Terminal handling.
    pub mode: Mode,
    /// Stop (kill) once the output satisfies a condition.
    pub stop_when: Option<StopWhen<'a>>,
}

/// An early stop: when `seen` holds for the output so far, let the process run `after` more
/// (so a failure right after the awaited line is still caught), then kill it.
#[derive(Clone, Copy)]
pub struct StopWhen<'a> {
    /// The condition on everything printed so far.
    pub seen: &'a (dyn Fn(&str) -> bool + Sync),
    /// Grace time after it first holds.
    pub after: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The process exited with this status (QEMU: the guest's semihosting status).
    Exited(i32),
    /// The process died from a signal it did not get from us.
    Signalled,
    /// Killed at the timeout.
    TimedOut(Duration),
    /// Killed because `stop_when` held.
    Stopped,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited(code) => match nimbus_boot::status::ExitStatus::from_code(*code) {
                Some(s) => write!(f, "exit status {code} ({})", s.describe()),
                None => write!(f, "exit status {code}"),
            },
            Self::Signalled => write!(f, "killed by a signal"),
            Self::TimedOut(t) => write!(f, "timed out after {} s", t.as_secs()),
            Self::Stopped => write!(f, "stopped by xtask"),
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Everything it printed (lossy UTF-8).
    pub output: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Runs `spec` to its end.
pub fn run(spec: &Spec) -> Result<Outcome> {
    if let Some(dir) = spec.log.parent() {
        crate::paths::create_dir(dir)?;
    }
    let mut log = std::fs::File::create(&spec.log).map_err(|e| Error::io(&spec.log, e))?;
    let line = crate::qemu::shell_line(spec.program, &spec.args);
    writeln!(log, "$ {line}\n").map_err(|e| Error::io(&spec.log, e))?;

    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::io(&spec.log, e))?;
    let writer2 = writer.try_clone().map_err(|e| Error::io(&spec.log, e))?;
    let mut cmd = Command::new(spec.program);
    cmd.args(&spec.args)
        .current_dir(crate::paths::root())
        .stdout(writer)
        .stderr(writer2);
    match spec.mode {
        Mode::Interactive => {
            cmd.stdin(Stdio::inherit());
        }
        Mode::Captured => {
            cmd.stdin(Stdio::null()).process_group(0);
        }
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.into(),
        source,
    })?;
    drop(cmd); // our copies of the pipe's write end: the reader sees EOF when QEMU is gone

    let output = Arc::new(Mutex::new(Vec::new()));
    let echo = spec.mode == Mode::Interactive;
    let copier = {
        let output = Arc::clone(&output);
        let mut log = log.try_clone().map_err(|e| Error::io(&spec.log, e))?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&buf[..n]);
                if echo {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
                if let Ok(mut o) = output.lock() {
                    o.extend_from_slice(&buf[..n]);
                }
            }
        })
    };

    let group = spec.mode == Mode::Captured;
    let mut seen = 0;
    let mut stop_at: Option<Instant> = None;
    let ending = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().map_or(Ending::Signalled, Ending::Exited),
            Ok(None) => {}
            Err(e) => {
                kill(&mut child, group);
                return Err(Error::Other(format!("waiting for {}: {e}", spec.program)));
            }
        }
        if crate::interrupt::interrupted() {
            kill(&mut child, group);
            let _ = writeln!(log, "\n[xtask] interrupted");
            return Err(Error::Interrupted);
        }
        if let Some(limit) = spec.timeout.filter(|&t| start.elapsed() >= t) {
            kill(&mut child, group);
            break Ending::TimedOut(limit);
        }
        if let Some(stop) = spec.stop_when {
            if stop_at.is_none() {
                let text = output.lock().ok().filter(|o| o.len() != seen).map(|o| {
                    seen = o.len();
                    String::from_utf8_lossy(&o).into_owned()
                });
                if text.is_some_and(|t| (stop.seen)(&t)) {
                    stop_at = Some(Instant::now() + stop.after);
                }
            }
            if stop_at.is_some_and(|at| Instant::now() >= at) {
                kill(&mut child, group);
                break Ending::Stopped;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let _ = copier.join();
    let output = output
        .lock()
        .map(|o| String::from_utf8_lossy(&o).into_owned())
        .unwrap_or_default();
    let _ = writeln!(
        log,
        "\n[xtask] {ending} after {:.1} s",
        elapsed.as_secs_f64()
    );
    Ok(Outcome {
        ending,
        output,
        elapsed,
    })
}

/// Kills the child (and, for captured runs, its process group) and reaps it.
fn kill(child: &mut Child, group: bool) {
    if group {
        // The group id is the child's pid (process_group(0)). Best effort: `kill` may be missing.
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `n` lines of `text`, for failure reports.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(script: &str, timeout: u64, stop: Option<StopWhen<'a>>) -> Spec<'a> {
        let log = std::env::temp_dir().join(format!(
            "xtask-runner-test-{}-{timeout}.log",
            std::process::id()
        ));
        Spec {
            program: "sh",
            args: vec!["-c".into(), script.into()],
            log,
            timeout: Some(Duration::from_secs(timeout)),
            mode: Mode::Captured,
            stop_when: stop,
        }
    }

    #[test]
    fn captures_output_and_exit_status() {
        let s = spec("echo out; echo err >&2; exit 6", 10, None);
        let o = run(&s).unwrap();
        assert_eq!(o.ending, Ending::Exited(6));
        assert!(o.output.contains("out\n") && o.output.contains("err\n"));
        let log = std::fs::read_to_string(&s.log).unwrap();
        assert!(log.starts_with("$ sh -c"));
        assert!(log.contains("exit status 6 (no usable memory in the device tree)"));
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn kills_the_whole_group_at_the_timeout() {
        let s = spec("sleep 30 & sleep 30; echo never", 1, None);
        let o = run(&s).unwrap();
        assert_eq!(o.ending, Ending::TimedOut(Duration::from_secs(1)));
        assert!(
            o.elapsed < Duration::from_secs(10),
            "the background sleep must not hold the pipe"
        );
        assert!(!o.output.contains("never"));
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn stops_early_when_asked() {
        let ready = |t: &str| t.contains("ready");
        let stop = StopWhen {
            seen: &ready,
            after: Duration::from_millis(300),
        };
        let s = spec(
            "echo booting; echo ready; sleep 0.1; echo after; sleep 30",
            20,
            Some(stop),
        );
        let o = run(&s).unwrap();
        assert_eq!(o.ending, Ending::Stopped);
        assert!(o.elapsed < Duration::from_secs(10));
        assert!(
            o.output.contains("after"),
            "output within the grace time is kept"
        );
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
