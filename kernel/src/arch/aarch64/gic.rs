//! The Arm Generic Interrupt Controller, versions 2 and 3, through the arm-gic crate.
//!
//! Configuration (enabling, routing, priorities) goes through arm-gic under one lock. The hot
//! path — acknowledging, ending and sending interrupts — does not take it: on GICv3 those are
//! system registers, and on GICv2 they are banked CPU-interface registers (plus one write-only
//! distributor register for SGIs), which every CPU may access concurrently.

use crate::mm::kspace;
use crate::sync::Mutex;
use arm_gic::gicv2::GicV2;
use arm_gic::gicv2::registers::{Gicc, Gicd as GicdV2};
use arm_gic::gicv3::registers::{Gicd as GicdV3, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, Trigger, UniqueMmioPointer};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};
use nimbus_board::InterruptController;
use nimbus_kcore::ranges::Range;
use nimbus_uart::mmio::Mmio;
use spin::Once;

/// Default priority of every interrupt the kernel enables (lower is more urgent).
const DEFAULT_PRIORITY: u8 = 0x80;
/// GICv2 CPU interface: interrupt acknowledge and end of interrupt.
const GICC_IAR: usize = 0x0c;
const GICC_EOIR: usize = 0x10;
/// GICv2 distributor: software generated interrupt register and the banked target register.
const GICD_SGIR: usize = 0xf00;
const GICD_ITARGETSR0: usize = 0x800;
/// INTIDs at or above this are special (1023 = spurious).
const SPECIAL_INTID: u32 = 1020;

/// Why the GIC could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// Not a GICv2 or GICv3.
    Unsupported,
    /// Its registers could not be mapped.
    Map(kspace::KspaceError),
    /// The crate rejected the redistributor layout.
    Redistributor,
}

enum Driver {
    V2(GicV2<'static>),
    V3(GicV3<'static>),
}

// SAFETY: the driver holds pointers to device registers mapped for the life of the kernel and
// is only used under the mutex below.
unsafe impl Send for Driver {}

enum FastPath {
    V2 { dist: Mmio, cpu: Mmio },
    V3,
}

static DRIVER: Mutex<Option<Driver>> = Mutex::new(None);
static FAST: Once<FastPath> = Once::new();
/// GICv2 CPU interface number of each CPU (read from the banked ITARGETSR0 on that CPU).
static V2_CPU_TARGET: [AtomicU8; crate::smp::MAX_CPUS] =
    [const { AtomicU8::new(0) }; crate::smp::MAX_CPUS];

fn map(range: &nimbus_board::PhysRange) -> Result<u64, GicError> {
    let range = Range::new(range.start, range.size).ok_or(GicError::Unsupported)?;
    kspace::map_device(range).map_err(GicError::Map)
}

/// Maps and initialises the distributor and this (the boot) CPU's interface.
pub fn init(controller: &InterruptController<'_>, cpu_count: usize) -> Result<(), GicError> {
    match controller {
        InterruptController::GicV2 {
            distributor,
            cpu_interface,
            ..
        } => {
            let dist = map(distributor)?;
            let cpu = map(cpu_interface)?;
            // SAFETY: both ranges were just mapped as device memory, exclusively for this driver.
            let mut gic = unsafe { GicV2::new(dist as *mut GicdV2, cpu as *mut Gicc) };
            gic.setup();
            // SAFETY: mapped above; the fast path touches only per-CPU banked registers and SGIR.
            let fast = unsafe {
                FastPath::V2 {
                    dist: Mmio::new(dist as usize),
                    cpu: Mmio::new(cpu as usize),
                }
            };
            FAST.call_once(|| fast);
            *DRIVER.lock() = Some(Driver::V2(gic));
        }
        InterruptController::GicV3 {
            distributor,
            redistributors,
        } => {
            let dist = map(distributor)?;
            let first = redistributors.first().ok_or(GicError::Redistributor)?;
            let redist = map(first)?;
            for extra in redistributors.iter().skip(1) {
                map(extra)?;
            }
            let dist = NonNull::new(dist as *mut GicdV3).ok_or(GicError::Unsupported)?;
            let redist = NonNull::new(redist as *mut GicrSgi).ok_or(GicError::Unsupported)?;
            // SAFETY: the registers were just mapped as device memory for this driver alone.
            let mut gic = unsafe { GicV3::new(UniqueMmioPointer::new(dist), redist, cpu_count) }
                .map_err(|_| GicError::Redistributor)?;
            gic.setup(0);
            GicCpuInterface::set_priority_mask(0xff);
            FAST.call_once(|| FastPath::V3);
            *DRIVER.lock() = Some(Driver::V3(gic));
        }
        _ => return Err(GicError::Unsupported),
    }
    init_cpu_interface(0);
    Ok(())
}

fn init_cpu_interface(cpu: usize) {
    match FAST.get() {
        Some(FastPath::V2 { dist, .. }) => {
            let target = dist.read32(GICD_ITARGETSR0) as u8;
            if let Some(slot) = V2_CPU_TARGET.get(cpu) {
                slot.store(target, Ordering::Relaxed);
            }
        }
        Some(FastPath::V3) | None => {}
    }
}

/// Initialises the CPU interface (and GICv3 redistributor) of a secondary CPU.
pub fn init_secondary(cpu: usize) {
    let _irqs = crate::arch::aarch64::cpu::IrqGuard::new();
    match DRIVER.lock().as_mut() {
        Some(Driver::V2(gic)) => gic.setup(),
        Some(Driver::V3(gic)) => {
            gic.init_cpu(cpu);
            GicCpuInterface::enable_group1(true);
            GicCpuInterface::set_priority_mask(0xff);
        }
        None => {}
    }
    init_cpu_interface(cpu);
}

/// Enables interrupt `intid`: a private one (SGI/PPI) on CPU `cpu`, or a shared one (SPI)
/// delivered to CPU `cpu`.
pub fn enable(intid: u32, cpu: usize, trigger_edge: bool) -> Result<(), GicError> {
    let id = IntId::try_from(intid).map_err(|_| GicError::Unsupported)?;
    let trigger = if trigger_edge {
        Trigger::Edge
    } else {
        Trigger::Level
    };
    let _irqs = crate::arch::aarch64::cpu::IrqGuard::new();
    match DRIVER.lock().as_mut() {
        Some(Driver::V2(gic)) => {
            gic.set_interrupt_priority(id, DEFAULT_PRIORITY);
            if !id.is_private() {
                gic.set_trigger(id, trigger);
                // SPI targets reset to no CPU at all. arm-gic has no call for them; byte access
                // to GICD_ITARGETSRn is architecturally allowed.
                if let Some(FastPath::V2 { dist, .. }) = FAST.get() {
                    let target = V2_CPU_TARGET
                        .get(cpu)
                        .map_or(1, |t| t.load(Ordering::Relaxed));
                    dist.write8(GICD_ITARGETSR0 + intid as usize, target);
                }
            }
            gic.enable_interrupt(id, true)
                .map_err(|_| GicError::Unsupported)
        }
        Some(Driver::V3(gic)) => {
            let private_cpu = id.is_private().then_some(cpu);
            gic.set_interrupt_priority(id, private_cpu, DEFAULT_PRIORITY)
                .map_err(|_| GicError::Unsupported)?;
            if !id.is_sgi() {
                gic.set_trigger(id, private_cpu, trigger)
                    .map_err(|_| GicError::Unsupported)?;
            }
            if !id.is_private() {
                let mpidr = crate::smp::cpu(cpu).map(|c| c.mpidr());
                gic.distributor()
                    .set_routing(id, mpidr)
                    .map_err(|_| GicError::Unsupported)?;
            }
            gic.enable_interrupt(id, private_cpu, true)
                .map_err(|_| GicError::Unsupported)
        }

        None => Err(GicError::Unsupported),
    }
}

/// Takes the highest-priority pending interrupt, if any (not a spurious one).
pub fn acknowledge() -> Option<u32> {
    let intid = match FAST.get()? {
        FastPath::V2 { cpu, .. } => cpu.read32(GICC_IAR) & 0x3ff,
        FastPath::V3 => u32::from(GicCpuInterface::get_and_acknowledge_interrupt(
            InterruptGroup::Group1,
        )?),
    };
    (intid < SPECIAL_INTID).then_some(intid)
}

/// Signals the end of handling `intid`.
pub fn end_of_interrupt(intid: u32) {
    match FAST.get() {
        Some(FastPath::V2 { cpu, .. }) => cpu.write32(GICC_EOIR, intid),
        Some(FastPath::V3) => {
            if let Ok(id) = IntId::try_from(intid) {
                GicCpuInterface::end_interrupt(id, InterruptGroup::Group1);
            }
        }
        None => {}
    }
}

/// Sends software-generated interrupt `sgi` (0..16) to CPU `cpu` whose MPIDR is `mpidr`.
pub fn send_sgi(sgi: u32, cpu: usize, mpidr: u64) {
    if sgi >= 16 {
        return;
    }
    match FAST.get() {
        Some(FastPath::V2 { dist, .. }) => {
            let target = V2_CPU_TARGET
                .get(cpu)
                .map_or(0, |t| t.load(Ordering::Relaxed));
            dist.write32(GICD_SGIR, (u32::from(target) << 16) | sgi);
        }
        Some(FastPath::V3) => {
            let target = SgiTarget::List {
                affinity3: (mpidr >> 32) as u8,
                affinity2: (mpidr >> 16) as u8,
                affinity1: (mpidr >> 8) as u8,
                target_list: 1 << (mpidr & 0xf),
            };
            let _ =
                GicCpuInterface::send_sgi(IntId::sgi(sgi), target, SgiTargetGroup::CurrentGroup1);
        }
        None => {}
    }
}

/// "GICv2" or "GICv3", for the banner.
pub fn name() -> &'static str {
    match FAST.get() {
        Some(FastPath::V2 { .. }) => "GICv2",
        Some(FastPath::V3) => "GICv3",
        None => "none",
    }
}

/// Masks (disables) interrupt `intid` at the distributor.
pub fn mask(intid: u32) {
    set_enabled(intid, false);
}

/// Unmasks (enables) interrupt `intid` at the distributor.
pub fn unmask(intid: u32) {
    set_enabled(intid, true);
}

fn set_enabled(intid: u32, enable: bool) {
    let Ok(id) = IntId::try_from(intid) else {
        return;
    };
    if id.is_private() {
        return;
    }
    let _irqs = crate::arch::aarch64::cpu::IrqGuard::new();
    match DRIVER.lock().as_mut() {
        Some(Driver::V2(gic)) => {
            let _ = gic.enable_interrupt(id, enable);
        }
        Some(Driver::V3(gic)) => {
            let _ = gic.enable_interrupt(id, None, enable);
        }
        None => {}
    }
}
