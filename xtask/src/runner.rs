//! Running QEMU with a hard timeout, a log file, and an optional early stop.
//!
//! QEMU's stdout and stderr share one pipe (so the log keeps their order); a reader thread copies
//! it to `target/nimbus/logs/<name>.log` and, when asked, to the terminal. Test runs get their own
//! process group and no stdin; on timeout, on the early-stop condition (e.g. the ready line of a
//! kernel that then idles forever) or on Ctrl-C the whole group is killed. Interactive runs stay
//! in the terminal's process group, because QEMU reads the terminal. Everything runs in the
//! workspace root.
//!
//! A scripted run ([`run_scripted`]) talks to the guest over its serial line: QEMU's stdin is a
//! pipe, and each [`Step`] types its bytes, then waits (with its own deadline) for its patterns
//! to appear in the output that follows. The first step that fails ends the run; the steps
//! after it are reported as not run.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
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

/// A test of a step's output that patterns cannot express (random bytes, say): `Err` says what
/// is still missing.
pub type Check = fn(&str) -> std::result::Result<(), String>;

/// One exchange of a scripted run: type `send`, then wait for `expect`.
#[derive(Debug, Clone)]
pub struct Step {
    /// The test this step is (`system::shell::ps`).
    pub name: String,
    /// Bytes typed on the serial line when the step starts (may be empty).
    pub send: Vec<u8>,
    /// Texts that must appear, in this order, in the output after the step started.
    pub expect: Vec<String>,
    /// Texts that must not appear in the step's output (checked when `expect` is met).
    pub reject: Vec<String>,
    /// QEMU must then exit with this status (a power-off).
    pub exit: Option<i32>,
    /// Once `expect` is met, the step also waits until this accepts everything the step has
    /// seen; the step then ends where that output ends.
    pub check: Option<Check>,
    /// How long the step may take.
    pub timeout: Duration,
}

impl Step {
    /// A step that types `send` and waits up to `timeout` for `expect`.
    pub fn new(name: &str, send: &[u8], expect: &[&str], timeout: Duration) -> Self {
        Self {
            name: name.into(),
            send: send.to_vec(),
            expect: expect.iter().map(|e| (*e).into()).collect(),
            reject: Vec::new(),
            exit: None,
            check: None,
            timeout,
        }
    }

    /// The step also waits for `check` to accept its output (see [`Step::check`]).
    pub fn checking(mut self, check: Check) -> Self {
        self.check = Some(check);
        self
    }

    /// The step also fails if any of `texts` appears in its output.
    pub fn rejecting(mut self, texts: &[&str]) -> Self {
        self.reject = texts.iter().map(|e| (*e).into()).collect();
        self
    }

    /// The step also waits for QEMU to exit with `status`.
    pub fn exiting(mut self, status: i32) -> Self {
        self.exit = Some(status);
        self
    }

    /// Where the step's patterns end in `output` (searched from its start), or the first one
    /// that is missing.
    fn matched<'a>(&'a self, output: &[u8]) -> std::result::Result<usize, &'a str> {
        let mut at = 0;
        for pattern in &self.expect {
            match output
                .get(at..)
                .and_then(|rest| find(rest, pattern.as_bytes()))
            {
                Some(found) => at += found + pattern.len(),
                None => return Err(pattern),
            }
        }
        Ok(at)
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How one step of a scripted run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    /// The step's name.
    pub name: String,
    /// `Ok` with how long it took, or why it failed.
    pub result: std::result::Result<Duration, String>,
    /// The output during the step.
    pub transcript: String,
}

/// A scripted run: how QEMU ended, and each step.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// The run as a whole.
    pub outcome: Outcome,
    /// One result per step, in order (failed or not run ones included).
    pub steps: Vec<StepResult>,
}

/// A script in progress.
struct Script<'a> {
    steps: &'a [Step],
    stdin: Option<ChildStdin>,
    /// The current step.
    next: usize,
    /// Where in the output the current step starts, and when it started.
    from: usize,
    started: Instant,
    sent: bool,
    results: Vec<StepResult>,
}

/// What a script wants after looking at the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptState {
    /// Keep running.
    Going,
    /// Every step passed; stop QEMU.
    Done,
    /// A step failed; stop QEMU.
    Failed,
}

impl<'a> Script<'a> {
    fn new(steps: &'a [Step], stdin: Option<ChildStdin>) -> Self {
        Self {
            steps,
            stdin,
            next: 0,
            from: 0,
            started: Instant::now(),
            sent: false,
            results: Vec::new(),
        }
    }

    fn step(&self) -> Option<&'a Step> {
        self.steps.get(self.next)
    }

    fn transcript(&self, output: &[u8], end: Option<usize>) -> String {
        let rest = output.get(self.from..).unwrap_or(&[]);
        let rest = end.and_then(|end| rest.get(..end)).unwrap_or(rest);
        String::from_utf8_lossy(rest).into_owned()
    }

    fn pass(&mut self, output: &[u8], end: usize) {
        if let Some(step) = self.step() {
            self.results.push(StepResult {
                name: step.name.clone(),
                result: Ok(self.started.elapsed()),
                transcript: self.transcript(output, Some(end)),
            });
        }
        // The next step looks at what follows this one's last pattern.
        self.from = self.from.saturating_add(end);
        self.next += 1;
        self.started = Instant::now();
        self.sent = false;
    }

    fn fail(&mut self, output: &[u8], reason: String) -> ScriptState {
        if let Some(step) = self.step() {
            self.results.push(StepResult {
                name: step.name.clone(),
                result: Err(reason),
                transcript: self.transcript(output, None),
            });
            let failed = step.name.clone();
            for later in self.steps.iter().skip(self.next + 1) {
                self.results.push(StepResult {
                    name: later.name.clone(),
                    result: Err(format!("not run: {failed} failed first")),
                    transcript: String::new(),
                });
            }
        }
        self.next = self.steps.len();
        ScriptState::Failed
    }

    /// Advances through the steps the output (and QEMU's status, once it ended) satisfies.
    fn advance(&mut self, output: &[u8], ended: Option<Ending>) -> ScriptState {
        loop {
            let Some(step) = self.step() else {
                return ScriptState::Done;
            };
            if !self.sent {
                self.started = Instant::now();
                self.sent = true;
                if !step.send.is_empty() {
                    let written = self
                        .stdin
                        .as_mut()
                        .map(|stdin| stdin.write_all(&step.send).and_then(|()| stdin.flush()));
                    if let Some(Err(e)) = written {
                        return self.fail(output, format!("cannot type on the serial line: {e}"));
                    }
                }
            }
            let text = output.get(self.from..).unwrap_or(&[]);
            let mut matched = step.matched(text);
            let mut unchecked = None;
            if let (Ok(end), Some(check)) = (&mut matched, step.check) {
                match check(&String::from_utf8_lossy(text)) {
                    Ok(()) => *end = text.len(),
                    Err(missing) => unchecked = Some(missing),
                }
            }
            if let (Ok(end), None) = (matched, &unchecked) {
                let seen = text.get(..end).unwrap_or(&[]);
                if let Some(bad) = step
                    .reject
                    .iter()
                    .find(|r| find(seen, r.as_bytes()).is_some())
                {
                    return self.fail(
                        output,
                        format!("unexpected `{}` in the output", bad.escape_debug()),
                    );
                }
                match (step.exit, ended) {
                    (None, _) => {
                        self.pass(output, end);
                        continue;
                    }
                    (Some(want), Some(Ending::Exited(got))) if want == got => {
                        self.pass(output, end);
                        continue;
                    }
                    (Some(_), None) => {}
                    (Some(want), Some(other)) => {
                        return self.fail(
                            output,
                            format!("QEMU ended: {other}; want exit status {want}"),
                        );
                    }
                }
            }
            let waiting = match (matched, unchecked) {
                (Err(pattern), _) => format!("`{}`", pattern.escape_debug()),
                (Ok(_), Some(missing)) => missing,
                (Ok(_), None) => "QEMU to exit".to_string(),
            };
            if let Some(ending) = ended {
                return self.fail(
                    output,
                    format!("QEMU ended ({ending}) while waiting for {waiting}"),
                );
            }
            if self.started.elapsed() >= step.timeout {
                let secs = step.timeout.as_secs_f64();
                return self.fail(
                    output,
                    format!("timed out after {secs:.1} s waiting for {waiting}"),
                );
            }
            return ScriptState::Going;
        }
    }
}

/// Runs `spec` to its end.
pub fn run(spec: &Spec) -> Result<Outcome> {
    run_inner(spec, None).map(|(outcome, _)| outcome)
}

/// Runs `spec` in its own process group with the serial line driven by `steps` (see [`Step`]);
/// QEMU is stopped when the last step passed or one failed. `spec.mode` and `spec.stop_when`
/// are ignored.
pub fn run_scripted(spec: &Spec, steps: &[Step]) -> Result<Scripted> {
    let (outcome, results) = run_inner(spec, Some(steps))?;
    Ok(Scripted {
        outcome,
        steps: results,
    })
}

fn run_inner(spec: &Spec, script: Option<&[Step]>) -> Result<(Outcome, Vec<StepResult>)> {
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
    let mode = if script.is_some() {
        cmd.stdin(Stdio::piped()).process_group(0);
        Mode::Captured
    } else {
        match spec.mode {
            Mode::Interactive => {
                cmd.stdin(Stdio::inherit());
            }
            Mode::Captured => {
                cmd.stdin(Stdio::null()).process_group(0);
            }
        }
        spec.mode
    };
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.into(),
        source,
    })?;
    drop(cmd); // our copies of the pipe's write end: the reader sees EOF when QEMU is gone
    let mut script = script.map(|steps| Script::new(steps, child.stdin.take()));

    let output = Arc::new(Mutex::new(Vec::new()));
    let echo = mode == Mode::Interactive;
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

    let group = mode == Mode::Captured;
    let mut seen = 0;
    let mut stop_at: Option<Instant> = None;
    let ending = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let ending = status.code().map_or(Ending::Signalled, Ending::Exited);
                if let Some(script) = script.as_mut() {
                    // Everything QEMU printed is in once the copier has seen the end of the pipe.
                    let deadline = Instant::now() + Duration::from_secs(1);
                    while !copier.is_finished() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    script.advance(&output_bytes(&output), Some(ending));
                }
                break ending;
            }
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
        if let Some(script) = script.as_mut() {
            if script.advance(&output_bytes(&output), None) != ScriptState::Going {
                // Let the last lines reach the log, then stop.
                std::thread::sleep(Duration::from_millis(200));
                kill(&mut child, group);
                break Ending::Stopped;
            }
        } else if let Some(stop) = spec.stop_when {
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
    let results = script.map(|s| s.results).unwrap_or_default();
    if !results.is_empty() {
        let _ = writeln!(log);
    }
    for r in &results {
        let _ = match &r.result {
            Ok(took) => writeln!(
                log,
                "[xtask] step {} ok ({:.1} s)",
                r.name,
                took.as_secs_f64()
            ),
            Err(why) => writeln!(log, "[xtask] step {} FAILED: {why}", r.name),
        };
    }
    let _ = writeln!(
        log,
        "\n[xtask] {ending} after {:.1} s",
        elapsed.as_secs_f64()
    );
    Ok((
        Outcome {
            ending,
            output,
            elapsed,
        },
        results,
    ))
}

/// Everything printed so far.
fn output_bytes(output: &Mutex<Vec<u8>>) -> Vec<u8> {
    output.lock().map(|o| o.clone()).unwrap_or_default()
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

    /// A "guest" that prompts, answers each line it reads, and exits on `quit`.
    const TALKER: &str = "echo booting; echo 'ready>'; \
        while read line; do \
          if [ \"$line\" = quit ]; then echo bye; exit 3; fi; \
          echo \"got $line\"; echo 'ready>'; \
        done";

    fn step(name: &str, send: &str, expect: &[&str]) -> Step {
        Step::new(name, send.as_bytes(), expect, Duration::from_secs(10))
    }

    #[test]
    fn scripts_talk_and_wait_for_each_answer() {
        let s = spec(TALKER, 31, None);
        let steps = [
            step("start", "", &["booting", "ready>"]),
            step("hello", "hello\n", &["got hello", "ready>"]),
            step("again", "world\n", &["got world", "ready>"]).rejecting(&["got hello"]),
            step("quit", "quit\n", &["bye"]).exiting(3),
        ];
        let run = run_scripted(&s, &steps).unwrap();
        let names: Vec<&str> = run.steps.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["start", "hello", "again", "quit"]);
        for r in &run.steps {
            assert!(
                r.result.is_ok(),
                "{}: {:?}\n{}",
                r.name,
                r.result,
                r.transcript
            );
        }
        assert_eq!(run.outcome.ending, Ending::Exited(3));
        assert!(run.steps[1].transcript.contains("got hello"));
        assert!(!run.steps[2].transcript.contains("got hello"));
        let log = std::fs::read_to_string(&s.log).unwrap();
        assert!(log.contains("[xtask] step again ok"));
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn a_failed_step_ends_the_script() {
        let s = spec(TALKER, 32, None);
        let mut slow = step("missing", "hello\n", &["got goodbye"]);
        slow.timeout = Duration::from_millis(500);
        let steps = [
            step("start", "", &["ready>"]),
            slow,
            step("rejected", "x\n", &["got x"]),
        ];
        let run = run_scripted(&s, &steps).unwrap();
        assert_eq!(run.outcome.ending, Ending::Stopped);
        assert!(run.outcome.elapsed < Duration::from_secs(10));
        assert!(run.steps[0].result.is_ok());
        let why = run.steps[1].result.clone().unwrap_err();
        assert!(
            why.contains("timed out") && why.contains("got goodbye"),
            "{why}"
        );
        assert!(run.steps[1].transcript.contains("got hello"));
        assert_eq!(
            run.steps[2].result,
            Err("not run: missing failed first".into())
        );
        let _ = std::fs::remove_file(&s.log);

        // Output the step must not show, and a guest that ends too early.
        let s = spec(TALKER, 33, None);
        let steps = [
            step("start", "", &["ready>"]),
            step("echo", "oops\n", &["ready>"]).rejecting(&["oops"]),
        ];
        let run = run_scripted(&s, &steps).unwrap();
        assert!(
            run.steps[1]
                .result
                .clone()
                .unwrap_err()
                .contains("unexpected `oops`")
        );
        let _ = std::fs::remove_file(&s.log);
        let s = spec(TALKER, 34, None);
        let steps = [step("quit", "quit\n", &["never printed"])];
        let run = run_scripted(&s, &steps).unwrap();
        let why = run.steps[0].result.clone().unwrap_err();
        assert!(why.starts_with("QEMU ended (exit status 3"), "{why}");
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn checks_wait_for_what_patterns_cannot_say() {
        let s = spec(TALKER, 35, None);
        let two_words = |out: &str| match out.lines().any(|l| l.split(' ').count() == 3) {
            true => Ok(()),
            false => Err("a line of three words".to_string()),
        };
        let start = step("start", "", &["ready>"]);
        let words = step("words", "a b\n", &["ready>"]).checking(two_words);
        let run = run_scripted(&s, &[start.clone(), words]).unwrap();
        assert!(run.steps[1].result.is_ok(), "{:?}", run.steps[1]);
        assert!(run.steps[1].transcript.contains("got a b"));
        let _ = std::fs::remove_file(&s.log);
        let mut word = step("word", "c\n", &["ready>"]).checking(two_words);
        word.timeout = Duration::from_millis(500);
        let s = spec(TALKER, 36, None);
        let run = run_scripted(&s, &[start, word]).unwrap();
        let why = run.steps[1].result.clone().unwrap_err();
        assert!(why.contains("a line of three words"), "{why}");
        let _ = std::fs::remove_file(&s.log);
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
