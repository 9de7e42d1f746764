//! Layer 2: the kernel test image on every machine of `qemu/profiles.txt`.
//!
//! Each `nimbus-test: ok|FAIL NAME` line becomes the test `kernel::<profile>::<NAME>`. The test
//! `kernel::<profile>` checks the run itself against the console contract and the machine: exit
//! status 0 (1 when a test failed), the banner's entry EL and load address match the profile, the ready line counts the
//! machine's CPUs, `start <total>` matches the results, the `done` line agrees, no fatal line,
//! and a U-Boot boot got a relocated device tree (not QEMU's 0x48000000).

use super::{Failure, Job, Outcome, TAIL_LINES, Tally};
use crate::build;
use crate::console::Report;
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::{self, Loader, Profile};
use crate::qemu::{self, Console, QEMU_DTB_ADDR, QEMU_KERNEL_ADDR};
use crate::runner::{self, Ending, Mode, Spec};
use crate::uboot::UBOOT_KERNEL_ADDR;
use std::path::Path;
use std::time::Duration;

/// Time limit of one test-image boot (TCG with 4 CPUs on a 2-core host is slow).
pub fn timeout(loader: Loader) -> Duration {
    match loader {
        Loader::UBoot => Duration::from_secs(90), // plus U-Boot's autoboot delay and disk scan
        _ => Duration::from_secs(60),
    }
}

/// Builds the test image and boots it on every profile.
pub fn run(tally: &mut Tally, workers: usize) -> Result<()> {
    let built = match build::build(ImageKind::Test) {
        Ok(b) => b,
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => {
            tally.record(&Outcome::fail("kernel::build", Failure::new(e.to_string())));
            return Ok(());
        }
    };
    let profiles = match profiles::all() {
        Ok(p) => p,
        Err(e) => {
            tally.record(&Outcome::fail("kernel::profiles", Failure::new(e)));
            return Ok(());
        }
    };
    let image = built.image;
    let jobs: Vec<Job> = profiles
        .into_iter()
        .map(|p| {
            let image = image.clone();
            Box::new(move || boot_profile(&p, &image)) as Job
        })
        .collect();
    super::run_jobs(jobs, workers, tally)
}

fn boot_profile(p: &Profile, image: &Path) -> Result<Vec<Outcome>> {
    let name = format!("kernel::{}", p.name);
    let request = Request {
        machine: &p.machine,
        loader: p.loader,
        image,
        name: &name,
        dtb: Dtb::Qemu,
        console: Console::Captured,
        window: false,
        // The userland driver tests use QEMU's virtio entropy source as their device.
        extra: qemu::production_devices(),
    };
    let qemu = match launch::prepare(request) {
        Ok(q) => q,
        Err(Error::Interrupted) => return Err(Error::Interrupted),
        Err(e) => {
            return Ok(vec![Outcome::fail(
                name,
                Failure::new(format!("cannot prepare the boot: {e}")),
            )]);
        }
    };
    let log = paths::logs_dir().join(format!("kernel-{}.log", p.name));
    let spec = Spec {
        program: qemu::PROGRAM,
        args: qemu.args(),
        log: log.clone(),
        timeout: Some(timeout(p.loader)),
        mode: Mode::Captured,
        stop_when: None,
    };
    let outcome = runner::run(&spec)?;
    let report = Report::parse(&outcome.output);
    let mut outcomes: Vec<Outcome> = report
        .results
        .iter()
        .map(|r| match &r.outcome {
            Ok(()) => Outcome::pass(format!("{name}::{}", r.name)),
            Err(reason) => Outcome::fail(
                format!("{name}::{}", r.name),
                Failure {
                    reason: reason.clone(),
                    log: Some(log.clone()),
                    tail: None,
                },
            ),
        })
        .collect();
    let problems = check_run(p, outcome.ending, &report);
    outcomes.push(if problems.is_empty() {
        Outcome::pass(name)
    } else {
        let reproduce = format!(
            "reproduce: cargo xtask run --test-image --headless --profile {}",
            p.name
        );
        Outcome::fail(
            name,
            Failure {
                reason: format!("{}\n{reproduce}", problems.join("\n")),
                log: Some(log),
                tail: Some(runner::tail(&outcome.output, TAIL_LINES)),
            },
        )
    });
    Ok(outcomes)
}

/// What is wrong with a test-image run on `p` (empty = nothing).
pub fn check_run(p: &Profile, ending: Ending, r: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    // 0 when every test passed, 1 (TestsFailed) when any failed: those are reported one by one.
    let want = if r.counts().1 == 0 { 0 } else { 1 };
    if ending != Ending::Exited(want) {
        problems.push(format!("QEMU ended: {ending}; want exit status {want}"));
    }
    for fatal in &r.fatal {
        problems.push(format!("fatal: {fatal}"));
    }
    match r.banner {
        None => problems
            .push("no `nimbus: booted at EL<n>, image at <hex>, dtb at <hex>` banner".into()),
        Some(b) => {
            let el = if p.machine.el2 { 2 } else { 1 };
            if b.el != el {
                problems.push(format!(
                    "banner says EL{}, the machine enters at EL{el}",
                    b.el
                ));
            }
            let image = match p.loader {
                Loader::Kernel => QEMU_KERNEL_ADDR,
                Loader::UBoot => UBOOT_KERNEL_ADDR,
                Loader::Direct(addr) => addr,
            };
            if b.image != image {
                problems.push(format!(
                    "banner says image at {:#x}, the loader put it at {image:#x}",
                    b.image
                ));
            }
            match p.loader {
                Loader::UBoot if b.dtb == QEMU_DTB_ADDR => problems.push(format!(
                    "dtb at {:#x}: U-Boot should have handed over its relocated copy",
                    b.dtb
                )),
                Loader::Direct(_) if b.dtb != crate::loader::DTB_ADDR => problems.push(format!(
                    "banner says dtb at {:#x}, the direct loader put it at {:#x}",
                    b.dtb,
                    crate::loader::DTB_ADDR
                )),
                _ => {}
            }
        }
    }
    match r.ready {
        None => problems.push("no `nimbus: kernel ready: ...` line".into()),
        Some(ready) => {
            if ready.cpus != p.machine.smp {
                problems.push(format!(
                    "ready line counts {} cpus, the machine has {}",
                    ready.cpus, p.machine.smp
                ));
            }
            if ready.free_mib == 0 || ready.free_mib > p.machine.memory_mib {
                problems.push(format!(
                    "ready line says {} MiB free of a {} MiB machine",
                    ready.free_mib, p.machine.memory_mib
                ));
            }
        }
    }
    let results = r.results.len() as u32;
    match r.start {
        None => problems.push("no `nimbus-test: start <total>` line".into()),
        Some(total) if total != results => {
            problems.push(format!("`start {total}` but {results} test results"));
        }
        Some(_) => {}
    }
    match r.done {
        None => problems.push("no `nimbus-test: done <p> passed, <f> failed` line".into()),
        Some(done) if done != r.counts() => {
            let (p, f) = r.counts();
            problems.push(format!(
                "`done {} passed, {} failed` but counted {p} passed, {f} failed",
                done.0, done.1
            ));
        }
        Some(_) => {}
    }
    if r.suites_started != r.suites_done {
        problems.push(format!(
            "{} suites started but {} finished",
            r.suites_started, r.suites_done
        ));
    }
    for line in &r.malformed {
        problems.push(format!("malformed line: {line}"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str) -> Profile {
        profiles::find(name).unwrap()
    }

    const GOOD: &str = "nimbus: booted at EL1, image at 0x40200000, dtb at 0x48000000\n\
                        nimbus: kernel ready: 2 cpus, 480 MiB free, 35 ms\n\
                        nimbus-test: start 2\nnimbus-test: ok a\nnimbus-test: ok b\n\
                        nimbus-test: done 2 passed, 0 failed\n";

    #[test]
    fn a_good_run_passes() {
        let problems = check_run(
            &profile("smp2-gicv2-512m-el1"),
            Ending::Exited(0),
            &Report::parse(GOOD),
        );
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn the_run_must_match_the_machine() {
        // Same log on a 1-CPU EL2 machine: wrong EL and CPU count.
        let problems = check_run(
            &profile("smp2-gicv3-1g-el2"),
            Ending::Exited(0),
            &Report::parse(GOOD),
        );
        assert_eq!(problems.len(), 1, "{problems:?}"); // EL only: 2 cpus matches
        let problems = check_run(
            &profile("smp1-gicv2-128m-el1"),
            Ending::Exited(0),
            &Report::parse(GOOD),
        );
        assert!(
            problems.iter().any(|p| p.contains("2 cpus")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("480 MiB free of a 128 MiB")),
            "{problems:?}"
        );
        let problems = check_run(
            &profile("direct-load-0x40281000"),
            Ending::Exited(0),
            &Report::parse(GOOD),
        );
        assert!(
            problems.iter().any(|p| p.contains("0x40281000")),
            "{problems:?}"
        );
    }

    #[test]
    fn uboot_must_relocate_the_tree() {
        let log = GOOD.replace("image at 0x40200000", "image at 0x40400000");
        let problems = check_run(
            &profile("uboot-smp2-512m"),
            Ending::Exited(0),
            &Report::parse(&log),
        );
        assert!(
            problems.iter().any(|p| p.contains("relocated")),
            "{problems:?}"
        );
        let log = log.replace("dtb at 0x48000000", "dtb at 0x5dcab000");
        assert!(
            check_run(
                &profile("uboot-smp2-512m"),
                Ending::Exited(0),
                &Report::parse(&log)
            )
            .is_empty()
        );
    }

    #[test]
    fn incomplete_runs_fail() {
        let p = profile("smp2-gicv2-512m-el1");
        let cut = GOOD
            .replace("nimbus-test: ok b\n", "")
            .replace("nimbus-test: done 2 passed, 0 failed\n", "");
        let problems = check_run(
            &p,
            Ending::TimedOut(Duration::from_secs(60)),
            &Report::parse(&cut),
        );
        assert!(
            problems
                .iter()
                .any(|x| x.contains("QEMU ended: timed out after 60 s; want exit status 0"))
        );
        assert!(problems.iter().any(|x| x.contains("`start 2` but 1")));
        assert!(problems.iter().any(|x| x.contains("done")));
        let lying = GOOD.replace("done 2 passed, 0 failed", "done 3 passed, 0 failed");
        assert_eq!(
            check_run(&p, Ending::Exited(0), &Report::parse(&lying)).len(),
            1
        );
        assert_eq!(
            check_run(&p, Ending::Exited(0), &Report::parse("")).len(),
            4
        );
        // A failing kernel test is reported by itself; exit status 1 is then the right one.
        let failing = GOOD
            .replace("ok b", "FAIL b: no")
            .replace("2 passed, 0 failed", "1 passed, 1 failed");
        assert!(check_run(&p, Ending::Exited(1), &Report::parse(&failing)).is_empty());
        assert_eq!(
            check_run(&p, Ending::Exited(0), &Report::parse(&failing)).len(),
            1
        );
    }
}
