//! `/chosen` and the console UART.
//!
//! `stdout-path` comes in three shapes in our trees: a full path
//! (`/pl011@9000000`), an alias with options (`serial1:115200n8`, RPi 3) and
//! an alias that resolves under a bus with `ranges` (`/soc/serial@...`). We
//! strip the options (keeping the baud rate), resolve the alias through
//! `/aliases`, then match the path component by component during the main
//! walk, so the UART's `reg` is translated with its real ancestors.

use crate::cells::{self, PhysRange};
use crate::interrupts::{self, Index, Irq};
use crate::tree::{Tree, Visit, base_name};

/// What the boot loader left in `/chosen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chosen<'a> {
    /// `bootargs`, the kernel command line.
    pub bootargs: Option<&'a str>,
    /// `stdout-path` exactly as written (`"serial1:115200n8"`).
    pub stdout_path: Option<&'a str>,
    /// The initial ramdisk, from `linux,initrd-start`/`-end` (each 1 or 2
    /// cells). `None` if absent or if end <= start.
    pub initrd: Option<PhysRange>,
    /// `rng-seed` bytes (random per QEMU run).
    pub rng_seed: Option<&'a [u8]>,
    /// `kaslr-seed` (8 bytes).
    pub kaslr_seed: Option<u64>,
}

impl<'a> Chosen<'a> {
    pub(crate) fn from_visit(v: &Visit<'_, '_, 'a>) -> Self {
        let start = v
            .prop("linux,initrd-start")
            .and_then(cells::prop_u32_or_u64);
        let end = v.prop("linux,initrd-end").and_then(cells::prop_u32_or_u64);
        let initrd = match (start, end) {
            (Some(s), Some(e)) if e > s => {
                e.checked_sub(s).and_then(|size| PhysRange::new(s, size))
            }
            _ => None,
        };
        Chosen {
            bootargs: v.prop_str("bootargs"),
            stdout_path: v
                .prop_str("stdout-path")
                .or_else(|| v.prop_str("linux,stdout-path")),
            initrd,
            rng_seed: v.prop("rng-seed"),
            kaslr_seed: v
                .prop("kaslr-seed")
                .filter(|s| s.len() == 8)
                .and_then(|s| cells::be64(s, 0)),
        }
    }
}

/// `stdout-path` split into path (or alias) and options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StdoutPath<'a> {
    pub path: &'a str,
    pub baud: Option<u32>,
}

/// Split `"serial0:115200n8"` into `"serial0"` and baud 115200.
pub(crate) fn split_stdout(s: &str) -> StdoutPath<'_> {
    let (path, options) = match s.split_once(':') {
        Some((p, o)) => (p, Some(o)),
        None => (s, None),
    };
    let baud = options.and_then(|o| {
        let digits = o.bytes().take_while(u8::is_ascii_digit).count();
        o.get(..digits)?.parse::<u32>().ok()
    });
    StdoutPath { path, baud }
}

/// Whether path component `comp` names node `name` (a component without a
/// unit address matches any unit address, as in Linux).
pub(crate) fn component_matches(comp: &str, name: &str) -> bool {
    if comp.contains('@') {
        comp == name
    } else {
        base_name(name) == comp
    }
}

/// The kind of UART, i.e. which driver it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartKind {
    /// ARM PL011 (`arm,pl011`).
    Pl011,
    /// 8250/16550 family (`ns16550a`, `ns16550`, `snps,dw-apb-uart`,
    /// `nvidia,tegra20-uart`): register `n` is at `base + (n << reg_shift)`,
    /// accessed `reg_io_width` bytes wide.
    Ns16550 {
        /// `reg-shift` (default 0).
        reg_shift: u8,
        /// `reg-io-width` in bytes (default 1).
        reg_io_width: u8,
    },
    /// Broadcom BCM2835 mini-UART (`brcm,bcm2835-aux-uart`).
    Bcm2835Aux,
    /// A UART we have no driver for.
    Unsupported,
}

impl UartKind {
    /// Short human name.
    pub fn label(&self) -> &'static str {
        match self {
            UartKind::Pl011 => "PL011",
            UartKind::Ns16550 { .. } => "16550",
            UartKind::Bcm2835Aux => "BCM2835 mini-UART",
            UartKind::Unsupported => "no driver",
        }
    }
}

/// A serial port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uart<'a> {
    /// The node name with unit address (`serial@7e215040`). Not the full
    /// path: building one would need a buffer, and the name is unique
    /// enough for a summary.
    pub path: &'a str,
    /// First `compatible` string.
    pub compatible: &'a str,
    /// Which driver it needs.
    pub kind: UartKind,
    /// Registers, as CPU physical addresses (translated through `ranges`).
    pub regs: PhysRange,
    /// First interrupt.
    pub irq: Option<Irq>,
    /// Input clock: `clock-frequency`, or the rate of the `fixed-clock` its
    /// first `clocks` phandle points to.
    pub clock_hz: Option<u32>,
    /// Baud rate from the `stdout-path` options (console only) or the
    /// node's `current-speed`.
    pub baud: Option<u32>,
    /// `status` is okay or absent.
    pub enabled: bool,
}

const NS16550: &[&str] = &[
    "ns16550a",
    "ns16550",
    "snps,dw-apb-uart",
    "nvidia,tegra20-uart",
];

/// The kind named by a `compatible` list, if it names a UART we know.
fn known_kind(compatible: &[u8]) -> Option<UartKind> {
    for c in cells::str_list(compatible) {
        match c {
            "arm,pl011" => return Some(UartKind::Pl011),
            "brcm,bcm2835-aux-uart" => return Some(UartKind::Bcm2835Aux),
            c if NS16550.contains(&c) => {
                return Some(UartKind::Ns16550 {
                    reg_shift: 0,
                    reg_io_width: 1,
                });
            }
            _ => {}
        }
    }
    None
}

/// Whether a node looks like a UART: a known compatible, a compatible
/// ending in `-uart`/`-serial`, or a node called `serial`/`uart` that has
/// a `compatible` and a `reg`.
pub(crate) fn is_uart(v: &Visit<'_, '_, '_>) -> bool {
    if v.props.compatible.is_empty() || v.props.reg.is_none() {
        return false;
    }
    if known_kind(v.props.compatible).is_some() {
        return true;
    }
    if cells::str_list(v.props.compatible).any(|c| c.ends_with("-uart") || c.ends_with("-serial")) {
        return true;
    }
    matches!(base_name(v.name), "serial" | "uart")
}

/// Build a [`Uart`] from a node; `None` without a usable first `reg`.
pub(crate) fn uart_from_visit<'a>(
    tree: &Tree<'a>,
    index: &Index,
    v: &Visit<'_, '_, 'a>,
    baud: Option<u32>,
) -> Option<Uart<'a>> {
    let regs = v.first_reg()?;
    let kind = match known_kind(v.props.compatible) {
        Some(UartKind::Ns16550 { .. }) => UartKind::Ns16550 {
            reg_shift: v
                .prop_u32("reg-shift")
                .and_then(|s| u8::try_from(s).ok())
                .unwrap_or(0),
            reg_io_width: v
                .prop_u32("reg-io-width")
                .and_then(|w| u8::try_from(w).ok())
                .unwrap_or(1),
        },
        Some(k) => k,
        None => UartKind::Unsupported,
    };
    let mut irq = None;
    interrupts::for_each_irq(tree, index, v.props, v.irq_parent, |i| {
        irq = Some(i);
        false
    });
    let clock_hz = v
        .prop("clock-frequency")
        .and_then(cells::prop_u32_or_u64)
        .and_then(|f| u32::try_from(f).ok())
        .or_else(|| {
            let ph = v.prop("clocks").and_then(|c| cells::be32(c, 0))?;
            index.fixed_clock(tree, ph)
        });
    Some(Uart {
        path: v.name,
        compatible: v.props.first_compatible(),
        kind,
        regs,
        irq,
        clock_hz,
        baud: baud.or_else(|| v.prop_u32("current-speed")),
        enabled: v.props.enabled(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_split() {
        assert_eq!(
            split_stdout("serial1:115200n8"),
            StdoutPath {
                path: "serial1",
                baud: Some(115_200)
            }
        );
        assert_eq!(
            split_stdout("/pl011@9000000"),
            StdoutPath {
                path: "/pl011@9000000",
                baud: None
            }
        );
        assert_eq!(split_stdout("/soc/serial@1:n8").baud, None);
        assert_eq!(split_stdout("a:99999999999").baud, None);
    }

    #[test]
    fn components() {
        assert!(component_matches("serial", "serial@7e215040"));
        assert!(component_matches("serial@7e215040", "serial@7e215040"));
        assert!(!component_matches("serial@1", "serial@7e215040"));
        assert!(!component_matches("seria", "serial@7e215040"));
    }
}
