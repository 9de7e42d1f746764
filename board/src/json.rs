//! The platform summary as one JSON object, for `dt-info --json`.
//!
//! Hand-written so it works without `alloc` or serde. Conventions:
//! addresses and sizes are strings `"0x..."` (they exceed the 2^53 integer
//! range many JSON readers keep exact); counts, interrupt numbers, clock
//! rates and pixel sizes are plain numbers; absent values are `null`.
//! Every [`PhysRange`] is `{"start": "0x..", "size": "0x..", "end": "0x.."}`.

use core::fmt::{self, Write};

use crate::cells::PhysRange;
use crate::chosen::{Uart, UartKind};
use crate::cpus::EnableMethod;
use crate::interrupts::{InterruptController, Irq};
use crate::platform::Platform;

/// Write `p` as a single-line JSON object to `out`.
pub fn write_json(p: &Platform<'_>, out: &mut dyn Write) -> fmt::Result {
    let mut w = Json { out };
    w.raw("{")?;
    w.key("fdt", true)?;
    w.raw("{")?;
    w.key("version", true)?;
    w.num(p.header.version)?;
    w.key("last_comp_version", false)?;
    w.num(p.header.last_comp_version)?;
    w.key("totalsize", false)?;
    w.num(p.header.totalsize)?;
    w.key("boot_cpuid_phys", false)?;
    w.num(p.header.boot_cpuid_phys)?;
    w.raw("}")?;
    w.key("model", false)?;
    w.string(p.model)?;
    w.key("compatible", false)?;
    w.string(p.compatible)?;

    w.key("memory", false)?;
    w.list(p.memory.iter(), |w, r| w.range(r))?;
    w.key("memory_total", false)?;
    w.hex(p.total_memory())?;

    w.key("reservations", false)?;
    w.list(p.reservations.iter(), |w, r| {
        w.raw("{")?;
        w.key("name", true)?;
        w.string(r.name)?;
        w.key("range", false)?;
        w.opt(r.range.as_ref(), |w, r| w.range(r))?;
        w.key("size", false)?;
        w.hex(r.size)?;
        w.key("no_map", false)?;
        w.boolean(r.no_map)?;
        w.key("reusable", false)?;
        w.boolean(r.reusable)?;
        w.raw("}")
    })?;

    let c = &p.chosen;
    w.key("chosen", false)?;
    w.raw("{")?;
    w.key("bootargs", true)?;
    w.opt(c.bootargs, |w, s| w.string(s))?;
    w.key("stdout_path", false)?;
    w.opt(c.stdout_path, |w, s| w.string(s))?;
    w.key("initrd", false)?;
    w.opt(c.initrd.as_ref(), |w, r| w.range(r))?;
    w.key("rng_seed_bytes", false)?;
    w.opt(
        c.rng_seed
            .map(|s| u64::try_from(s.len()).unwrap_or(u64::MAX)),
        |w, n| w.num(n),
    )?;
    w.key("kaslr_seed", false)?;
    w.boolean(c.kaslr_seed.is_some())?;
    w.raw("}")?;

    w.key("console", false)?;
    w.opt(p.console.as_ref(), |w, u| w.uart(u))?;
    w.key("uarts", false)?;
    w.list(p.uarts.iter(), |w, u| w.uart(u))?;

    w.key("interrupt_controller", false)?;
    w.opt(p.interrupt_controller.as_ref(), |w, ic| w.intc(ic))?;

    w.key("timer", false)?;
    w.opt(p.timer.as_ref(), |w, t| {
        w.raw("{")?;
        w.key("compatible", true)?;
        w.string(t.compatible)?;
        for (name, irq) in [
            ("secure_phys", t.secure_phys),
            ("nonsecure_phys", t.nonsecure_phys),
            ("virt", t.virt),
            ("hyp", t.hyp),
        ] {
            w.key(name, false)?;
            w.opt(irq.as_ref(), |w, i| w.irq(i))?;
        }
        w.key("always_on", false)?;
        w.boolean(t.always_on)?;
        w.key("frequency_hz", false)?;
        w.opt(t.frequency_hz, |w, n| w.num(n))?;
        w.raw("}")
    })?;

    w.key("cpus", false)?;
    w.list(p.cpus.iter(), |w, cpu| {
        w.raw("{")?;
        w.key("mpidr", true)?;
        w.hex(cpu.mpidr)?;
        w.key("compatible", false)?;
        w.string(cpu.compatible)?;
        w.key("enable_method", false)?;
        match cpu.enable_method {
            EnableMethod::Psci => w.string("psci")?,
            EnableMethod::SpinTable { .. } => w.string("spin-table")?,
            EnableMethod::None => w.raw("null")?,
            EnableMethod::Other(m) => w.string(m)?,
        }
        w.key("release_addr", false)?;
        match cpu.enable_method {
            EnableMethod::SpinTable { release_addr } => w.hex(release_addr)?,
            _ => w.raw("null")?,
        }
        w.key("supported", false)?;
        w.boolean(!matches!(cpu.enable_method, EnableMethod::Other(_)))?;
        w.raw("}")
    })?;

    w.key("psci", false)?;
    w.opt(p.psci.as_ref(), |w, psci| {
        w.raw("{")?;
        w.key("compatible", true)?;
        w.string(psci.compatible)?;
        w.key("conduit", false)?;
        w.string(psci.conduit.as_str())?;
        w.raw("}")
    })?;

    w.key("virtio_mmio", false)?;
    w.list(p.virtio_mmio.iter(), |w, v| {
        w.raw("{")?;
        w.key("regs", true)?;
        w.range(&v.regs)?;
        w.key("irq", false)?;
        w.opt(v.irq.as_ref(), |w, i| w.irq(i))?;
        w.raw("}")
    })?;

    w.key("framebuffers", false)?;
    w.list(p.framebuffers.iter(), |w, fb| {
        w.raw("{")?;
        w.key("name", true)?;
        w.string(fb.name)?;
        w.key("compatible", false)?;
        w.string(fb.compatible)?;
        w.key("reg", false)?;
        w.opt(fb.reg.as_ref(), |w, r| w.range(r))?;
        for (name, v) in [
            ("width", fb.width),
            ("height", fb.height),
            ("stride", fb.stride),
        ] {
            w.key(name, false)?;
            w.opt(v, |w, n| w.num(n))?;
        }
        w.key("format", false)?;
        w.opt(fb.format, |w, s| w.string(s))?;
        w.key("enabled", false)?;
        w.boolean(fb.enabled)?;
        w.raw("}")
    })?;

    w.key("unsupported", false)?;
    w.list(p.unsupported.iter(), |w, n| {
        w.raw("{")?;
        w.key("kind", true)?;
        w.string(n.kind())?;
        w.key("message", false)?;
        w.display_string(n)?;
        w.raw("}")
    })?;
    w.raw("}")
}

struct Json<'o> {
    out: &'o mut dyn Write,
}

impl Json<'_> {
    fn raw(&mut self, s: &str) -> fmt::Result {
        self.out.write_str(s)
    }

    fn key(&mut self, name: &str, first: bool) -> fmt::Result {
        if !first {
            self.raw(",")?;
        }
        self.string(name)?;
        self.raw(":")
    }

    fn string(&mut self, s: &str) -> fmt::Result {
        self.raw("\"")?;
        Escape(self.out).write_str(s)?;
        self.raw("\"")
    }

    /// A `Display` value as an escaped JSON string.
    fn display_string(&mut self, v: &dyn fmt::Display) -> fmt::Result {
        self.raw("\"")?;
        write!(Escape(self.out), "{v}")?;
        self.raw("\"")
    }

    fn num(&mut self, n: impl Into<u64>) -> fmt::Result {
        write!(self.out, "{}", n.into())
    }

    fn hex(&mut self, n: u64) -> fmt::Result {
        write!(self.out, "\"{n:#x}\"")
    }

    fn boolean(&mut self, b: bool) -> fmt::Result {
        self.raw(if b { "true" } else { "false" })
    }

    fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T) -> fmt::Result) -> fmt::Result {
        match v {
            Some(v) => f(self, v),
            None => self.raw("null"),
        }
    }

    fn list<T>(
        &mut self,
        items: impl Iterator<Item = T>,
        mut f: impl FnMut(&mut Self, T) -> fmt::Result,
    ) -> fmt::Result {
        self.raw("[")?;
        for (i, item) in items.enumerate() {
            if i > 0 {
                self.raw(",")?;
            }
            f(self, item)?;
        }
        self.raw("]")
    }

    fn range(&mut self, r: &PhysRange) -> fmt::Result {
        self.raw("{")?;
        self.key("start", true)?;
        self.hex(r.start)?;
        self.key("size", false)?;
        self.hex(r.size)?;
        self.key("end", false)?;
        match r.end() {
            Some(end) => self.hex(end)?,
            None => self.raw("null")?,
        }
        self.raw("}")
    }

    fn irq(&mut self, irq: &Irq) -> fmt::Result {
        self.raw("{")?;
        self.key("type", true)?;
        match irq {
            Irq::Spi(n) | Irq::Ppi(n) => {
                self.string(if matches!(irq, Irq::Spi(_)) {
                    "spi"
                } else {
                    "ppi"
                })?;
                self.key("number", false)?;
                self.num(*n)?;
            }
            Irq::Raw { .. } => {
                self.string("raw")?;
                self.key("cells", false)?;
                self.list(irq.raw_cells().iter(), |w, c| w.num(*c))?;
            }
        }
        self.key("intid", false)?;
        self.opt(irq.intid(), |w, n| w.num(n))?;
        self.raw("}")
    }

    fn uart(&mut self, u: &Uart<'_>) -> fmt::Result {
        self.raw("{")?;
        self.key("path", true)?;
        self.string(u.path)?;
        self.key("compatible", false)?;
        self.string(u.compatible)?;
        self.key("kind", false)?;
        self.string(match u.kind {
            UartKind::Pl011 => "pl011",
            UartKind::Ns16550 { .. } => "ns16550",
            UartKind::Bcm2835Aux => "bcm2835-aux",
            UartKind::Unsupported => "unsupported",
        })?;
        if let UartKind::Ns16550 {
            reg_shift,
            reg_io_width,
        } = u.kind
        {
            self.key("reg_shift", false)?;
            self.num(reg_shift)?;
            self.key("reg_io_width", false)?;
            self.num(reg_io_width)?;
        }
        self.key("regs", false)?;
        self.range(&u.regs)?;
        self.key("irq", false)?;
        self.opt(u.irq.as_ref(), |w, i| w.irq(i))?;
        self.key("clock_hz", false)?;
        self.opt(u.clock_hz, |w, n| w.num(n))?;
        self.key("baud", false)?;
        self.opt(u.baud, |w, n| w.num(n))?;
        self.key("enabled", false)?;
        self.boolean(u.enabled)?;
        self.raw("}")
    }

    fn intc(&mut self, ic: &InterruptController<'_>) -> fmt::Result {
        self.raw("{")?;
        self.key("kind", true)?;
        match ic {
            InterruptController::GicV2 {
                compatible,
                distributor,
                cpu_interface,
            } => {
                self.string("gicv2")?;
                self.key("compatible", false)?;
                self.string(compatible)?;
                self.key("distributor", false)?;
                self.range(distributor)?;
                self.key("cpu_interface", false)?;
                self.range(cpu_interface)?;
            }
            InterruptController::GicV3 {
                distributor,
                redistributors,
            } => {
                self.string("gicv3")?;
                self.key("distributor", false)?;
                self.range(distributor)?;
                self.key("redistributors", false)?;
                self.list(redistributors.iter(), |w, r| w.range(r))?;
            }
            InterruptController::Bcm2836 { armctrl, local } => {
                self.string("bcm2836")?;
                self.key("armctrl", false)?;
                self.range(armctrl)?;
                self.key("local", false)?;
                self.opt(local.as_ref(), |w, r| w.range(r))?;
            }
            InterruptController::Unsupported { compatible } => {
                self.string("unsupported")?;
                self.key("compatible", false)?;
                self.string(compatible)?;
            }
        }
        self.raw("}")
    }
}

/// Escapes JSON string content as it is written.
struct Escape<'o, 'w>(&'o mut (dyn Write + 'w));

impl Write for Escape<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || u32::from(c) < 0x20) {
            let (plain, tail) = rest.split_at(i);
            self.0.write_str(plain)?;
            let mut chars = tail.chars();
            let Some(c) = chars.next() else {
                break;
            };
            match c {
                '"' => self.0.write_str("\\\"")?,
                '\\' => self.0.write_str("\\\\")?,
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{:04x}", u32::from(c))?,
            }
            rest = chars.as_str();
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut s = String::new();
        Escape(&mut s).write_str("a\"b\\c\nd\u{1}e\u{7f}é").unwrap();
        assert_eq!(s, "a\\\"b\\\\c\\nd\\u0001e\u{7f}é");
    }
}
