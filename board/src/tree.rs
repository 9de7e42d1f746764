//! Tree navigation on top of `fdt` 0.1.5, after [`crate::validate`] has
//! proved the blob safe for it.
//!
//! We use `fdt` for what it does well (finding the root, iterating children
//! and properties without copying) and keep everything else on our side:
//! a depth-first walk with an explicit, fixed-size ancestor stack (no
//! recursion, no heap), so each visited node sees the `#address-cells`,
//! `#size-cells`, `ranges` and interrupt parent of its ancestors. Property
//! values are decoded by [`crate::cells`], never by `fdt`'s helpers (its
//! `reg()`, `cell_sizes()`, `compatible().first()` and `interrupts()` panic
//! or give wrong answers on real trees).

use fdt::Fdt;
use fdt::node::FdtNode;

use crate::cells::{self, PhysRange, RegIter};
use crate::error::DtError;
use crate::header::HeaderInfo;
use crate::validate::{self, Layout, MAX_DEPTH};

/// A validated blob, ready for walking.
#[derive(Clone, Copy)]
pub(crate) struct Tree<'a> {
    fdt: Fdt<'a>,
    pub blob: &'a [u8],
    pub header: HeaderInfo,
    pub layout: Layout,
}

impl<'a> Tree<'a> {
    /// Validate `dtb` and wrap it.
    pub(crate) fn open(dtb: &'a [u8]) -> Result<Self, DtError> {
        let (header, layout, _) = validate::validate(dtb)?;
        let data = dtb.get(..layout.totalsize).ok_or(DtError::Truncated {
            totalsize: header.totalsize,
            available: dtb.len(),
        })?;
        let fdt = Fdt::new(data).map_err(|e| match e {
            fdt::FdtError::BadMagic => DtError::BadMagic(header::magic_of(data)),
            _ => DtError::Truncated {
                totalsize: header.totalsize,
                available: dtb.len(),
            },
        })?;
        Ok(Self {
            fdt,
            blob: data,
            header,
            layout,
        })
    }

    /// Depth-first walk over every node. `f` sees each node with its
    /// ancestors and decides whether to descend.
    pub(crate) fn walk<'b, F>(&'b self, mut f: F)
    where
        F: FnMut(&Visit<'_, 'b, 'a>) -> Flow,
    {
        let Some(root) = self.fdt.all_nodes().next() else {
            return;
        };
        let mut levels: heapless::Vec<Level<'a>, MAX_DEPTH> = heapless::Vec::new();
        let root_props = NodeProps::parse(root);
        let root_irq_parent = match root_props.interrupt_parent {
            Some(ph) => IrqSrc::Phandle(ph),
            None => IrqSrc::None,
        };
        let visit = Visit {
            node: root,
            name: "",
            depth: 0,
            props: &root_props,
            ancestors: &levels,
            irq_parent: root_irq_parent,
        };
        if f(&visit) != Flow::Continue {
            return;
        }
        if levels
            .push(Level::new("", &root_props, root_irq_parent))
            .is_err()
        {
            return;
        }
        let mut iters = heapless::Vec::<_, MAX_DEPTH>::new();
        if iters.push(root.children()).is_err() {
            return;
        }
        while let Some(children) = iters.last_mut() {
            let Some(child) = children.next() else {
                iters.pop();
                levels.pop();
                continue;
            };
            let props = NodeProps::parse(child);
            let irq_parent = match (props.interrupt_parent, levels.last()) {
                (Some(ph), _) => IrqSrc::Phandle(ph),
                (None, Some(parent)) => match parent.controller {
                    Some(c) => IrqSrc::Node(c),
                    None => parent.irq_parent,
                },
                (None, None) => IrqSrc::None,
            };
            let visit = Visit {
                node: child,
                name: child.name,
                depth: levels.len(),
                props: &props,
                ancestors: &levels,
                irq_parent,
            };
            match f(&visit) {
                Flow::Stop => return,
                Flow::Continue => {
                    // Validation bounds the depth, so these pushes only fail
                    // on a tree that validation would have rejected.
                    if !levels.is_full() && !iters.is_full() {
                        let _ = levels.push(Level::new(child.name, &props, irq_parent));
                        let _ = iters.push(child.children());
                    }
                }
            }
        }
    }
}

/// What the walk should do after visiting a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Visit this node's children next.
    Continue,
    /// End the walk.
    Stop,
}

/// How a controller's interrupt specifiers are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpecFormat {
    /// ARM GIC: `<type number flags>`.
    Gic,
    /// A controller stacked in front of the GIC (i.MX GPC, Tegra ICTLR, TI
    /// WUGEN) that passes GIC-format specifiers through.
    GicStacked,
    /// Anything else: kept raw.
    Other,
}

/// A node with `#interrupt-cells`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Controller {
    pub cells: u32,
    pub format: SpecFormat,
}

/// Where a node's interrupts go, as far as the walk can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IrqSrc {
    None,
    /// An `interrupt-parent` phandle (own or inherited).
    Phandle(u32),
    /// An ancestor that is itself an interrupt controller.
    Node(Controller),
}

/// The properties of one node that the walk and discovery care about,
/// gathered in a single pass over the node's properties.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NodeProps<'a> {
    pub compatible: &'a [u8],
    pub status: Option<&'a [u8]>,
    pub device_type: &'a [u8],
    pub reg: Option<&'a [u8]>,
    pub ranges: Option<&'a [u8]>,
    pub address_cells: Option<u32>,
    pub size_cells: Option<u32>,
    pub interrupt_parent: Option<u32>,
    pub interrupts: Option<&'a [u8]>,
    pub interrupts_extended: Option<&'a [u8]>,
    pub interrupt_cells: Option<u32>,
    pub phandle: Option<u32>,
}

impl<'a> NodeProps<'a> {
    pub(crate) fn parse(node: FdtNode<'_, 'a>) -> Self {
        let mut p = NodeProps::default();
        for prop in node.properties() {
            let v = prop.value;
            match prop.name {
                "compatible" => p.compatible = v,
                "status" => p.status = Some(v),
                "device_type" => p.device_type = v,
                "reg" => p.reg = Some(v),
                "ranges" => p.ranges = Some(v),
                "#address-cells" => p.address_cells = cells::prop_u32(v),
                "#size-cells" => p.size_cells = cells::prop_u32(v),
                "interrupt-parent" => p.interrupt_parent = cells::prop_u32(v),
                "interrupts" => p.interrupts = Some(v),
                "interrupts-extended" => p.interrupts_extended = Some(v),
                "#interrupt-cells" => p.interrupt_cells = cells::prop_u32(v),
                "phandle" => p.phandle = cells::prop_u32(v),
                "linux,phandle" if p.phandle.is_none() => p.phandle = cells::prop_u32(v),
                _ => {}
            }
        }
        p
    }

    pub(crate) fn enabled(&self) -> bool {
        cells::status_enabled(self.status)
    }

    pub(crate) fn is_compatible(&self, compat: &str) -> bool {
        cells::list_contains(self.compatible, compat)
    }

    /// First `compatible` string, or `""`.
    pub(crate) fn first_compatible(&self) -> &'a str {
        cells::first_str(self.compatible).unwrap_or("")
    }

    pub(crate) fn device_type_is(&self, ty: &str) -> bool {
        cells::first_str(self.device_type) == Some(ty)
    }

    /// This node as an interrupt controller, if it has `#interrupt-cells`.
    pub(crate) fn controller(&self) -> Option<Controller> {
        let cells = self.interrupt_cells?;
        Some(Controller {
            cells,
            format: crate::interrupts::spec_format(self.compatible),
        })
    }
}

/// What a node passes down to its descendants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level<'a> {
    pub name: &'a str,
    /// `#address-cells` for children (default 2).
    pub address_cells: u32,
    /// `#size-cells` for children (default 1).
    pub size_cells: u32,
    /// `ranges`: `None` when absent (children are not memory-mapped),
    /// empty for an identity mapping.
    pub ranges: Option<&'a [u8]>,
    /// Set when this node is an interrupt controller.
    pub controller: Option<Controller>,
    /// This node's own effective interrupt parent.
    pub irq_parent: IrqSrc,
}

impl<'a> Level<'a> {
    fn new(name: &'a str, props: &NodeProps<'a>, irq_parent: IrqSrc) -> Self {
        Self {
            name,
            address_cells: props.address_cells.unwrap_or(2),
            size_cells: props.size_cells.unwrap_or(1),
            ranges: props.ranges,
            controller: props.controller(),
            irq_parent,
        }
    }
}

/// The view of one node during a walk.
pub(crate) struct Visit<'v, 'b, 'a> {
    pub node: FdtNode<'b, 'a>,
    /// Node name with unit address (`serial@7e215040`); `""` for the root.
    pub name: &'a str,
    /// 0 for the root.
    pub depth: usize,
    pub props: &'v NodeProps<'a>,
    /// `ancestors[0]` is the root, the last entry is the parent.
    pub ancestors: &'v [Level<'a>],
    /// The effective interrupt parent of this node.
    pub irq_parent: IrqSrc,
}

impl<'a> Visit<'_, '_, 'a> {
    /// Any property by name (a second pass over this node's properties).
    pub(crate) fn prop(&self, name: &str) -> Option<&'a [u8]> {
        self.node
            .properties()
            .find(|p| p.name == name)
            .map(|p| p.value)
    }

    pub(crate) fn has_prop(&self, name: &str) -> bool {
        self.prop(name).is_some()
    }

    pub(crate) fn prop_u32(&self, name: &str) -> Option<u32> {
        self.prop(name).and_then(cells::prop_u32)
    }

    pub(crate) fn prop_str(&self, name: &str) -> Option<&'a str> {
        self.prop(name).and_then(cells::first_str)
    }

    pub(crate) fn parent(&self) -> Option<&Level<'a>> {
        self.ancestors.last()
    }

    /// Name of the parent node without unit address (`""` for the root or
    /// a root child's parent).
    pub(crate) fn parent_base_name(&self) -> &'a str {
        self.parent().map(|l| base_name(l.name)).unwrap_or("")
    }

    /// `reg` entries in CPU physical addresses: decoded with the parent's
    /// cell counts and translated through every ancestor's `ranges`.
    /// Entries that cannot be decoded or translated yield `None`.
    pub(crate) fn regs(&self) -> impl Iterator<Item = Option<PhysRange>> + '_ {
        let (ac, sc) = self
            .parent()
            .map(|p| (p.address_cells, p.size_cells))
            .unwrap_or((2, 1));
        RegIter::new(self.props.reg.unwrap_or_default(), ac, sc).map(move |entry| {
            let (addr, size) = entry?;
            let cpu = translate(self.ancestors, addr)?;
            PhysRange::new(cpu, size)
        })
    }

    /// The first `reg` entry, translated.
    pub(crate) fn first_reg(&self) -> Option<PhysRange> {
        self.regs().next().flatten()
    }
}

/// Node name without its unit address.
pub(crate) fn base_name(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// Translate `addr`, an address in the child address space of
/// `ancestors.last()`, up to the root's (CPU physical) address space.
/// A node without `ranges` on the way means "not memory-mapped": `None`.
pub(crate) fn translate(ancestors: &[Level<'_>], addr: u64) -> Option<u64> {
    let mut addr = addr;
    // Level 0 is the root: its children's addresses are CPU addresses.
    for idx in (1..ancestors.len()).rev() {
        let bus = ancestors.get(idx)?;
        let up = ancestors.get(idx.checked_sub(1)?)?;
        let ranges = bus.ranges?;
        if ranges.is_empty() {
            continue;
        }
        addr = map_through(
            ranges,
            bus.address_cells,
            up.address_cells,
            bus.size_cells,
            addr,
        )?;
    }
    Some(addr)
}

/// Apply one `ranges` property to `addr`.
fn map_through(
    ranges: &[u8],
    child_cells: u32,
    parent_cells: u32,
    size_cells: u32,
    addr: u64,
) -> Option<u64> {
    let cl = cells::cells_len(child_cells)?;
    let pl = cells::cells_len(parent_cells)?;
    let sl = cells::cells_len(size_cells)?;
    let entry = cl.checked_add(pl)?.checked_add(sl)?;
    if entry == 0 {
        return None;
    }
    for chunk in ranges.chunks_exact(entry) {
        let child = chunk.get(..cl).and_then(cells::decode_cells);
        let parent = chunk
            .get(cl..cl.checked_add(pl)?)
            .and_then(cells::decode_cells);
        let size = chunk
            .get(cl.checked_add(pl)?..)
            .and_then(cells::decode_cells);
        let (Some(child), Some(parent), Some(size)) = (child, parent, size) else {
            continue;
        };
        if let Some(offset) = addr.checked_sub(child)
            && offset < size
        {
            return parent.checked_add(offset);
        }
    }
    None
}

mod header {
    /// The magic word of a blob that `fdt` rejected (for the error message).
    pub(super) fn magic_of(data: &[u8]) -> u32 {
        crate::cells::be32(data, 0).unwrap_or(0)
    }
}
