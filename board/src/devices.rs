//! Devices by `compatible` string, for the userland init task.
//!
//! ```
//! # let dtb = include_bytes!("../dtbs/virt-a53-smp2-512m.dtb");
//! let transports = nimbus_board::devices::find_compatible(dtb, "virtio,mmio")?;
//! for dev in transports {
//!     let regs = dev.regs.first().unwrap();
//!     assert_eq!(regs.size, 0x200);
//! }
//! # Ok::<(), nimbus_board::DtError>(())
//! ```
//!
//! The blob is validated once by [`find_compatible`]; the iterator then
//! walks it in batches of [`BATCH`] matches, so it needs no heap and keeps
//! only a small fixed buffer (the walk itself cannot be suspended because
//! `fdt` 0.1.5 node handles borrow the parser).

use crate::cells::{self, PhysRange};
use crate::error::DtError;
use crate::interrupts::{self, Index, Irq};
use crate::tree::{Flow, Tree, Visit};

/// Matches collected per walk of the tree.
pub const BATCH: usize = 16;

/// One node whose `compatible` list contains the requested string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device<'a> {
    /// Node name with unit address (`virtio_mmio@a000000`).
    pub name: &'a str,
    /// First `compatible` string (the most specific one).
    pub compatible: &'a str,
    /// `reg` entries translated to CPU physical addresses through every
    /// ancestor's `ranges`. Entries that are not memory-mapped (I2C/SPI
    /// addresses, buses without `ranges`) are left out; at most 4.
    pub regs: heapless::Vec<PhysRange, 4>,
    /// Interrupts (`interrupts-extended` or `interrupts`), at most 4.
    pub irqs: heapless::Vec<Irq, 4>,
    /// `status` is okay or absent.
    pub enabled: bool,
}

/// Iterator returned by [`find_compatible`].
pub struct Devices<'a, 'c> {
    tree: Tree<'a>,
    index: Index,
    compatible: &'c str,
    /// Tree-order number of the first node not yet examined.
    next_node: usize,
    /// Matches found by the last walk, in reverse order (popped from the end).
    pending: heapless::Vec<Device<'a>, BATCH>,
    exhausted: bool,
}

/// Every node whose `compatible` list contains `compatible`, in tree order.
/// Disabled nodes are included (check [`Device::enabled`]). Fails only if
/// the blob is unusable.
pub fn find_compatible<'a, 'c>(
    dtb: &'a [u8],
    compatible: &'c str,
) -> Result<Devices<'a, 'c>, DtError> {
    let tree = Tree::open(dtb)?;
    let index = Index::build(&tree, |_| {});
    Ok(Devices {
        tree,
        index,
        compatible,
        next_node: 0,
        pending: heapless::Vec::new(),
        exhausted: false,
    })
}

impl<'a> Devices<'a, '_> {
    fn refill(&mut self) {
        let mut ordinal = 0usize;
        let mut last_taken = None;
        let mut complete = true;
        let tree = &self.tree;
        let index = &self.index;
        let compatible = self.compatible;
        let start = self.next_node;
        let pending = &mut self.pending;
        tree.walk(|v| {
            let n = ordinal;
            ordinal = ordinal.saturating_add(1);
            if n < start || !cells::list_contains(v.props.compatible, compatible) {
                return Flow::Continue;
            }
            if pending.is_full() {
                // There is at least one more match: walk again later.
                complete = false;
                return Flow::Stop;
            }
            let _ = pending.push(device_from_visit(tree, index, v));
            last_taken = Some(n);
            Flow::Continue
        });
        self.next_node = last_taken.map_or(usize::MAX, |n| n.saturating_add(1));
        self.exhausted = complete;
        self.pending.reverse();
    }
}

impl<'a> Iterator for Devices<'a, '_> {
    type Item = Device<'a>;

    fn next(&mut self) -> Option<Device<'a>> {
        if self.pending.is_empty() && !self.exhausted {
            self.refill();
        }
        self.pending.pop()
    }
}

fn device_from_visit<'a>(tree: &Tree<'a>, index: &Index, v: &Visit<'_, '_, 'a>) -> Device<'a> {
    let mut regs = heapless::Vec::new();
    for r in v.regs().flatten() {
        if regs.push(r).is_err() {
            break;
        }
    }
    let mut irqs = heapless::Vec::new();
    interrupts::for_each_irq(tree, index, v.props, v.irq_parent, |irq| {
        irqs.push(irq).is_ok()
    });
    Device {
        name: v.name,
        compatible: v.props.first_compatible(),
        regs,
        irqs,
        enabled: v.props.enabled(),
    }
}
