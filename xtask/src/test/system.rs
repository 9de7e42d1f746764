//! Layer 3: the production Image, booted whole.
//!
//! `boot::production` boots it with QEMU's `-kernel` and waits for userland's ready line
//! (`nimbus: userland ready: ...`, printed once init has started every server; the system then
//! keeps running, so xtask stops QEMU a moment later, having checked nothing went wrong). Each
//! `boot::<broken tree>` hands the kernel a broken device tree through the direct loader and
//! wants the right exit status, and a `nimbus: fatal:` line saying what is wrong whenever the
//! kernel knows a console (see [`Broken`]).
//!
//! `system::shell::*` drive the console server's shell over the serial line of one boot, as a
//! person would ([`SHELL`]): each step types a command and waits for what it must print. The
//! steps that change nothing come first (among them `random`, the command the entropy server
//! registers with the console), then stopping and restarting the entropy server (its command
//! fails clearly while it is stopped and works again once it is back), then restarting the
//! console (init logs it, the new console's prompt comes back, and the entropy server registers
//! its command with the new console by itself), and last a power-off, which must end QEMU with
//! status 0.

use super::{Failure, Job, Outcome, TAIL_LINES, Tally};
use crate::build;
use crate::console::{Line, Report, parse_line};
use crate::devicetree::{self, Broken};
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::Loader;
use crate::qemu::{self, Console, Machine, QEMU_KERNEL_ADDR};
use crate::runner::{self, Ending, Mode, Outcome as Run, Spec, Step, StopWhen};
use std::path::Path;
use std::time::Duration;

/// Time to reach the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the kernel keeps running after its ready line before xtask stops it: a failure
/// right after start-up (the root task failing to start) still shows.
pub const SETTLE: Duration = Duration::from_secs(1);
/// Time to fail on a broken tree (it should take well under a second).
pub const BROKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// What userland prints (through the kernel) once init has started every server.
pub const USERLAND_READY: &str = "nimbus: userland ready:";
/// The console shell's prompt.
pub const PROMPT: &str = "nimbus> ";
/// Time for one shell command to answer.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the console to be restarted and show its prompt again.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(20);
/// Time for a whole shell session, whatever its steps say.
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(180);

/// Builds the production Image and runs the boot checks.
pub fn run(tally: &mut Tally, workers: usize) -> Result<()> {
    let built = match build::build(ImageKind::Production) {
        Ok(b) => b,
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => {
            tally.record(&Outcome::fail("boot::build", Failure::new(e.to_string())));
            return Ok(());
        }
    };
    let image = built.image;
    // The broken trees are made from QEMU's tree for the machine they boot on.
    let machine = Machine {
        smp: 1,
        ..Machine::default()
    };
    let tree = devicetree::dump(&machine).and_then(|p| paths::read(&p));
    let mut jobs: Vec<Job> = vec![Box::new(|| production(&image)), Box::new(|| shell(&image))];
    match tree {
        Ok(tree) => {
            for broken in Broken::ALL {
                let (image, tree, machine) = (image.clone(), tree.clone(), machine.clone());
                jobs.push(Box::new(move || {
                    broken_tree(broken, &tree, &machine, &image)
                }));
            }
        }
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => tally.record(&Outcome::fail(
            "boot::qemu-device-tree",
            Failure::new(e.to_string()),
        )),
    }
    super::run_jobs(jobs, workers, tally)
}

/// Boots `request`: `Ok(Err(outcome))` when the boot could not happen (a failed test).
fn boot(
    name: &str,
    request: Request,
    timeout: Duration,
    stop: Option<StopWhen>,
) -> Result<Result<Run, Outcome>> {
    let fail = |e: Error| match e {
        Error::Interrupted => Err(Error::Interrupted),
        e => Ok(Err(Outcome::fail(
            name,
            Failure::new(format!("cannot boot: {e}")),
        ))),
    };
    let qemu = match launch::prepare(request) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let log = paths::logs_dir().join(format!("{}.log", name.replace("::", "-")));
    let spec = Spec {
        program: qemu::PROGRAM,
        args: qemu.args(),
        log,
        timeout: Some(timeout),
        mode: Mode::Captured,
        stop_when: stop,
    };
    match runner::run(&spec) {
        Ok(run) => Ok(Ok(run)),
        Err(e) => fail(e),
    }
}

fn failure(reason: String, name: &str, run: &Run) -> Failure {
    Failure {
        reason,
        log: Some(paths::logs_dir().join(format!("{}.log", name.replace("::", "-")))),
        tail: Some(runner::tail(&run.output, TAIL_LINES)),
    }
}

fn production(image: &Path) -> Result<Vec<Outcome>> {
    let name = "boot::production";
    let request = Request {
        machine: &Machine::default(),
        loader: Loader::Kernel,
        image,
        name,
        dtb: Dtb::Qemu,
        console: Console::Captured,
        window: false,
        extra: qemu::production_devices(),
    };
    let ready = |out: &str| out.contains(USERLAND_READY);
    let stop = StopWhen {
        seen: &ready,
        after: SETTLE,
    };
    let run = match boot(name, request, READY_TIMEOUT, Some(stop))? {
        Ok(run) => run,
        Err(outcome) => return Ok(vec![outcome]),
    };
    let problems = check_production(&run);
    Ok(vec![if problems.is_empty() {
        Outcome::pass(name)
    } else {
        Outcome::fail(name, failure(problems.join("\n"), name, &run))
    }])
}

/// What is wrong with a production boot (empty = nothing).
pub fn check_production(run: &Run) -> Vec<String> {
    let report = Report::parse(&run.output);
    let mut problems = Vec::new();
    match (run.ending, run.output.contains(USERLAND_READY)) {
        (Ending::Stopped, _) => {}
        (other, true) => problems.push(format!("after the ready line, QEMU ended: {other}")),
        (other, false) => problems.push(format!("no `{USERLAND_READY}` line; QEMU ended: {other}")),
    }
    if report.banner.is_none() {
        problems.push("no `nimbus: booted at ...` banner".into());
    }
    if report.ready.is_none() {
        problems.push("no `nimbus: kernel ready: ...` line".into());
    }
    problems.extend(report.fatal.iter().map(|f| format!("fatal: {f}")));
    problems
}

/// The shell session: each step is one test, `(name, typed, expected in order)`.
///
/// Steps that change nothing come first; `restart console` and `poweroff` come last.
pub fn shell_steps() -> Vec<Step> {
    let step = |name: &str, send: &[u8], expect: &[&str]| {
        Step::new(
            &format!("system::shell::{name}"),
            send,
            expect,
            STEP_TIMEOUT,
        )
    };
    vec![
        Step::new(
            "system::shell::prompt",
            b"",
            &[USERLAND_READY, PROMPT],
            READY_TIMEOUT,
        ),
        step(
            "help",
            b"help\r",
            &["built-in commands:", "poweroff", PROMPT],
        ),
        step(
            "ps",
            b"ps\r",
            &[
                "PID  NAME",
                " init ",
                "running",
                " console ",
                "running",
                " entropy ",
                "running",
                "processes,",
                PROMPT,
            ],
        ),
        step(
            "mem",
            b"mem\r",
            &[
                "memory ",
                "MiB free of",
                "heap ",
                "used of",
                "objects ",
                "processes",
                "cpus ",
                "uptime ",
                PROMPT,
            ],
        ),
        step(
            "servers",
            b"servers\r",
            &[
                "NAME", "RESTARTS", "console", "running", "entropy", "running", PROMPT,
            ],
        ),
        // The entropy server's command, answered by the virtio entropy device.
        step("random", b"random 8\r", &[PROMPT]).checking(|out| hex_line(out, 8)),
        step("random_default", b"random\r", &[PROMPT]).checking(|out| hex_line(out, 16)),
        step(
            "random_bad_count",
            b"random nonsense\r",
            &["random: `nonsense` is not a number of bytes", PROMPT],
        ),
        step("uptime", b"uptime\r", &["up 0:", " s)", PROMPT]),
        step(
            "unknown_command",
            b"frobnicate now\r",
            &["unknown command `frobnicate`; type `help`", PROMPT],
        ),
        step(
            "bad_arguments",
            b"loglevel loud\r",
            &["loglevel: no level `loud`", "(see `help`)", PROMPT],
        ),
        step(
            "loglevel",
            b"loglevel warn\r",
            &["kernel log level: warn", PROMPT],
        ),
        // Backspace, DEL and Ctrl-U edit the line before Enter runs it.
        step(
            "line_editing",
            b"garbage\x15pz\x7fs\r",
            &["PID  NAME", PROMPT],
        )
        .rejecting(&["unknown command"]),
        step("ctrl_c", b"restart console\x03", &["^C", PROMPT]).rejecting(&["restarting"]),
        step(
            "kill_unknown",
            b"kill nosuch\r",
            &["kill: nosuch: no server has that name", PROMPT],
        ),
        step(
            "kill_init",
            b"kill init\r",
            &["kill: init: init cannot be stopped", PROMPT],
        ),
        step(
            "kill_console",
            b"kill console\r",
            &["kill: console runs this shell", "restart console", PROMPT],
        ),
        // A stopped server's command says so; restarted, the server registers it again.
        step(
            "kill_entropy",
            b"kill entropy\r",
            &["stopped entropy", PROMPT],
        ),
        step(
            "random_entropy_stopped",
            b"random 4\r",
            &["random: entropy, which provides it, is stopped", PROMPT],
        ),
        Step::new(
            "system::shell::restart_entropy",
            b"restart entropy\r",
            &[
                "entropy: INFO  virtio entropy device on",
                "entropy: INFO  shell command `random` registered",
            ],
            RESTART_TIMEOUT,
        ),
        step("random_after_restart", b"random 4\r", &[PROMPT]).checking(|out| hex_line(out, 4)),
        step(
            "entropy_restart_count",
            b"servers\r",
            &["entropy ", "running", "       1\r\n", PROMPT],
        ),
        Step::new(
            "system::shell::restart_console",
            b"restart console\r",
            &[
                "restarting console",
                "init: INFO  started console",
                "init: INFO  restarted console (restart 1",
                PROMPT,
            ],
            RESTART_TIMEOUT,
        ),
        // The new console answers, and init counts the restart (the row after it is entropy's).
        step(
            "after_restart",
            b"servers\r",
            &["console ", "running", "       1\r\nentropy ", PROMPT],
        ),
        // The new console knows no commands; the entropy server notices within its re-register
        // interval (5 s) and its command works again.
        Step::new(
            "system::shell::command_comes_back_after_console_restart",
            b"",
            &["entropy: INFO  shell command `random` registered with the console again"],
            RESTART_TIMEOUT,
        ),
        step("random_after_console_restart", b"random 4\r", &[PROMPT])
            .checking(|out| hex_line(out, 4)),
        step("poweroff", b"poweroff\r", &["powering off"]).exiting(0),
    ]
}

fn shell(image: &Path) -> Result<Vec<Outcome>> {
    let name = "system::shell";
    let steps = shell_steps();
    let not_run = |reason: String| {
        steps
            .iter()
            .map(|s| Outcome::fail(&s.name, Failure::new(reason.clone())))
            .collect()
    };
    let request = Request {
        machine: &Machine::default(),
        loader: Loader::Kernel,
        image,
        name,
        dtb: Dtb::Qemu,
        console: Console::Captured,
        window: false,
        extra: qemu::production_devices(),
    };
    let qemu = match launch::prepare(request) {
        Ok(q) => q,
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => return Ok(not_run(format!("cannot boot: {e}"))),
    };
    let log = paths::logs_dir().join("system-shell.log");
    let spec = Spec {
        program: qemu::PROGRAM,
        args: qemu.args(),
        log: log.clone(),
        timeout: Some(SHELL_TIMEOUT),
        mode: Mode::Captured,
        stop_when: None,
    };
    let scripted = match runner::run_scripted(&spec, &steps) {
        Ok(s) => s,
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => return Ok(not_run(format!("cannot run QEMU: {e}"))),
    };
    let mut outcomes: Vec<Outcome> = scripted
        .steps
        .iter()
        .map(|step| match &step.result {
            Ok(_) => Outcome::pass(&step.name),
            Err(reason) => Outcome::fail(
                &step.name,
                Failure {
                    reason: reason.clone(),
                    log: Some(log.clone()),
                    tail: Some(runner::tail(&shown(&step.transcript), TAIL_LINES)),
                },
            ),
        })
        .collect();
    // A step the run never reached (QEMU's own timeout) still gets its line.
    for step in steps.iter().skip(outcomes.len()) {
        outcomes.push(Outcome::fail(
            &step.name,
            Failure::new(format!("not run: QEMU ended ({})", scripted.outcome.ending)),
        ));
    }
    Ok(outcomes)
}

/// Whether `out` has a whole line of exactly `n` bytes in lowercase hex, separated by spaces (what
/// `random n` prints for `n` up to 16).
fn hex_line(out: &str, n: usize) -> std::result::Result<(), String> {
    let is_hex = |w: &str| {
        w.len() == 2
            && w.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let shown = shown(out);
    let found = shown
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .any(|l| l.split(' ').count() == n && l.split(' ').all(is_hex));
    if found {
        Ok(())
    } else {
        Err(format!("a line of {n} random bytes in hex"))
    }
}

/// Serial output as a person would read it: terminal escape sequences left out.
fn shown(text: &str) -> String {
    text.replace("\x1b[K", "").replace('\r', "")
}

fn broken_tree(
    broken: Broken,
    tree: &[u8],
    machine: &Machine,
    image: &Path,
) -> Result<Vec<Outcome>> {
    let name = format!("boot::{}", broken.name());
    let dtb = match broken.make(tree) {
        Ok(None) => Dtb::Absent,
        Ok(Some(blob)) => {
            let path = paths::dtb_dir().join(format!("{}.dtb", broken.name()));
            if let Err(e) = paths::write(&path, &blob) {
                return Ok(vec![Outcome::fail(name, Failure::new(e.to_string()))]);
            }
            Dtb::File(path)
        }
        Err(e) => {
            return Ok(vec![Outcome::fail(
                name,
                Failure::new(format!("cannot make the tree: {e}")),
            )]);
        }
    };
    let reproduce = match &dtb {
        Dtb::File(p) => format!(
            "reproduce: cargo xtask run --headless --dtb {}",
            paths::display(p)
        ),
        _ => "reproduce: boot the Image with x0 = 0 (the direct loader with no device tree)".into(),
    };
    let request = Request {
        machine,
        loader: Loader::Direct(QEMU_KERNEL_ADDR),
        image,
        name: &name,
        dtb,
        console: Console::Captured,
        window: false,
        extra: vec![],
    };
    let run = match boot(&name, request, BROKEN_TIMEOUT, None)? {
        Ok(run) => run,
        Err(outcome) => return Ok(vec![outcome]),
    };
    let problems = check_broken(broken, &run);
    Ok(vec![if problems.is_empty() {
        Outcome::pass(name)
    } else {
        let reason = format!("{}\n{reproduce}", problems.join("\n"));
        Outcome::fail(&name, failure(reason, &name, &run))
    }])
}

/// What is wrong with the kernel's reaction to `broken` (empty = nothing).
pub fn check_broken(broken: Broken, run: &Run) -> Vec<String> {
    let want = broken.expected();
    let mut problems = Vec::new();
    if run.ending != Ending::Exited(want as i32) {
        problems.push(format!(
            "QEMU ended: {}; want exit status {} ({})",
            run.ending,
            want as i32,
            want.describe()
        ));
    }
    if let Some(topic) = broken.fatal_mentions() {
        let fatal: Vec<String> = run
            .output
            .lines()
            .filter_map(|l| match parse_line(l) {
                Some(Line::Fatal(m)) => Some(m),
                _ => None,
            })
            .collect();
        if !fatal.iter().any(|m| m.to_lowercase().contains(topic)) {
            problems.push(match fatal.first() {
                Some(m) => format!("the fatal line does not mention {topic}: {m}"),
                None => format!("no `nimbus: fatal: ...` line mentioning {topic}"),
            });
        }
    }
    if Report::has_ready_line(&run.output) {
        problems.push("the kernel reported ready on a broken tree".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ending: Ending, output: &str) -> Run {
        Run {
            ending,
            output: output.into(),
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn production_needs_the_ready_line() {
        let good = "nimbus: booted at EL1, image at 0x40200000, dtb at 0x48000000\n\
                    nimbus: kernel ready: 2 cpus, 500 MiB free, 20 ms\n\
                    nimbus: userland ready: 2 processes, 90 ms\n";
        assert!(check_production(&run(Ending::Stopped, good)).is_empty());
        assert_eq!(
            check_production(&run(Ending::Exited(0), "hello\n")).len(),
            3
        );
        assert_eq!(
            check_production(&run(Ending::TimedOut(READY_TIMEOUT), "")).len(),
            3
        );
        // The kernel came up but userland never said it was ready.
        let kernel_only = good.replace("nimbus: userland ready: 2 processes, 90 ms\n", "");
        let problems = check_production(&run(Ending::TimedOut(READY_TIMEOUT), &kernel_only));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("no `nimbus: userland ready:` line"));
        let died = format!("{good}nimbus: fatal: no bin/init\n");
        let problems = check_production(&run(Ending::Exited(9), &died));
        assert!(
            problems[0].starts_with("after the ready line, QEMU ended: exit status 9"),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 2);
    }

    #[test]
    fn shell_steps_are_named_tests_and_end_with_a_power_off() {
        let steps = shell_steps();
        assert!(steps.iter().all(|s| s.name.starts_with("system::shell::")));
        let mut names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), steps.len(), "step names are unique");
        assert!(steps.first().is_some_and(|s| s.send.is_empty()));
        assert!(steps.last().is_some_and(|s| s.exit == Some(0)));
        // Nothing a step waits for is something the step itself types (the echo would match).
        for s in &steps {
            let typed = String::from_utf8_lossy(&s.send);
            for e in &s.expect {
                assert!(
                    e.is_empty() || !typed.contains(e.as_str()),
                    "{}: {e}",
                    s.name
                );
            }
        }
        assert_eq!(shown("\r\x1b[Knimbus> ps\r\n"), "nimbus> ps\n");
    }

    #[test]
    fn random_bytes_are_recognised() {
        let out = "nimbus> random 4\r\n93 c4 b1 fe\r\nnimbus> ";
        assert_eq!(hex_line(out, 4), Ok(()));
        assert!(hex_line(out, 8).unwrap_err().contains("8 random bytes"));
        // Not yet a whole line, not hex, upper case, or a byte too many.
        assert!(hex_line("nimbus> random 4\r\n93 c4 b1 f", 4).is_err());
        assert!(hex_line("93 c4 b1 fe\n", 4).is_ok());
        assert!(hex_line("93 c4 b1 fg\n", 4).is_err());
        assert!(hex_line("93 C4 B1 FE\n", 4).is_err());
        assert!(hex_line("93 c4 b1 fe 00\n", 4).is_err());
    }

    #[test]
    fn broken_trees_need_the_status_and_a_message() {
        let b = Broken::MemoryDisabled;
        let good = run(
            Ending::Exited(6),
            "nimbus: fatal: no usable Memory in the device tree\n",
        );
        assert!(check_broken(b, &good).is_empty());
        let silent = run(Ending::Exited(6), "");
        assert_eq!(check_broken(b, &silent).len(), 1);
        let wrong = run(Ending::Exited(2), "nimbus: fatal: panic at memory.rs\n");
        assert_eq!(check_broken(b, &wrong).len(), 1);
        let off_topic = run(Ending::Exited(6), "nimbus: fatal: something else\n");
        assert!(check_broken(b, &off_topic)[0].contains("does not mention memory"));
        // No console known: the status alone counts.
        assert!(check_broken(Broken::NoConsole, &run(Ending::Exited(5), "")).is_empty());
        assert_eq!(
            check_broken(Broken::Missing, &run(Ending::TimedOut(BROKEN_TIMEOUT), "")).len(),
            1
        );
    }
}
