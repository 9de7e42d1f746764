//! Layer 3: boot checks of the production Image.
//!
//! `boot::production` boots it with QEMU's `-kernel` and waits for the ready line (the kernel then
//! keeps running, so xtask stops QEMU a moment later, having checked nothing went wrong). Each `boot::<broken tree>` hands the kernel a broken device tree
//! through the direct loader and wants the right exit status, and a `nimbus: fatal:` line saying
//! what is wrong whenever the kernel knows a console (see [`Broken`]).

use super::{Failure, Job, Outcome, TAIL_LINES, Tally};
use crate::build;
use crate::console::{Line, Report, parse_line};
use crate::devicetree::{self, Broken};
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::Loader;
use crate::qemu::{self, Console, Machine, QEMU_KERNEL_ADDR};
use crate::runner::{self, Ending, Mode, Outcome as Run, Spec, StopWhen};
use std::path::Path;
use std::time::Duration;

/// Time to reach the ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the kernel keeps running after its ready line before xtask stops it: a failure
/// right after start-up (the root task failing to start) still shows.
pub const SETTLE: Duration = Duration::from_secs(1);
/// Time to fail on a broken tree (it should take well under a second).
pub const BROKEN_TIMEOUT: Duration = Duration::from_secs(30);

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
    let mut jobs: Vec<Job> = vec![Box::new(|| production(&image))];
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
        extra: vec![],
    };
    let ready = |out: &str| Report::has_ready_line(out);
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
    match (run.ending, report.ready.is_some()) {
        (Ending::Stopped, _) => {}
        (other, true) => problems.push(format!("after the ready line, QEMU ended: {other}")),
        (other, false) => problems.push(format!("no ready line; QEMU ended: {other}")),
    }
    if report.banner.is_none() {
        problems.push("no `nimbus: booted at ...` banner".into());
    }
    problems.extend(report.fatal.iter().map(|f| format!("fatal: {f}")));
    problems
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
                    nimbus: kernel ready: 2 cpus, 500 MiB free, 20 ms\n";
        assert!(check_production(&run(Ending::Stopped, good)).is_empty());
        assert_eq!(
            check_production(&run(Ending::Exited(0), "hello\n")).len(),
            2
        );
        assert_eq!(
            check_production(&run(Ending::TimedOut(READY_TIMEOUT), "")).len(),
            2
        );
        let died = format!("{good}nimbus: fatal: no bin/init\n");
        let problems = check_production(&run(Ending::Exited(9), &died));
        assert!(
            problems[0].starts_with("after the ready line, QEMU ended: exit status 9"),
            "{problems:?}"
        );
        assert_eq!(problems.len(), 2);
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
