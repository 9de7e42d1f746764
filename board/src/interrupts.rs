//! Interrupts: the root controller, specifier decoding, the arch timer.
//!
//! `fdt` 0.1.5's `interrupts()` only handles 1- or 2-cell specifiers and only
//! asks the direct parent, so it returns `None` for every GIC device. We
//! resolve the interrupt parent the way Linux does (own `interrupt-parent`,
//! else the tree parent if it is a controller, else the parent's interrupt
//! parent), follow phandles through a small index built once per blob, and
//! decode the controller's `#interrupt-cells` ourselves. Loops and dangling
//! phandles end the search after [`MAX_HOPS`] steps.

use core::cell::Cell;
use core::fmt;

use crate::cells::{self, PhysRange};
use crate::tree::{Controller, Flow, IrqSrc, NodeProps, SpecFormat, Tree};

/// Longest chain of `interrupt-parent` hops followed before giving up.
pub const MAX_HOPS: usize = 16;
/// Phandle targets remembered per blob (controllers and fixed clocks);
/// beyond this, lookups fall back to a walk of the tree.
pub const MAX_INDEX: usize = 48;
/// Tree walks [`Index::lookup`] may spend on phandles missing from a full
/// index, so a pathological tree cannot make discovery quadratic.
pub const MAX_FALLBACK_WALKS: u32 = 64;
/// Largest `#interrupt-cells` we decode.
pub const MAX_INTERRUPT_CELLS: u32 = 8;

/// GICv2-class distributors (and the GICv1 parts with the same layout).
pub(crate) const GIC_V2: &[&str] = &[
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
    "arm,gic-v2",
    "arm,arm11mp-gic",
    "arm,arm1176jzf-devchip-gic",
    "arm,eb11mp-gic",
    "arm,pl390",
    "arm,tc11mp-gic",
    "brcm,brahma-b15-gic",
    "qcom,msm-8660-qgic",
    "qcom,msm-qgic2",
];
/// GICv3/v4 distributors.
pub(crate) const GIC_V3: &[&str] = &["arm,gic-v3"];

fn is_stacked_on_gic(compat: &str) -> bool {
    matches!(
        compat,
        "fsl,imx6q-gpc"
            | "fsl,imx7d-gpc"
            | "fsl,imx8mq-gpc"
            | "ti,omap4-wugen-mpu"
            | "ti,omap5-wugen-mpu"
    ) || (compat.starts_with("nvidia,tegra") && compat.ends_with("-ictlr"))
}

/// The specifier format of a controller with this `compatible` list.
pub(crate) fn spec_format(compatible: &[u8]) -> SpecFormat {
    let mut format = SpecFormat::Other;
    for c in cells::str_list(compatible) {
        if GIC_V2.contains(&c) || GIC_V3.contains(&c) {
            return SpecFormat::Gic;
        }
        if is_stacked_on_gic(c) {
            format = SpecFormat::GicStacked;
        }
    }
    format
}

/// One decoded interrupt specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Irq {
    /// GIC shared peripheral interrupt `n` (INTID 32 + n).
    Spi(u32),
    /// GIC private peripheral interrupt `n` (INTID 16 + n).
    Ppi(u32),
    /// Any other specifier (non-GIC parents such as the BCM2836 L1 or
    /// ARMCTRL controllers, GIC extended ranges), kept as raw cells. `len` is
    /// the number of valid cells; specifiers longer than 3 cells keep their
    /// first 3.
    Raw {
        /// The cells, zero-padded.
        cells: [u32; 3],
        /// How many of `cells` are meaningful (0..=3).
        len: u8,
    },
}

impl Irq {
    /// A raw specifier from up to three cells (extra cells are dropped).
    pub fn raw(cells: &[u32]) -> Self {
        let mut out = [0u32; 3];
        let mut len = 0u8;
        for (slot, c) in out.iter_mut().zip(cells) {
            *slot = *c;
            len = len.saturating_add(1);
        }
        Irq::Raw { cells: out, len }
    }

    /// The GIC interrupt ID: SPI n is 32 + n (n < 988), PPI n is 16 + n
    /// (n < 16). `None` for raw specifiers and out-of-range numbers.
    pub fn intid(&self) -> Option<u32> {
        match *self {
            Irq::Spi(n) if n < 988 => n.checked_add(32),
            Irq::Ppi(n) if n < 16 => n.checked_add(16),
            _ => None,
        }
    }

    /// The meaningful cells of a raw specifier (empty for SPI/PPI).
    pub fn raw_cells(&self) -> &[u32] {
        match self {
            Irq::Raw { cells, len } => cells.get(..usize::from(*len)).unwrap_or(cells),
            _ => &[],
        }
    }

    fn decode(format: SpecFormat, spec: &[u32]) -> Self {
        let gic = matches!(format, SpecFormat::Gic | SpecFormat::GicStacked);
        match (gic, spec) {
            (true, [0, n, _, ..]) => Irq::Spi(*n),
            (true, [1, n, _, ..]) => Irq::Ppi(*n),
            _ => Irq::raw(spec),
        }
    }
}

impl fmt::Display for Irq {
    /// `SPI 1 (INTID 33)`, `PPI 13 (INTID 29)`, `raw <0x1 0x1d>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Irq::Spi(n) | Irq::Ppi(n) => {
                let kind = if matches!(self, Irq::Spi(_)) {
                    "SPI"
                } else {
                    "PPI"
                };
                match self.intid() {
                    Some(id) => write!(f, "{kind} {n} (INTID {id})"),
                    None => write!(f, "{kind} {n} (out of range)"),
                }
            }
            Irq::Raw { .. } => {
                f.write_str("raw <")?;
                for (i, c) in self.raw_cells().iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{c:#x}")?;
                }
                f.write_str(">")
            }
        }
    }
}

/// The root interrupt controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterruptController<'a> {
    /// GICv2 (or a GICv1 part with the same register layout).
    GicV2 {
        /// First `compatible` string of the GIC node.
        compatible: &'a str,
        /// GICD.
        distributor: PhysRange,
        /// GICC.
        cpu_interface: PhysRange,
    },
    /// GICv3/v4.
    GicV3 {
        /// GICD.
        distributor: PhysRange,
        /// GICR regions (`#redistributor-regions`, default 1).
        redistributors: heapless::Vec<PhysRange, 4>,
    },
    /// Raspberry Pi 2/3 ARMCTRL + per-core L1 controller. Reported only: the
    /// kernel does not drive it yet.
    Bcm2836 {
        /// `brcm,bcm2836-armctrl-ic` registers.
        armctrl: PhysRange,
        /// `brcm,bcm2836-l1-intc` registers, if that node was found.
        local: Option<PhysRange>,
    },
    /// A controller we know nothing about (or a GIC whose `reg` could not
    /// be decoded).
    Unsupported {
        /// Its first `compatible` string.
        compatible: &'a str,
    },
}

impl InterruptController<'_> {
    /// Whether the kernel can drive it (GICv2 or GICv3).
    pub fn is_gic(&self) -> bool {
        matches!(self, Self::GicV2 { .. } | Self::GicV3 { .. })
    }
}

/// The ARM generic timer (`arm,armv8-timer` / `arm,armv7-timer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer<'a> {
    /// First `compatible` string.
    pub compatible: &'a str,
    /// Secure EL1 physical timer.
    pub secure_phys: Option<Irq>,
    /// Non-secure EL1 physical timer.
    pub nonsecure_phys: Option<Irq>,
    /// Virtual timer.
    pub virt: Option<Irq>,
    /// Hypervisor (EL2) physical timer.
    pub hyp: Option<Irq>,
    /// `always-on`: the timer keeps counting in low-power states.
    pub always_on: bool,
    /// `clock-frequency`, only present when firmware did not program
    /// CNTFRQ_EL0.
    pub frequency_hz: Option<u32>,
}

/// A phandle target we may need later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub phandle: u32,
    pub controller: Option<Controller>,
    /// The target's own interrupt parent (followed when it is not a
    /// controller, and to see through stacked controllers).
    pub irq_parent: IrqSrc,
    /// `clock-frequency` of a `fixed-clock`.
    pub clock_hz: Option<u32>,
}

impl Entry {
    fn from_props(props: &NodeProps<'_>, irq_parent: IrqSrc) -> Option<Self> {
        let phandle = props.phandle?;
        let controller = props.controller();
        let clock_hz = None;
        Some(Self {
            phandle,
            controller,
            irq_parent,
            clock_hz,
        })
    }
}

/// Phandle index: controllers and fixed clocks, built in one walk.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    entries: heapless::Vec<Entry, MAX_INDEX>,
    overflow: bool,
    fallback_walks: Cell<u32>,
    /// The root node's `interrupt-parent`.
    pub root_irq_parent: Option<u32>,
}

impl Index {
    /// Build the index; `extra` also sees every node (discovery uses it to
    /// pick up `/chosen` and `/aliases` in the same walk).
    pub(crate) fn build<'b, 'a: 'b>(
        tree: &'b Tree<'a>,
        mut extra: impl FnMut(&crate::tree::Visit<'_, 'b, 'a>),
    ) -> Self {
        let mut index = Index {
            entries: heapless::Vec::new(),
            overflow: false,
            fallback_walks: Cell::new(0),
            root_irq_parent: None,
        };
        tree.walk(|v| {
            if v.depth == 0 {
                index.root_irq_parent = v.props.interrupt_parent;
            }
            if let Some(entry) = entry_for(v)
                && index.entries.push(entry).is_err()
            {
                index.overflow = true;
            }
            extra(v);
            Flow::Continue
        });
        index
    }

    /// Find the entry for `phandle` (falls back to a tree walk when the
    /// index overflowed).
    pub(crate) fn lookup(&self, tree: &Tree<'_>, phandle: u32) -> Option<Entry> {
        if let Some(e) = self.entries.iter().find(|e| e.phandle == phandle) {
            return Some(*e);
        }
        let walks = self.fallback_walks.get();
        if !self.overflow || walks >= MAX_FALLBACK_WALKS {
            return None;
        }
        self.fallback_walks.set(walks.saturating_add(1));
        let mut found = None;
        tree.walk(|v| {
            if v.props.phandle == Some(phandle) {
                found = Entry::from_props(v.props, v.irq_parent).map(|mut e| {
                    e.clock_hz = fixed_clock_hz(v);
                    e
                });
                return Flow::Stop;
            }
            Flow::Continue
        });
        found
    }

    /// The controller that `src` leads to, following at most [`MAX_HOPS`]
    /// phandles.
    pub(crate) fn resolve(&self, tree: &Tree<'_>, src: IrqSrc) -> Option<Controller> {
        let mut cur = src;
        for _ in 0..MAX_HOPS {
            match cur {
                IrqSrc::None => return None,
                IrqSrc::Node(c) => return Some(c),
                IrqSrc::Phandle(ph) => {
                    let e = self.lookup(tree, ph)?;
                    if let Some(c) = e.controller {
                        return Some(c);
                    }
                    cur = e.irq_parent;
                }
            }
        }
        None
    }

    /// `clock-frequency` of the fixed clock `phandle` points at.
    pub(crate) fn fixed_clock(&self, tree: &Tree<'_>, phandle: u32) -> Option<u32> {
        self.lookup(tree, phandle)?.clock_hz
    }

    /// The phandle of the controller the kernel should drive: the root
    /// `interrupt-parent`, seen through controllers stacked in front of a
    /// GIC. Returns (target, stacked-controller phandle if one was skipped).
    pub(crate) fn root_controller(&self, tree: &Tree<'_>) -> (Option<u32>, Option<u32>) {
        let Some(root) = self.root_irq_parent else {
            return (None, None);
        };
        let mut target = root;
        let mut stacked = None;
        for _ in 0..MAX_HOPS {
            let Some(e) = self.lookup(tree, target) else {
                break;
            };
            let is_stacked = matches!(
                e.controller,
                Some(Controller {
                    format: SpecFormat::GicStacked,
                    ..
                })
            );
            match (is_stacked, e.irq_parent) {
                (true, IrqSrc::Phandle(next)) if next != target => {
                    stacked.get_or_insert(target);
                    target = next;
                }
                _ => break,
            }
        }
        (Some(target), stacked)
    }
}

fn fixed_clock_hz(v: &crate::tree::Visit<'_, '_, '_>) -> Option<u32> {
    if v.props.is_compatible("fixed-clock") {
        v.prop("clock-frequency")
            .and_then(cells::prop_u32_or_u64)
            .and_then(|f| u32::try_from(f).ok())
    } else {
        None
    }
}

fn entry_for(v: &crate::tree::Visit<'_, '_, '_>) -> Option<Entry> {
    v.props.phandle?;
    let clock_hz = fixed_clock_hz(v);
    if v.props.interrupt_cells.is_none() && clock_hz.is_none() {
        return None;
    }
    let mut e = Entry::from_props(v.props, v.irq_parent)?;
    e.clock_hz = clock_hz;
    Some(e)
}

/// Decode a node's interrupts (`interrupts-extended` first, else
/// `interrupts` against its effective parent), calling `f` for each until
/// it returns `false`.
pub(crate) fn for_each_irq(
    tree: &Tree<'_>,
    index: &Index,
    props: &NodeProps<'_>,
    irq_parent: IrqSrc,
    mut f: impl FnMut(Irq) -> bool,
) {
    let mut spec = [0u32; MAX_INTERRUPT_CELLS as usize];
    if let Some(ext) = props.interrupts_extended {
        let mut pos = 0usize;
        while let Some(ph) = cells::be32(ext, pos) {
            pos = pos.saturating_add(4);
            let Some(ctrl) = index.resolve(tree, IrqSrc::Phandle(ph)) else {
                return;
            };
            let Some(irq) = read_spec(ext, &mut pos, ctrl, &mut spec) else {
                return;
            };
            if !f(irq) {
                return;
            }
        }
        return;
    }
    let Some(data) = props.interrupts else {
        return;
    };
    let Some(ctrl) = index.resolve(tree, irq_parent) else {
        return;
    };
    let mut pos = 0usize;
    while pos < data.len() {
        let Some(irq) = read_spec(data, &mut pos, ctrl, &mut spec) else {
            return;
        };
        if !f(irq) {
            return;
        }
    }
}

/// Read one `ctrl.cells`-cell specifier at `*pos`.
fn read_spec(
    data: &[u8],
    pos: &mut usize,
    ctrl: Controller,
    buf: &mut [u32; MAX_INTERRUPT_CELLS as usize],
) -> Option<Irq> {
    if ctrl.cells == 0 || ctrl.cells > MAX_INTERRUPT_CELLS {
        return None;
    }
    let n = ctrl.cells as usize;
    let spec = buf.get_mut(..n)?;
    for slot in spec.iter_mut() {
        *slot = cells::be32(data, *pos)?;
        *pos = pos.saturating_add(4);
    }
    Some(Irq::decode(ctrl.format, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intid_mapping() {
        assert_eq!(Irq::Spi(1).intid(), Some(33));
        assert_eq!(Irq::Ppi(13).intid(), Some(29));
        assert_eq!(Irq::Ppi(16).intid(), None);
        assert_eq!(Irq::Spi(988).intid(), None);
        assert_eq!(Irq::raw(&[1, 29]).intid(), None);
        assert_eq!(Irq::raw(&[1, 29]).raw_cells(), &[1, 29]);
        assert_eq!(Irq::raw(&[1, 2, 3, 4]).raw_cells(), &[1, 2, 3]);
    }

    #[test]
    fn decode_formats() {
        assert_eq!(Irq::decode(SpecFormat::Gic, &[0, 5, 4]), Irq::Spi(5));
        assert_eq!(Irq::decode(SpecFormat::GicStacked, &[1, 9, 4]), Irq::Ppi(9));
        assert_eq!(
            Irq::decode(SpecFormat::Gic, &[2, 9, 4]),
            Irq::raw(&[2, 9, 4])
        );
        assert_eq!(Irq::decode(SpecFormat::Gic, &[0, 9]), Irq::raw(&[0, 9]));
        assert_eq!(Irq::decode(SpecFormat::Gic, &[0, 9, 4, 0]), Irq::Spi(9));
        assert_eq!(
            Irq::decode(SpecFormat::Other, &[0, 9, 4]),
            Irq::raw(&[0, 9, 4])
        );
    }

    #[test]
    fn display() {
        assert_eq!(Irq::Spi(1).to_string(), "SPI 1 (INTID 33)");
        assert_eq!(Irq::raw(&[1, 29]).to_string(), "raw <0x1 0x1d>");
    }

    #[test]
    fn formats_from_compatible() {
        assert_eq!(spec_format(b"arm,gic-400\0"), SpecFormat::Gic);
        assert_eq!(spec_format(b"fsl,imx8mq-gpc\0"), SpecFormat::GicStacked);
        assert_eq!(
            spec_format(b"nvidia,tegra20-ictlr\0"),
            SpecFormat::GicStacked
        );
        assert_eq!(spec_format(b"brcm,bcm2836-l1-intc\0"), SpecFormat::Other);
    }
}
