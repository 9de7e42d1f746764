//! `cargo xtask run`: boot the Image under QEMU for a person at a terminal.
//!
//! The machine starts from the defaults (or `--profile NAME`) and each flag overrides one thing.
//! The exact QEMU command is printed first, so it can be re-run or tweaked by hand, and QEMU's
//! exit status (the kernel's semihosting status) becomes xtask's, with its meaning.

use crate::build;
use crate::cli::RunOptions;
use crate::error::{Error, Result};
use crate::launch::{self, Dtb, Request};
use crate::paths::{self, ImageKind};
use crate::profiles::{self, Loader};
use crate::qemu::{self, Console, Machine};
use crate::runner::{self, Ending, Mode, Spec};
use std::time::Duration;

/// Exit code when `--timeout` stops QEMU (as timeout(1) does).
pub const TIMEOUT_EXIT: u8 = 124;

/// The machine and loader `o` asks for.
pub fn resolve(o: &RunOptions) -> Result<(Machine, Loader)> {
    let (mut machine, mut loader) = match &o.profile {
        Some(name) => {
            let p = profiles::find(name).map_err(Error::Usage)?;
            (p.machine, p.loader)
        }
        None => (Machine::default(), Loader::Kernel),
    };
    if let Some(smp) = o.smp {
        machine.smp = smp;
    }
    if let Some(mib) = o.memory_mib {
        machine.memory_mib = mib;
    }
    if let Some(gic) = o.gic {
        machine.gic = gic;
    }
    if o.el2 {
        machine.el2 = true;
    }
    if let Some(cpu) = &o.cpu {
        machine.cpu = cpu.clone();
    }
    if o.uboot {
        loader = Loader::UBoot;
    }
    if let Some(addr) = o.load_addr {
        loader = Loader::Direct(addr);
    } else if o.dtb.is_some() && !matches!(loader, Loader::Direct(_)) {
        loader = Loader::Direct(qemu::QEMU_KERNEL_ADDR);
    }
    if matches!(loader, Loader::Direct(_)) && o.smp.is_none() && machine.smp != 1 {
        println!("==> the direct loader starts one CPU: using --smp 1");
        machine.smp = 1;
    }
    Ok((machine, loader))
}

/// Whether a display window can open: `$DISPLAY` or `$WAYLAND_DISPLAY` is set.
fn have_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// Runs the command; returns the exit code.
pub fn run(o: &RunOptions) -> Result<u8> {
    let (machine, loader) = resolve(o)?;
    let kind = ImageKind::from_flag(o.test_image);
    let built = build::build(kind)?;
    let window = !o.headless && have_display();
    if !o.headless && !window {
        println!("==> no $DISPLAY or $WAYLAND_DISPLAY: running headless");
    }
    let dtb = match &o.dtb {
        Some(file) => {
            if !file.is_file() {
                return Err(Error::Other(format!(
                    "--dtb {}: no such file",
                    file.display()
                )));
            }
            Dtb::File(file.clone())
        }
        None => Dtb::Qemu,
    };
    let qemu = launch::prepare(Request {
        machine: &machine,
        loader,
        image: &built.image,
        name: &format!("run-{}", kind.name()),
        dtb,
        console: Console::Interactive,
        window,
        extra: [qemu::production_devices(), o.qemu_args.clone()].concat(),
    })?;
    println!("==> {} ({})", describe_loader(loader), machine.describe());
    println!("==> {}", qemu.shell_line());
    println!(
        "    (quit: Ctrl-A x; log: {})",
        paths::display(&paths::logs_dir().join("run.log"))
    );
    let spec = Spec {
        program: qemu::PROGRAM,
        args: qemu.args(),
        log: paths::logs_dir().join("run.log"),
        timeout: o.timeout_secs.map(Duration::from_secs),
        mode: Mode::Interactive,
        stop_when: None,
    };
    let outcome = runner::run(&spec)?;
    let after = format!("after {:.1} s", outcome.elapsed.as_secs_f64());
    println!();
    Ok(match outcome.ending {
        Ending::Exited(code) => {
            match nimbus_boot::status::ExitStatus::from_code(code) {
                Some(s) => println!(
                    "==> QEMU exited with status {code} {after}: {} (ExitStatus::{s:?})",
                    s.describe()
                ),
                None => println!("==> QEMU exited with status {code} {after}"),
            }
            u8::try_from(code).unwrap_or(1)
        }
        Ending::TimedOut(t) => {
            println!("==> stopped QEMU after the {} s timeout", t.as_secs());
            TIMEOUT_EXIT
        }
        other => {
            println!("==> QEMU {other} {after}");
            1
        }
    })
}

fn describe_loader(loader: Loader) -> String {
    match loader {
        Loader::Kernel => "booting with QEMU -kernel".into(),
        Loader::UBoot => "booting through U-Boot from a virtio disk".into(),
        Loader::Direct(addr) => format!("direct load at {addr:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::Gic;

    #[test]
    fn flags_override_the_defaults_or_the_profile() {
        let o = RunOptions {
            smp: Some(4),
            gic: Some(Gic::V3),
            ..RunOptions::default()
        };
        let (m, l) = resolve(&o).unwrap();
        assert_eq!(
            (m.smp, m.gic, m.memory_mib, l),
            (4, Gic::V3, 512, Loader::Kernel)
        );

        let o = RunOptions {
            profile: Some("smp1-gicv2-5g-el1".into()),
            el2: true,
            ..RunOptions::default()
        };
        let (m, l) = resolve(&o).unwrap();
        assert_eq!(
            (m.smp, m.memory_mib, m.el2, m.cpu.as_str(), l),
            (1, 5120, true, "cortex-a57", Loader::Kernel)
        );

        let o = RunOptions {
            profile: Some("nope".into()),
            ..RunOptions::default()
        };
        assert!(matches!(resolve(&o), Err(Error::Usage(_))));
    }

    #[test]
    fn a_dtb_or_load_address_means_the_direct_loader_on_one_cpu() {
        let o = RunOptions {
            dtb: Some("t.dtb".into()),
            ..RunOptions::default()
        };
        let (m, l) = resolve(&o).unwrap();
        assert_eq!((m.smp, l), (1, Loader::Direct(0x4020_0000)));
        let o = RunOptions {
            load_addr: Some(0x4160_0000),
            smp: Some(2),
            ..RunOptions::default()
        };
        let (m, l) = resolve(&o).unwrap();
        assert_eq!((m.smp, l), (2, Loader::Direct(0x4160_0000))); // explicit: the loader check refuses it
        let o = RunOptions {
            uboot: true,
            ..RunOptions::default()
        };
        assert_eq!(resolve(&o).unwrap().1, Loader::UBoot);
    }
}
