//! Kernel start-up on the boot CPU: from the device tree the loader passed to "kernel ready".
//!
//! The order is forced by what each step needs: the tree tells where the console and RAM are;
//! the kernel's own page tables need only the tree; the console needs those tables; the frame
//! allocator needs the linear map; the heap, the interrupt controller and the other CPUs need
//! frames. Every way the tree can be unusable ends in [`fatal`] with a distinct status.

use crate::arch::aarch64::{cpu, exceptions, gic, mmu};
use crate::boot_archive;
use crate::drivers::uart::Uart;
use crate::mm::kspace::{KERNEL_TEXT, KernelSpace, KspaceError, NORMAL_RO, NORMAL_RW};
use crate::mm::memmap::{self, KernelPlacement, MemmapError};
use crate::mm::{PAGE_SIZE, frames, heap, phys_to_virt, vmap};
use crate::{console, fatal, irq, klog, kprintln, smp, time};
use nimbus_board::{DtError, InterruptController, Platform, UartKind};
use nimbus_boot::arch::aarch64::{image_sections, switch_ttbr1};
use nimbus_boot::header::ImageHeader;
use nimbus_boot::layout::{DTB_MAX_SIZE, KIMAGE_BASE, USER_SPACE_END};
use nimbus_boot::status::ExitStatus;
use nimbus_kcore::ranges::{self, Range};
use spin::Once;

/// What the entry code hands over.
pub struct EntryState {
    /// x0 from the loader.
    pub dtb_pa: u64,
    /// Physical address of the image.
    pub load_pa: u64,
    /// Counter value at entry.
    pub entry_ticks: u64,
    /// Exception level at entry.
    pub entry_el: u64,
}

static PLATFORM: Once<Platform<'static>> = Once::new();
static LOAD_PA: Once<u64> = Once::new();

/// The platform description, once start-up has read it from the linear map.
pub fn platform() -> Option<&'static Platform<'static>> {
    PLATFORM.get()
}

/// Physical address the kernel image was loaded at.
#[cfg(feature = "ktest")]
pub fn load_pa() -> u64 {
    LOAD_PA.get().copied().unwrap_or(0)
}

/// Runs on the boot CPU's boot stack.
pub fn primary(entry: EntryState) -> ! {
    exceptions::install_vectors();
    time::record_entry(entry.entry_ticks);
    LOAD_PA.call_once(|| entry.load_pa);

    // The tree, through the identity map the entry code made of it.
    let dtb = early_dtb(entry.dtb_pa).unwrap_or_else(|status| fatal::stop(status));
    let early =
        nimbus_board::discover(dtb).unwrap_or_else(|_| fatal::stop(ExitStatus::BadDeviceTree));
    let Some((console_kind, console_regs)) = usable_console(&early) else {
        fatal::stop(ExitStatus::NoConsole)
    };

    // Our own tables: W^X image, linear map of RAM, the console's registers.
    let placement = KernelPlacement {
        image: Range::new(entry.load_pa, own_image_size()).unwrap_or(Range { start: 0, end: 0 }),
        dtb: Range::new(entry.dtb_pa, dtb.len() as u64).unwrap_or(Range { start: 0, end: 0 }),
    };
    let (space, console_va) =
        build_kernel_space(&early, &placement, console_regs).unwrap_or_else(|e| {
            fatal::stop(match e {
                KspaceError::BootPoolExhausted => ExitStatus::OutOfMemory,
                KspaceError::Map | KspaceError::OutOfReach(_) => ExitStatus::UnsupportedPlatform,
            })
        });
    // SAFETY: the new tables map the image, its stacks and data exactly where the entry code's
    // tables did, TTBR0 still holds the entry code's identity map, and load_pa is where we run.
    unsafe { switch_ttbr1(space.root_pa(), entry.load_pa) };
    let pool_used = space.boot_pool_used();
    space.install();
    mmu::apply_final_config();

    let Some(kind) = crate::drivers::uart_kind(&console_kind) else {
        fatal::stop(ExitStatus::NoConsole)
    };
    // SAFETY: the console's registers were mapped above for the kernel's exclusive use.
    let Some(uart) = (unsafe { Uart::new(&kind, console_va as usize) }) else {
        fatal::stop(ExitStatus::NoConsole)
    };
    console::install(uart);
    klog::init(early.chosen.bootargs);
    banner(&entry, &early);
    log::debug!("kernel tables: {pool_used} pages from the boot pool");

    check_requirements(&early);
    let memory = memmap::init(&early, &placement).unwrap_or_else(|e| match e {
        MemmapError::NoMemory => {
            crate::fatal!(ExitStatus::NoMemory, "no usable memory in the device tree")
        }
        other => crate::fatal!(
            ExitStatus::UnsupportedPlatform,
            "cannot set up physical memory: {other:?}"
        ),
    });
    if heap::init().is_none() {
        crate::fatal!(ExitStatus::OutOfMemory, "no memory for the kernel heap");
    }
    for reserved in &memory.reserved {
        log::info!("reserved {}: {}", reserved.range, reserved.owner);
    }

    // From here on the tree is read through the linear map, valid for the life of the kernel.
    // SAFETY: the blob lies in RAM (or was mapped read-only above) and is reserved, so nothing
    // writes it; `early` checked its length.
    let dtb: &'static [u8] =
        unsafe { core::slice::from_raw_parts(phys_to_virt(entry.dtb_pa) as *const u8, dtb.len()) };
    let Ok(platform) = nimbus_board::discover(dtb) else {
        fatal::stop(ExitStatus::BadDeviceTree)
    };
    let platform = PLATFORM.call_once(|| platform);

    let Some(stack) = vmap::alloc_stack(smp::KERNEL_STACK_SIZE) else {
        crate::fatal!(
            ExitStatus::OutOfMemory,
            "no memory for the boot CPU's stack"
        )
    };
    smp::init_boot_cpu(stack);
    let context = PrimaryContext {
        platform,
        memory_total: memory.total_bytes,
        load_pa: entry.load_pa,
        placement,
    };
    cpu::run_on_stack(stack.top, continue_on_own_stack, &context)
}

struct PrimaryContext {
    platform: &'static Platform<'static>,
    memory_total: u64,
    load_pa: u64,
    placement: KernelPlacement,
}

extern "C" fn continue_on_own_stack(context: &PrimaryContext) -> ! {
    let platform = context.platform;
    let footprint = image_sections().data.1 - KIMAGE_BASE;
    let appended = Range {
        start: context.load_pa + footprint,
        end: context.placement.image.end,
    };
    match boot_archive::locate(platform, appended) {
        Ok(Some(found)) => log::info!(
            "boot archive: {} files, {} KiB ({:?}, {})",
            found.archive.entries().count(),
            found.archive.len() / 1024,
            found.source,
            found.range
        ),
        Ok(None) => log::info!("boot archive: none"),
        Err(e) => crate::fatal!(ExitStatus::BadBootArchive, "{e}"),
    }

    start_interrupts(platform);
    let online = smp::start_secondaries(platform, context.load_pa);
    log::info!(
        "cpus: {online} online of {} in the device tree",
        platform.cpus.len().max(1)
    );
    let free_mib = frames::free_frames() * PAGE_SIZE / (1 << 20);
    log::info!(
        "memory: {} MiB total, {free_mib} MiB free",
        context.memory_total >> 20
    );
    kprintln!(
        "nimbus: kernel ready: {online} cpus, {free_mib} MiB free, {} ms",
        time::since_entry_ns() / 1_000_000
    );

    #[cfg(feature = "ktest")]
    crate::ktest::run_kernel_suite();
    start_userland(context.placement.dtb)
}

/// Creates the kernel object state, starts the root task and sends every CPU to the scheduler.
fn start_userland(dtb: Range) -> ! {
    crate::object::init();
    {
        let mut kernel = crate::object::lock();
        if kernel
            .asids
            .configure(crate::arch::aarch64::user::has_16bit_asids())
            .is_err()
        {
            crate::fatal!(ExitStatus::OutOfMemory, "no memory for the ASID table");
        }
        let Some(empty) = frames::alloc_zeroed() else {
            crate::fatal!(
                ExitStatus::OutOfMemory,
                "no memory for the empty page table"
            )
        };
        kernel.sched.empty_table = empty;
    }
    let Some(archive) = boot_archive::get() else {
        // A kernel-test image without a userland ends once the kernel tests have run.
        #[cfg(feature = "ktest")]
        shutdown(0);
        #[cfg(not(feature = "ktest"))]
        crate::fatal!(
            ExitStatus::BadBootArchive,
            "no boot archive: there is no userland to start"
        )
    };
    if let Err(e) = crate::roottask::start(archive, dtb) {
        crate::fatal!(ExitStatus::BadBootArchive, "{e}");
    }
    crate::irq::start_scheduling();
    for cpu in 1..smp::cpu_count() {
        smp::wake(cpu);
    }
    crate::sched::run_cpu(0)
}

/// Powers off: under QEMU the run ends with `status` (raised to "tests failed" if a kernel test
/// failed); on hardware through PSCI, or a halt.
pub fn shutdown(status: u64) -> ! {
    #[cfg_attr(not(feature = "ktest"), allow(unused_mut))]
    let mut code = u8::try_from(status).unwrap_or(ExitStatus::TestsFailed as u8);
    #[cfg(feature = "ktest")]
    if crate::ktest::kernel_suite_failed() && code == 0 {
        code = ExitStatus::TestsFailed as u8;
    }
    crate::kprintln!("nimbus: power off (status {code})");
    crate::arch::aarch64::semihosting::exit(u32::from(code));
    if let Some(psci) = platform().and_then(|p| p.psci.as_ref()) {
        let _ = crate::arch::aarch64::psci::system_off(psci.conduit);
    }
    cpu::halt()
}

/// The device tree at `pa`, checked, or the status to stop with.
fn early_dtb(pa: u64) -> Result<&'static [u8], ExitStatus> {
    let reachable = pa
        .checked_add(DTB_MAX_SIZE)
        .is_some_and(|end| end <= USER_SPACE_END);
    if pa == 0 || !pa.is_multiple_of(8) || !reachable {
        return Err(ExitStatus::NoDeviceTree);
    }
    // SAFETY: the entry code identity-mapped DTB_MAX_SIZE bytes from `pa` (non-zero, aligned,
    // below 2^39) read-only; the 40-byte header is inside that.
    let header = unsafe { core::slice::from_raw_parts(pa as *const u8, 40) };
    let info = nimbus_board::header::check(header).map_err(|e| match e {
        DtError::TooShort | DtError::BadMagic(_) => ExitStatus::NoDeviceTree,
        _ => ExitStatus::BadDeviceTree,
    })?;
    if u64::from(info.totalsize) > DTB_MAX_SIZE {
        return Err(ExitStatus::BadDeviceTree);
    }
    // SAFETY: as above; totalsize is at most DTB_MAX_SIZE.
    Ok(unsafe { core::slice::from_raw_parts(pa as *const u8, info.totalsize as usize) })
}

fn usable_console(platform: &Platform<'_>) -> Option<(UartKind, Range)> {
    let uart = platform.console.as_ref()?;
    if matches!(uart.kind, UartKind::Unsupported) {
        return None;
    }
    let regs = Range::new(uart.regs.start, uart.regs.size.max(1))?;
    (regs.end <= nimbus_boot::layout::DEVICE_MAP_SIZE).then_some((uart.kind, regs))
}

/// Header `image_size` of the running image: how far from the load address it extends.
fn own_image_size() -> u64 {
    // SAFETY: the header is the first 64 bytes of the mapped image.
    let header = unsafe { core::slice::from_raw_parts(KIMAGE_BASE as *const u8, 64) };
    ImageHeader::parse(header).map_or(image_sections().data.1 - KIMAGE_BASE, |h| h.image_size)
}

fn build_kernel_space(
    platform: &Platform<'_>,
    placement: &KernelPlacement,
    console: Range,
) -> Result<(KernelSpace, u64), KspaceError> {
    let mut space = KernelSpace::new(*LOAD_PA.get().unwrap_or(&0));
    let load_pa = placement.image.start;
    let sections = image_sections();
    for ((start, end), flags) in [
        (sections.text, KERNEL_TEXT),
        (sections.rodata, NORMAL_RO),
        (sections.data, NORMAL_RW),
    ] {
        space.map(
            start,
            start - KIMAGE_BASE + load_pa,
            end - start,
            flags,
            true,
        )?;
    }
    let image = placement
        .image
        .align_outward(PAGE_SIZE)
        .ok_or(KspaceError::OutOfReach(load_pa))?;
    let mut dtb_covered = false;
    for m in &platform.memory {
        let Some(ram) = Range::new(m.start, m.size).and_then(|r| r.align_inward(PAGE_SIZE)) else {
            continue;
        };
        dtb_covered |= ram.covers(&placement.dtb);
        // The image's alias in the linear map is read-only: code is writable nowhere.
        let pieces = ranges::subtract::<4>(&[ram], &[image]).map_err(|_| KspaceError::Map)?;
        for piece in &pieces {
            space.map_linear(*piece, NORMAL_RW)?;
        }
        if ram.overlaps(&image) {
            let alias = Range {
                start: ram.start.max(image.start),
                end: ram.end.min(image.end),
            };
            space.map_linear(alias, NORMAL_RO)?;
        }
    }
    if !dtb_covered {
        let dtb = placement
            .dtb
            .align_outward(PAGE_SIZE)
            .ok_or(KspaceError::OutOfReach(placement.dtb.start))?;
        space.map_linear(dtb, NORMAL_RO)?;
    }
    let console_va = space.map_device(console)?;
    Ok((space, console_va))
}

fn banner(entry: &EntryState, platform: &Platform<'_>) {
    kprintln!();
    kprintln!(
        "Nimbus {} - a microkernel phone OS for 64-bit ARM",
        env!("CARGO_PKG_VERSION")
    );
    kprintln!(
        "nimbus: booted at EL{}, image at {:#x}, dtb at {:#x}",
        entry.entry_el,
        entry.load_pa,
        entry.dtb_pa
    );
    let model = if platform.model.is_empty() {
        platform.compatible
    } else {
        platform.model
    };
    kprintln!("nimbus: platform {model}");
    if let Some(console) = &platform.console {
        log::info!(
            "console: {} at {:#x}",
            console.compatible,
            console.regs.start
        );
    }
    if let Some(args) = platform.chosen.bootargs {
        log::info!("command line: {args}");
    }
    log::info!(
        "memory: {} MiB in {} range(s)",
        platform.total_memory() >> 20,
        platform.memory.len()
    );
    for note in &platform.unsupported {
        log::debug!("device tree: {note}");
    }
}

fn check_requirements(platform: &Platform<'_>) {
    if platform.memory.is_empty() {
        crate::fatal!(
            ExitStatus::NoMemory,
            "no usable memory: the device tree has no enabled node with device_type = \"memory\""
        );
    }
    match &platform.interrupt_controller {
        Some(InterruptController::GicV2 { .. } | InterruptController::GicV3 { .. }) => {}
        Some(InterruptController::Bcm2836 { .. }) => crate::fatal!(
            ExitStatus::UnsupportedInterruptController,
            "interrupt controller brcm,bcm2836-armctrl-ic is not supported yet (GICv2 and GICv3 are)"
        ),
        Some(InterruptController::Unsupported { compatible }) => crate::fatal!(
            ExitStatus::UnsupportedInterruptController,
            "interrupt controller \"{compatible}\" is not supported (GICv2 and GICv3 are)"
        ),
        None => crate::fatal!(
            ExitStatus::UnsupportedInterruptController,
            "no interrupt controller: the device tree has no root interrupt-parent"
        ),
    }
    let virt_timer = platform
        .timer
        .as_ref()
        .and_then(|t| t.virt.as_ref())
        .and_then(|irq| irq.intid());
    if virt_timer.is_none() {
        crate::fatal!(
            ExitStatus::UnsupportedPlatform,
            "no usable generic timer: the tree lacks arm,armv8-timer with a virtual timer interrupt"
        );
    }
}

fn start_interrupts(platform: &Platform<'_>) {
    let Some(controller) = &platform.interrupt_controller else {
        return;
    };
    if let Err(e) = gic::init(controller, platform.cpus.len().max(1)) {
        crate::fatal!(
            ExitStatus::UnsupportedInterruptController,
            "cannot start the interrupt controller: {e:?}"
        );
    }
    let intid = platform
        .timer
        .as_ref()
        .and_then(|t| t.virt.as_ref())
        .and_then(|irq| irq.intid())
        .unwrap_or(27);
    irq::set_timer_intid(intid);
    if let Err(e) = irq::enable_cpu_local(0) {
        crate::fatal!(
            ExitStatus::UnsupportedInterruptController,
            "cannot enable the timer interrupt: {e:?}"
        );
    }
    log::info!(
        "interrupts: {}, timer {} MHz on INTID {intid}",
        gic::name(),
        cpu::counter_frequency() / 1_000_000
    );
}
