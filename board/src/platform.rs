//! [`discover`]: the whole-platform summary in two walks.
//!
//! Walk 1 builds the phandle index (interrupt controllers, fixed clocks)
//! and reads the root, `/chosen` and `/aliases`. With `stdout-path`
//! resolved to a path, walk 2 visits every node once and fills
//! [`Platform`]. All lists are fixed-capacity; overflow is reported as an
//! [`Unsupported::TooMany`] note, never a panic or an error.

use crate::cells::{self, PhysRange};
use crate::chosen::{self, Chosen, Uart, UartKind, split_stdout};
use crate::cpus::{self, Cpu, EnableMethod, Psci, PsciNode};
use crate::error::DtError;
use crate::header::HeaderInfo;
use crate::interrupts::{self, GIC_V2, GIC_V3, Index, InterruptController, Irq, Timer};
use crate::memory::{self, MEMRESERVE, Reservation};
use crate::notes::Unsupported;
use crate::tree::{Flow, SpecFormat, Tree, Visit, base_name};
use crate::validate::MAX_DEPTH;

/// Capacity of [`Platform::memory`] (after merging).
pub const MAX_MEMORY_RANGES: usize = 32;
/// Capacity of [`Platform::reservations`] (Qualcomm trees have ~40).
pub const MAX_RESERVATIONS: usize = 64;
/// Capacity of [`Platform::uarts`].
pub const MAX_UARTS: usize = 16;
/// Capacity of [`Platform::cpus`].
pub const MAX_CPUS: usize = 16;
/// Capacity of [`Platform::virtio_mmio`] (QEMU virt always has 32).
pub const MAX_VIRTIO: usize = 32;
/// Capacity of [`Platform::framebuffers`].
pub const MAX_FRAMEBUFFERS: usize = 4;
/// Capacity of [`Platform::unsupported`]; the last slot is kept for a
/// "too many notes" note.
pub const MAX_NOTES: usize = 16;

/// A virtio-mmio transport (`virtio,mmio`, enabled). The device type is
/// read from the transport's registers, not from the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmio {
    /// The transport's registers.
    pub regs: PhysRange,
    /// Its interrupt.
    pub irq: Option<Irq>,
}

/// A `simple-framebuffer` node (anywhere, including `/chosen`). The boot
/// loader usually fills in `reg`/`width`/`height`/`stride`/`format` and sets
/// `status = "okay"` when it has set up a display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleFramebuffer<'a> {
    /// Node name (`framebuffer-lcd`).
    pub name: &'a str,
    /// First `compatible` string.
    pub compatible: &'a str,
    /// Framebuffer memory.
    pub reg: Option<PhysRange>,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Bytes per line.
    pub stride: Option<u32>,
    /// Pixel format (`a8r8g8b8`, `r5g6b5`...).
    pub format: Option<&'a str>,
    /// `status` is okay or absent.
    pub enabled: bool,
}

/// Everything the kernel and `dt-info` need to know about the machine.
/// Strings borrow from the blob. `Display` gives the `dt-info` summary and
/// [`crate::json::write_json`] the same data as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform<'a> {
    /// The FDT header.
    pub header: HeaderInfo,
    /// Root `model`, `""` if absent.
    pub model: &'a str,
    /// First root `compatible`, `""` if absent.
    pub compatible: &'a str,
    /// Usable RAM: enabled memory nodes, sorted by start and merged.
    /// Reservations are not subtracted.
    pub memory: heapless::Vec<PhysRange, MAX_MEMORY_RANGES>,
    /// `/memreserve/` entries, then `/reserved-memory` children.
    pub reservations: heapless::Vec<Reservation<'a>, MAX_RESERVATIONS>,
    /// `/chosen`.
    pub chosen: Chosen<'a>,
    /// The UART `stdout-path` names.
    pub console: Option<Uart<'a>>,
    /// Every UART-looking node, enabled or not, in tree order.
    pub uarts: heapless::Vec<Uart<'a>, MAX_UARTS>,
    /// The root interrupt controller (see [`InterruptController`]).
    pub interrupt_controller: Option<InterruptController<'a>>,
    /// The ARM generic timer.
    pub timer: Option<Timer<'a>>,
    /// Enabled CPUs, in tree order.
    pub cpus: heapless::Vec<Cpu<'a>, MAX_CPUS>,
    /// PSCI, if there is a usable node.
    pub psci: Option<Psci<'a>>,
    /// virtio-mmio transports, in tree order.
    pub virtio_mmio: heapless::Vec<VirtioMmio, MAX_VIRTIO>,
    /// simple-framebuffer nodes.
    pub framebuffers: heapless::Vec<SimpleFramebuffer<'a>, MAX_FRAMEBUFFERS>,
    /// What was found but is not supported.
    pub unsupported: heapless::Vec<Unsupported<'a>, MAX_NOTES>,
}

impl Default for Platform<'_> {
    fn default() -> Self {
        Self::new()
    }
}

const EMPTY_HEADER: HeaderInfo = HeaderInfo {
    totalsize: 0,
    off_dt_struct: 0,
    off_dt_strings: 0,
    off_mem_rsvmap: 0,
    version: 0,
    last_comp_version: 0,
    boot_cpuid_phys: 0,
    size_dt_strings: 0,
    size_dt_struct: None,
};

impl<'a> Platform<'a> {
    /// An empty platform (all lists empty, nothing found). `const`, so it
    /// can initialise a `static` for [`discover_into`].
    pub const fn new() -> Self {
        Platform {
            header: EMPTY_HEADER,
            model: "",
            compatible: "",
            memory: heapless::Vec::new(),
            reservations: heapless::Vec::new(),
            chosen: Chosen {
                bootargs: None,
                stdout_path: None,
                initrd: None,
                rng_seed: None,
                kaslr_seed: None,
            },
            console: None,
            uarts: heapless::Vec::new(),
            interrupt_controller: None,
            timer: None,
            cpus: heapless::Vec::new(),
            psci: None,
            virtio_mmio: heapless::Vec::new(),
            framebuffers: heapless::Vec::new(),
            unsupported: heapless::Vec::new(),
        }
    }

    /// Empty every field in place (no 9 KiB temporary on the stack, which
    /// matters in unoptimised kernel builds).
    fn reset(&mut self) {
        self.header = EMPTY_HEADER;
        self.model = "";
        self.compatible = "";
        self.memory.clear();
        self.reservations.clear();
        self.chosen = Chosen::default();
        self.console = None;
        self.uarts.clear();
        self.interrupt_controller = None;
        self.timer = None;
        self.cpus.clear();
        self.psci = None;
        self.virtio_mmio.clear();
        self.framebuffers.clear();
        self.unsupported.clear();
    }

    /// Total usable RAM in bytes (saturating).
    pub fn total_memory(&self) -> u64 {
        memory::total(&self.memory)
    }

    /// Record a note once; the last slot is reserved for an overflow note.
    pub(crate) fn note(&mut self, n: Unsupported<'a>) {
        if self.unsupported.contains(&n) {
            return;
        }
        let used = self.unsupported.len().saturating_add(1);
        if used < MAX_NOTES {
            let _ = self.unsupported.push(n);
        } else if used == MAX_NOTES {
            let _ = self.unsupported.push(Unsupported::TooMany {
                what: "unsupported notes",
                limit: MAX_NOTES.saturating_sub(1),
            });
        }
    }

    fn too_many(&mut self, what: &'static str, limit: usize) {
        self.note(Unsupported::TooMany { what, limit });
    }
}

/// Read the whole platform summary from a DTB.
///
/// `dtb` must hold at least `totalsize` bytes (check the header first with
/// [`crate::header::check`]). Returns an error only when the blob itself is
/// unusable; missing or odd nodes show up as `None`, empty lists and
/// [`Unsupported`] notes. Never panics and allocates nothing. The returned
/// `Platform` is about 9 KiB; a kernel short of stack should use
/// [`discover_into`] with a `static` instead.
pub fn discover(dtb: &[u8]) -> Result<Platform<'_>, DtError> {
    let mut p = Platform::new();
    discover_into(dtb, &mut p)?;
    Ok(p)
}

/// [`discover`] into caller-provided storage, for a kernel that keeps the
/// `Platform` (about 9 KiB) in a `static` instead of on its boot stack.
/// `out` is reset first; on error it is left empty.
pub fn discover_into<'a>(dtb: &'a [u8], out: &mut Platform<'a>) -> Result<(), DtError> {
    out.reset();
    let tree = Tree::open(dtb)?;
    let p = out;
    p.header = tree.header;

    // Walk 1: phandle index, root, /chosen, /aliases.
    let mut aliases = None;
    let mut chosen_seen = false;
    let index = Index::build(&tree, |v| {
        if v.depth == 0 {
            p.model = v.prop_str("model").unwrap_or("");
            p.compatible = v.props.first_compatible();
        } else if v.depth == 1 {
            match base_name(v.name) {
                "chosen" if !chosen_seen => {
                    chosen_seen = true;
                    p.chosen = Chosen::from_visit(v);
                }
                "aliases" if aliases.is_none() => aliases = Some(v.node),
                _ => {}
            }
        }
    });

    // /memreserve/ entries come first in the reservation list.
    for entry in memory::memreserve_entries(tree.blob, tree.layout) {
        let Some(range) = entry else {
            p.note(Unsupported::UndecodableReg { node: MEMRESERVE });
            continue;
        };
        let r = Reservation {
            name: MEMRESERVE,
            range: Some(range),
            size: range.size,
            no_map: false,
            reusable: false,
        };
        if p.reservations.push(r).is_err() {
            p.too_many("reservations", MAX_RESERVATIONS);
            break;
        }
    }

    // Resolve stdout-path to a full path.
    let stdout = p.chosen.stdout_path.map(split_stdout);
    let console_path: Option<&str> = stdout.and_then(|s| {
        if s.path.starts_with('/') {
            return Some(s.path);
        }
        let node = aliases?;
        node.properties()
            .find(|prop| prop.name == s.path)
            .and_then(|prop| cells::first_str(prop.value))
            .filter(|path| path.starts_with('/'))
    });
    let components = console_path
        .map(|path| path.split('/').filter(|c| !c.is_empty()).count())
        .unwrap_or(0);
    let component =
        |i: usize| console_path.and_then(|path| path.split('/').filter(|c| !c.is_empty()).nth(i));
    let baud = stdout.and_then(|s| s.baud);

    let (root_ctrl, stacked) = index.root_controller(&tree);
    let mut path_match = [false; MAX_DEPTH + 1];
    if let Some(m) = path_match.first_mut() {
        *m = true;
    }
    let mut console_seen = false;
    let mut bcm_local: Option<PhysRange> = None;
    let mut first_gic: Option<InterruptController<'_>> = None;
    let mut stacked_compat: Option<&str> = None;

    // Walk 2: everything else.
    tree.walk(|v| {
        // Console path matching, one component per depth.
        if v.depth > 0 && components > 0 {
            let parent_ok = v
                .depth
                .checked_sub(1)
                .and_then(|d| path_match.get(d))
                .copied()
                .unwrap_or(false);
            let here = parent_ok
                && v.depth
                    .checked_sub(1)
                    .and_then(component)
                    .is_some_and(|c| chosen::component_matches(c, v.name));
            if let Some(slot) = path_match.get_mut(v.depth) {
                *slot = here;
            }
            if here && v.depth == components && !console_seen {
                console_seen = true;
                match chosen::uart_from_visit(&tree, &index, v, baud) {
                    Some(u) => {
                        if u.kind == UartKind::Unsupported {
                            p.note(Unsupported::UartKind {
                                compatible: u.compatible,
                            });
                        }
                        p.console = Some(u);
                    }
                    None => {
                        if let Some(raw) = p.chosen.stdout_path {
                            p.note(Unsupported::ConsoleNotFound { stdout_path: raw });
                        }
                    }
                }
            }
        }
        visit_node(
            &tree,
            &index,
            p,
            v,
            root_ctrl,
            stacked,
            &mut bcm_local,
            &mut first_gic,
            &mut stacked_compat,
        );
        Flow::Continue
    });

    if let (Some(raw), false) = (p.chosen.stdout_path, console_seen) {
        p.note(Unsupported::ConsoleNotFound { stdout_path: raw });
    }
    if p.interrupt_controller.is_none() && root_ctrl.is_none() {
        p.interrupt_controller = first_gic;
    }
    if let Some(InterruptController::Bcm2836 { local, .. }) = p.interrupt_controller.as_mut() {
        *local = bcm_local;
    }
    match p.interrupt_controller {
        Some(InterruptController::Bcm2836 { .. }) => p.note(Unsupported::InterruptController {
            compatible: "brcm,bcm2836-armctrl-ic",
        }),
        Some(InterruptController::Unsupported { compatible }) => {
            p.note(Unsupported::InterruptController { compatible })
        }
        _ => {}
    }
    if let Some(compatible) = stacked_compat {
        p.note(Unsupported::StackedInterruptController { compatible });
    }
    let wants_psci = p.cpus.iter().any(|c| c.enable_method == EnableMethod::Psci);
    let bad_method = p
        .unsupported
        .iter()
        .any(|n| matches!(n, Unsupported::PsciMethod { .. }));
    if wants_psci && p.psci.is_none() && !bad_method {
        p.note(Unsupported::PsciMissing);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn visit_node<'a>(
    tree: &Tree<'a>,
    index: &Index,
    p: &mut Platform<'a>,
    v: &Visit<'_, '_, 'a>,
    root_ctrl: Option<u32>,
    stacked: Option<u32>,
    bcm_local: &mut Option<PhysRange>,
    first_gic: &mut Option<InterruptController<'a>>,
    stacked_compat: &mut Option<&'a str>,
) {
    let props = v.props;

    if props.device_type_is("memory") {
        if !props.enabled() {
            p.note(Unsupported::DisabledMemory { node: v.name });
        } else {
            let mut entries = 0usize;
            for entry in v.regs() {
                entries = entries.saturating_add(1);
                match entry {
                    Some(range) => {
                        if !memory::add_range(&mut p.memory, range) {
                            p.too_many("memory ranges", MAX_MEMORY_RANGES);
                        }
                    }
                    None => p.note(Unsupported::UndecodableReg { node: v.name }),
                }
            }
            // A `reg` too short for one entry, or with cell counts we cannot
            // decode, yields no entries at all.
            if entries == 0 && props.reg.is_some_and(|r| !r.is_empty()) {
                p.note(Unsupported::UndecodableReg { node: v.name });
            }
        }
    }

    if v.depth == 2 && v.parent_base_name() == "reserved-memory" && props.enabled() {
        let mut full = false;
        memory::reserved_memory_child(v, |r| {
            if p.reservations.push(r).is_err() {
                full = true;
                return false;
            }
            true
        });
        if full {
            p.too_many("reservations", MAX_RESERVATIONS);
        }
    }

    if v.depth == 1
        && base_name(v.name) == "cpus"
        && let Some(method) = v.prop_str("enable-method")
    {
        p.note(Unsupported::CpusEnableMethod { method });
    }
    if v.depth == 2
        && v.parent_base_name() == "cpus"
        && let Some(cpu) = cpus::cpu_from_visit(v)
    {
        if let EnableMethod::Other(method) = cpu.enable_method {
            p.note(Unsupported::CpuEnableMethod { method });
        }
        if p.cpus.push(cpu).is_err() {
            p.too_many("CPUs", MAX_CPUS);
        }
    }

    if props.compatible.is_empty() {
        return;
    }

    if p.psci.is_none() {
        match cpus::psci_from_visit(v) {
            Some(PsciNode::Found(psci)) => p.psci = Some(psci),
            Some(PsciNode::BadMethod(method)) => p.note(Unsupported::PsciMethod { method }),
            None => {}
        }
    }

    if p.timer.is_none()
        && props.enabled()
        && (props.is_compatible("arm,armv8-timer") || props.is_compatible("arm,armv7-timer"))
    {
        let mut irqs = [None; 4];
        let mut slots = irqs.iter_mut();
        interrupts::for_each_irq(tree, index, props, v.irq_parent, |irq| match slots.next() {
            Some(slot) => {
                *slot = Some(irq);
                true
            }
            None => false,
        });
        let [secure_phys, nonsecure_phys, virt, hyp] = irqs;
        p.timer = Some(Timer {
            compatible: props.first_compatible(),
            secure_phys,
            nonsecure_phys,
            virt,
            hyp,
            always_on: v.has_prop("always-on"),
            frequency_hz: v.prop_u32("clock-frequency"),
        });
    }

    if props.is_compatible("virtio,mmio")
        && props.enabled()
        && let Some(regs) = v.first_reg()
    {
        let irq = first_irq(tree, index, v);
        if p.virtio_mmio.push(VirtioMmio { regs, irq }).is_err() {
            p.too_many("virtio-mmio transports", MAX_VIRTIO);
        }
    }

    if props.is_compatible("simple-framebuffer") {
        let fb = SimpleFramebuffer {
            name: v.name,
            compatible: props.first_compatible(),
            reg: v.first_reg(),
            width: v.prop_u32("width"),
            height: v.prop_u32("height"),
            stride: v.prop_u32("stride"),
            format: v.prop_str("format"),
            enabled: props.enabled(),
        };
        if p.framebuffers.push(fb).is_err() {
            p.too_many("framebuffers", MAX_FRAMEBUFFERS);
        }
    }

    if chosen::is_uart(v)
        && let Some(u) = chosen::uart_from_visit(tree, index, v, None)
    {
        if u.kind == UartKind::Unsupported {
            p.note(Unsupported::UartKind {
                compatible: u.compatible,
            });
        }
        if p.uarts.push(u).is_err() {
            p.too_many("UARTs", MAX_UARTS);
        }
    }

    if props.is_compatible("brcm,bcm2836-l1-intc") && bcm_local.is_none() {
        *bcm_local = v.first_reg();
    }
    if props.phandle.is_some() && props.phandle == stacked && stacked_compat.is_none() {
        *stacked_compat = Some(props.first_compatible());
    }
    let is_root_ctrl = props.phandle.is_some() && props.phandle == root_ctrl;
    if is_root_ctrl && p.interrupt_controller.is_none() {
        let (ctrl, bad_reg) = controller_from_visit(p, v);
        if bad_reg {
            p.note(Unsupported::UndecodableReg { node: v.name });
        }
        p.interrupt_controller = Some(ctrl);
    } else if root_ctrl.is_none()
        && first_gic.is_none()
        && v.has_prop("interrupt-controller")
        && interrupts::spec_format(props.compatible) == SpecFormat::Gic
    {
        let (ctrl, _) = controller_from_visit(p, v);
        *first_gic = Some(ctrl);
    }
}

fn first_irq(tree: &Tree<'_>, index: &Index, v: &Visit<'_, '_, '_>) -> Option<Irq> {
    let mut irq = None;
    interrupts::for_each_irq(tree, index, v.props, v.irq_parent, |i| {
        irq = Some(i);
        false
    });
    irq
}

/// Build the controller description; the flag says a GIC's `reg` was bad.
fn controller_from_visit<'a>(
    p: &mut Platform<'a>,
    v: &Visit<'_, '_, 'a>,
) -> (InterruptController<'a>, bool) {
    let props = v.props;
    let compatible = props.first_compatible();
    let unsupported = InterruptController::Unsupported { compatible };
    if cells::str_list(props.compatible).any(|c| GIC_V3.contains(&c)) {
        let mut regs = v.regs();
        let Some(Some(distributor)) = regs.next() else {
            return (unsupported, true);
        };
        let wanted = v.prop_u32("#redistributor-regions").unwrap_or(1);
        let mut redistributors = heapless::Vec::new();
        let mut truncated = false;
        for r in regs
            .take(usize::try_from(wanted).unwrap_or(usize::MAX))
            .flatten()
        {
            if redistributors.push(r).is_err() {
                truncated = true;
                break;
            }
        }
        if truncated {
            p.too_many("GICv3 redistributor regions", 4);
        }
        if redistributors.is_empty() {
            return (unsupported, true);
        }
        return (
            InterruptController::GicV3 {
                distributor,
                redistributors,
            },
            false,
        );
    }
    if cells::str_list(props.compatible).any(|c| GIC_V2.contains(&c)) {
        let mut regs = v.regs();
        return match (regs.next().flatten(), regs.next().flatten()) {
            (Some(distributor), Some(cpu_interface)) => (
                InterruptController::GicV2 {
                    compatible,
                    distributor,
                    cpu_interface,
                },
                false,
            ),
            _ => (unsupported, true),
        };
    }
    if props.is_compatible("brcm,bcm2836-armctrl-ic")
        && let Some(armctrl) = v.first_reg()
    {
        return (
            InterruptController::Bcm2836 {
                armctrl,
                local: None,
            },
            false,
        );
    }
    (unsupported, false)
}
