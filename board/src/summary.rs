//! The human summary printed by `cargo xtask dt-info`.

use core::fmt::{self, Display, Formatter, Write};

use crate::cells::{PhysRange, Size};
use crate::chosen::{Uart, UartKind};
use crate::cpus::EnableMethod;
use crate::interrupts::{InterruptController, Irq};
use crate::platform::Platform;

const W: usize = 14;

fn label(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    write!(f, "{name:<W$}")
}

fn cont(f: &mut Formatter<'_>) -> fmt::Result {
    write!(f, "{:<W$}", "")
}

/// `"text"` with control characters escaped, for strings from the blob.
struct Quoted<'a>(&'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

struct OptIrq(Option<Irq>);

impl Display for OptIrq {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(irq) => write!(f, "{irq}"),
            None => f.write_str("no irq"),
        }
    }
}

impl Display for UartKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UartKind::Ns16550 {
                reg_shift,
                reg_io_width,
            } => write!(
                f,
                "16550 (reg-shift {reg_shift}, reg-io-width {reg_io_width})"
            ),
            other => f.write_str(other.label()),
        }
    }
}

impl Display for Uart<'_> {
    /// `serial@1c28000: 16550 (reg-shift 2, reg-io-width 4) "snps,dw-apb-uart"
    /// at 0x1c28000..0x1c28400 (1 KiB), SPI 0 (INTID 32)`, then clock, baud
    /// and `disabled` when known.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} at {}, {}",
            self.path,
            self.kind,
            Quoted(self.compatible),
            self.regs,
            OptIrq(self.irq)
        )?;
        if let Some(hz) = self.clock_hz {
            write!(f, ", clock {hz} Hz")?;
        }
        if let Some(baud) = self.baud {
            write!(f, ", {baud} baud")?;
        }
        if !self.enabled {
            f.write_str(", disabled")?;
        }
        Ok(())
    }
}

impl Display for InterruptController<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            InterruptController::GicV2 {
                compatible,
                distributor,
                cpu_interface,
            } => write!(
                f,
                "GICv2 {}: distributor {distributor}, CPU interface {cpu_interface}",
                Quoted(compatible)
            ),
            InterruptController::GicV3 {
                distributor,
                redistributors,
            } => {
                write!(f, "GICv3: distributor {distributor}, redistributors")?;
                for (i, r) in redistributors.iter().enumerate() {
                    write!(f, "{} {r}", if i == 0 { "" } else { "," })?;
                }
                Ok(())
            }
            InterruptController::Bcm2836 { armctrl, local } => {
                write!(f, "BCM2836 ARMCTRL at {armctrl}")?;
                if let Some(local) = local {
                    write!(f, ", per-core L1 at {local}")?;
                }
                f.write_str(" (reported only, not driven)")
            }
            InterruptController::Unsupported { compatible } => {
                write!(f, "{} (unsupported)", Quoted(compatible))
            }
        }
    }
}

impl Display for EnableMethod<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            EnableMethod::Psci => f.write_str("psci"),
            EnableMethod::SpinTable { release_addr } => {
                write!(f, "spin-table, release address {release_addr:#x}")
            }
            EnableMethod::None => f.write_str("no enable-method"),
            EnableMethod::Other(m) => write!(f, "{} (unsupported)", Quoted(m)),
        }
    }
}

fn span(ranges: impl Iterator<Item = PhysRange>) -> Option<PhysRange> {
    let mut lo = u64::MAX;
    let mut hi = 0u64;
    let mut any = false;
    for r in ranges {
        any = true;
        lo = lo.min(r.start);
        hi = hi.max(r.end().unwrap_or(u64::MAX));
    }
    if !any {
        return None;
    }
    PhysRange::new(lo, hi.checked_sub(lo)?)
}

impl Display for Platform<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        label(f, "fdt:")?;
        writeln!(
            f,
            "version {} (last compatible {}), totalsize {} bytes, boot CPU {}",
            h.version, h.last_comp_version, h.totalsize, h.boot_cpuid_phys
        )?;
        label(f, "model:")?;
        writeln!(f, "{}", Quoted(self.model))?;
        label(f, "compatible:")?;
        writeln!(f, "{}", Quoted(self.compatible))?;

        label(f, "memory:")?;
        if self.memory.is_empty() {
            writeln!(f, "none (the boot loader must add a memory node)")?;
        } else {
            for (i, r) in self.memory.iter().enumerate() {
                if i > 0 {
                    cont(f)?;
                }
                writeln!(f, "{r}")?;
            }
            cont(f)?;
            writeln!(
                f,
                "total {} in {} range{}",
                Size(self.total_memory()),
                self.memory.len(),
                if self.memory.len() == 1 { "" } else { "s" }
            )?;
        }

        label(f, "reserved:")?;
        if self.reservations.is_empty() {
            writeln!(f, "none")?;
        }
        for (i, r) in self.reservations.iter().enumerate() {
            if i > 0 {
                cont(f)?;
            }
            write!(f, "{}: ", r.name)?;
            match r.range {
                Some(range) => write!(f, "{range}")?,
                None => write!(f, "dynamic, {}", Size(r.size))?,
            }
            if r.no_map {
                f.write_str(", no-map")?;
            }
            if r.reusable {
                f.write_str(", reusable")?;
            }
            writeln!(f)?;
        }

        label(f, "chosen:")?;
        let c = &self.chosen;
        let mut first = true;
        let mut line = |f: &mut Formatter<'_>| -> fmt::Result {
            if !first {
                cont(f)?;
            }
            first = false;
            Ok(())
        };
        if let Some(b) = c.bootargs {
            line(f)?;
            writeln!(f, "bootargs {}", Quoted(b))?;
        }
        if let Some(s) = c.stdout_path {
            line(f)?;
            writeln!(f, "stdout-path {}", Quoted(s))?;
        }
        if let Some(r) = c.initrd {
            line(f)?;
            writeln!(f, "initrd {r}")?;
        }
        if let Some(seed) = c.rng_seed {
            line(f)?;
            writeln!(f, "rng-seed {} bytes", seed.len())?;
        }
        if c.kaslr_seed.is_some() {
            line(f)?;
            writeln!(f, "kaslr-seed present")?;
        }
        if first {
            writeln!(f, "nothing")?;
        }

        label(f, "console:")?;
        match &self.console {
            Some(u) => writeln!(f, "{u}")?,
            None => writeln!(f, "none")?,
        }
        label(f, "uarts:")?;
        writeln!(f, "{}", self.uarts.len())?;
        for u in &self.uarts {
            cont(f)?;
            writeln!(f, "{u}")?;
        }

        label(f, "interrupts:")?;
        match &self.interrupt_controller {
            Some(ic) => writeln!(f, "{ic}")?,
            None => writeln!(f, "none found")?,
        }

        label(f, "timer:")?;
        match &self.timer {
            Some(t) => {
                write!(f, "{}", Quoted(t.compatible))?;
                if t.always_on {
                    f.write_str(", always-on")?;
                }
                if let Some(hz) = t.frequency_hz {
                    write!(f, ", {hz} Hz")?;
                }
                writeln!(f)?;
                let irqs = [
                    ("secure phys", t.secure_phys),
                    ("non-secure phys", t.nonsecure_phys),
                    ("virtual", t.virt),
                    ("hypervisor", t.hyp),
                ];
                for (name, irq) in irqs {
                    cont(f)?;
                    writeln!(f, "{name}: {}", OptIrq(irq))?;
                }
            }
            None => writeln!(f, "none")?,
        }

        label(f, "cpus:")?;
        writeln!(f, "{}", self.cpus.len())?;
        for cpu in &self.cpus {
            cont(f)?;
            writeln!(
                f,
                "mpidr {:#x} {}: {}",
                cpu.mpidr,
                Quoted(cpu.compatible),
                cpu.enable_method
            )?;
        }

        label(f, "psci:")?;
        match &self.psci {
            Some(p) => writeln!(f, "{} via {}", Quoted(p.compatible), p.conduit.as_str())?,
            None => writeln!(f, "none")?,
        }

        label(f, "virtio-mmio:")?;
        match span(self.virtio_mmio.iter().map(|v| v.regs)) {
            None => writeln!(f, "none")?,
            Some(all) => {
                writeln!(f, "{} transports in {all}", self.virtio_mmio.len())?;
                let first = self.virtio_mmio.first();
                let last = self.virtio_mmio.last();
                if let (Some(a), Some(b)) = (first, last) {
                    cont(f)?;
                    writeln!(
                        f,
                        "first {} {}, last {} {}",
                        a.regs,
                        OptIrq(a.irq),
                        b.regs,
                        OptIrq(b.irq)
                    )?;
                }
            }
        }

        label(f, "framebuffers:")?;
        if self.framebuffers.is_empty() {
            writeln!(f, "none")?;
        }
        for (i, fb) in self.framebuffers.iter().enumerate() {
            if i > 0 {
                cont(f)?;
            }
            write!(f, "{} {}", fb.name, Quoted(fb.compatible))?;
            match fb.reg {
                Some(r) => write!(f, " at {r}")?,
                None => f.write_str(", no reg")?,
            }
            if let (Some(w), Some(h)) = (fb.width, fb.height) {
                write!(f, ", {w}x{h}")?;
            }
            if let Some(s) = fb.stride {
                write!(f, ", stride {s}")?;
            }
            if let Some(fmt) = fb.format {
                write!(f, ", {}", Quoted(fmt))?;
            }
            writeln!(
                f,
                "{}",
                if fb.enabled {
                    ""
                } else {
                    ", disabled (boot loader fills it in)"
                }
            )?;
        }

        label(f, "unsupported:")?;
        if self.unsupported.is_empty() {
            writeln!(f, "nothing")?;
        }
        for (i, n) in self.unsupported.iter().enumerate() {
            if i > 0 {
                cont(f)?;
            }
            writeln!(f, "- {n}")?;
        }
        Ok(())
    }
}
