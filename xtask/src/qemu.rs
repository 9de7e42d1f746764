//! The QEMU command line, built from a machine description and a boot path.
//!
//! Pure data to argument list, so every boot path is unit-tested without running QEMU. Fixed
//! choices, and why:
//! - `-nic none` always: no network backend, and U-Boot's distro boot would otherwise try
//!   DHCP/PXE first.
//! - `-semihosting-config enable=on,target=native`: the kernel's exit status becomes QEMU's.
//! - Captured runs (tests) put the serial port on stdio with no monitor, and `-no-reboot` so a
//!   guest reset ends the run instead of looping until the timeout.

use crate::loader::DirectLoad;
use std::path::PathBuf;

/// The QEMU binary.
pub const PROGRAM: &str = "qemu-system-aarch64";
/// Start of RAM on `virt`.
pub const RAM_BASE: u64 = 0x4000_0000;
/// Where `-kernel` loads an Image with a non-zero image_size on `virt` (RAM + 2 MiB).
pub const QEMU_KERNEL_ADDR: u64 = 0x4020_0000;
/// Where `-kernel` puts its device tree on `virt` with at least 256 MiB of RAM.
pub const QEMU_DTB_ADDR: u64 = 0x4800_0000;

/// The devices the production system drives beyond what `virt` always has, as QEMU arguments:
/// the virtio entropy source (the `entropy` server's device; the kernel tests' userland driver
/// tests use it too). Every boot of a real system adds them, like a phone that has the hardware.
pub fn production_devices() -> Vec<String> {
    ["-device", "virtio-rng-device"].map(String::from).to_vec()
}

/// GIC version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gic {
    /// GICv2 (`arm,cortex-a15-gic`), the `virt` default.
    V2,
    /// GICv3 (`arm,gic-v3`) with an ITS.
    V3,
}

/// A `virt` machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// CPUs.
    pub smp: u32,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// Interrupt controller.
    pub gic: Gic,
    /// Enter at EL2 (`virtualization=on`).
    pub el2: bool,
    /// CPU model.
    pub cpu: String,
}

impl Default for Machine {
    fn default() -> Self {
        Self {
            smp: 2,
            memory_mib: 512,
            gic: Gic::V2,
            el2: false,
            cpu: "cortex-a53".into(),
        }
    }
}

impl Machine {
    /// The `-M` value.
    pub fn machine_arg(&self) -> String {
        let mut m = String::from("virt");
        if self.gic == Gic::V3 {
            m.push_str(",gic-version=3");
        }
        if self.el2 {
            m.push_str(",virtualization=on");
        }
        m
    }

    /// `-M ... -cpu ... -smp ... -m ...`, with `extra_machine` appended to the `-M` value.
    pub fn args(&self, extra_machine: &str) -> Vec<String> {
        vec![
            "-M".into(),
            format!("{}{extra_machine}", self.machine_arg()),
            "-cpu".into(),
            self.cpu.clone(),
            "-smp".into(),
            self.smp.to_string(),
            "-m".into(),
            format!("{}M", self.memory_mib),
        ]
    }

    /// First address past RAM.
    pub fn ram_end(&self) -> u64 {
        RAM_BASE + (self.memory_mib << 20)
    }

    /// A short description for progress lines.
    pub fn describe(&self) -> String {
        format!(
            "{} cpu{} {}, {} MiB, GICv{}, EL{}",
            self.smp,
            if self.smp == 1 { "" } else { "s" },
            self.cpu,
            self.memory_mib,
            if self.gic == Gic::V3 { 3 } else { 2 },
            if self.el2 { 2 } else { 1 }
        )
    }
}

/// How the kernel gets into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// QEMU's own Linux loader (`-kernel`): Image at RAM + 2 MiB, x0 = QEMU's tree.
    Kernel(PathBuf),
    /// U-Boot (`-bios`) from a virtio disk holding /Image and /boot.scr.
    UBootDisk {
        /// U-Boot itself.
        firmware: PathBuf,
        /// The raw disk image.
        disk: PathBuf,
    },
    /// Generic loader devices and a trampoline: any load address, any bytes at x0.
    Direct(DirectLoad),
}

/// Where the serial port goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// A person at a terminal: serial and monitor multiplexed on stdio (Ctrl-A c, Ctrl-A x).
    Interactive,
    /// A test: serial on stdio, no monitor, a reset ends QEMU.
    Captured,
}

/// One QEMU invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qemu {
    /// The machine.
    pub machine: Machine,
    /// The boot path.
    pub boot: Boot,
    /// Where the serial port goes.
    pub console: Console,
    /// Open QEMU's display window (otherwise `-display none`).
    pub window: bool,
    /// Arguments appended as they are.
    pub extra: Vec<String>,
}

impl Qemu {
    /// The argument list (without the program name).
    pub fn args(&self) -> Vec<String> {
        let mut a = self.machine.args("");
        a.extend(
            [
                "-nic",
                "none",
                "-semihosting-config",
                "enable=on,target=native",
            ]
            .map(String::from),
        );
        match self.console {
            Console::Interactive => a.extend(["-serial", "mon:stdio"].map(String::from)),
            Console::Captured => {
                a.extend(["-serial", "stdio", "-monitor", "none", "-no-reboot"].map(String::from))
            }
        }
        if !self.window {
            a.extend(["-display", "none"].map(String::from));
        }
        match &self.boot {
            Boot::Kernel(image) => a.extend(["-kernel".into(), path(image)]),
            Boot::UBootDisk { firmware, disk } => a.extend([
                "-bios".into(),
                path(firmware),
                "-drive".into(),
                format!("if=none,file={},format=raw,id=hd0", path(disk)),
                "-device".into(),
                "virtio-blk-device,drive=hd0".into(),
            ]),
            Boot::Direct(direct) => a.extend(direct.args()),
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    /// The command as a shell line a person can paste.
    pub fn shell_line(&self) -> String {
        shell_line(PROGRAM, &self.args())
    }
}

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Quotes `program args...` for a POSIX shell.
pub fn shell_line(program: &str, args: &[String]) -> String {
    let mut words = vec![program.to_string()];
    for arg in args {
        let plain = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@+%".contains(c));
        words.push(if plain {
            arg.clone()
        } else {
            format!("'{}'", arg.replace('\'', r"'\''"))
        });
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu(boot: Boot, console: Console) -> Qemu {
        Qemu {
            machine: Machine::default(),
            boot,
            console,
            window: false,
            extra: vec![],
        }
    }

    #[test]
    fn default_machine_and_fixed_options() {
        let q = qemu(Boot::Kernel("/t/Image".into()), Console::Interactive);
        assert_eq!(
            q.shell_line(),
            "qemu-system-aarch64 -M virt -cpu cortex-a53 -smp 2 -m 512M -nic none \
             -semihosting-config enable=on,target=native -serial mon:stdio -display none -kernel /t/Image"
        );
    }

    #[test]
    fn the_production_machine_has_an_entropy_source_and_no_network() {
        let mut q = qemu(Boot::Kernel("/t/Image".into()), Console::Captured);
        q.extra = production_devices();
        let line = q.shell_line();
        assert!(
            line.ends_with("-kernel /t/Image -device virtio-rng-device"),
            "{line}"
        );
        assert!(line.contains("-nic none"));
    }

    #[test]
    fn machine_options() {
        let m = Machine {
            smp: 4,
            memory_mib: 5120,
            gic: Gic::V3,
            el2: true,
            cpu: "cortex-a57".into(),
        };
        assert_eq!(
            m.args(",dumpdtb=x.dtb"),
            [
                "-M",
                "virt,gic-version=3,virtualization=on,dumpdtb=x.dtb",
                "-cpu",
                "cortex-a57",
                "-smp",
                "4",
                "-m",
                "5120M"
            ]
        );
        assert_eq!(m.ram_end(), 0x1_8000_0000);
        assert_eq!(m.describe(), "4 cpus cortex-a57, 5120 MiB, GICv3, EL2");
    }

    #[test]
    fn captured_uboot_run_never_has_a_network_or_a_monitor() {
        let mut q = qemu(
            Boot::UBootDisk {
                firmware: "/u/u-boot.bin".into(),
                disk: "/d/disk.img".into(),
            },
            Console::Captured,
        );
        q.extra = vec!["-d".into(), "guest_errors".into()];
        let line = q.shell_line();
        assert!(line.contains("-nic none"));
        assert!(line.contains("-serial stdio -monitor none -no-reboot"));
        assert!(line.contains("-bios /u/u-boot.bin -drive if=none,file=/d/disk.img,format=raw,id=hd0 -device virtio-blk-device,drive=hd0"));
        assert!(line.ends_with("-d guest_errors"));
        assert!(!line.contains("netdev"));
    }

    #[test]
    fn window_mode_leaves_the_display_alone() {
        let mut q = qemu(Boot::Kernel("I".into()), Console::Interactive);
        q.window = true;
        assert!(!q.args().contains(&"-display".to_string()));
    }

    #[test]
    fn quoting() {
        let line = shell_line(
            "q",
            &["a b".into(), "it's".into(), "".into(), "x=1,y".into()],
        );
        assert_eq!(line, r"q 'a b' 'it'\''s' '' x=1,y");
    }
}
