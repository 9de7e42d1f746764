//! Symmetric multiprocessing: per-CPU state, starting the secondary CPUs the device tree lists
//! (PSCI `CPU_ON` or a spin-table release), and running work on a given CPU.
//!
//! CPUs are numbered in device-tree order with the boot CPU as 0. Each one finds its `PerCpu`
//! through TPIDR_EL1. CPUs are started one at a time through the single hand-over block the
//! entry code reads.

use crate::arch::aarch64::user::UserContext;
use crate::arch::aarch64::{cpu, exceptions, gic, mmu, psci};
use crate::mm::{kspace, vmap};
use crate::{irq, time};
use aarch64_cpu::registers::{Readable, TPIDR_EL1, Writeable};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use nimbus_board::{EnableMethod, Platform};
use nimbus_boot::arch::aarch64::SECONDARY_BOOT;
use nimbus_boot::layout::KIMAGE_BASE;

/// Most CPUs the kernel runs on.
pub const MAX_CPUS: usize = 16;
/// Size of each CPU's kernel stack.
pub const KERNEL_STACK_SIZE: u64 = 64 * 1024;
/// How long a secondary CPU gets to come online.
const START_TIMEOUT_NS: u64 = 2_000_000_000;

/// State private to one CPU (shared only through atomics). The first two fields are read by the
/// user entry assembly at fixed offsets.
#[repr(C)]
pub struct PerCpu {
    /// Context of the thread this CPU returns to (offset 0).
    current_context: AtomicPtr<UserContext>,
    /// Top of this CPU's kernel stack (offset 8).
    stack_top: AtomicU64,
    index: usize,
    mpidr: AtomicU64,
    online: AtomicBool,
    stack_bottom: AtomicU64,
    work: AtomicUsize,
    work_done: AtomicU64,
    wakes: AtomicU64,
    timer_irqs: AtomicU64,
}

impl PerCpu {
    const fn new(index: usize) -> Self {
        Self {
            current_context: AtomicPtr::new(core::ptr::null_mut()),
            stack_top: AtomicU64::new(0),
            index,
            mpidr: AtomicU64::new(0),
            online: AtomicBool::new(false),
            stack_bottom: AtomicU64::new(0),
            work: AtomicUsize::new(0),
            work_done: AtomicU64::new(0),
            wakes: AtomicU64::new(0),
            timer_irqs: AtomicU64::new(0),
        }
    }

    /// This CPU's index.
    #[cfg(feature = "ktest")]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The CPU's MPIDR affinity value.
    pub fn mpidr(&self) -> u64 {
        self.mpidr.load(Ordering::Relaxed)
    }

    /// Whether the CPU has come up.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Timer interrupts taken.
    #[cfg(feature = "ktest")]
    pub fn timer_irqs(&self) -> u64 {
        self.timer_irqs.load(Ordering::Relaxed)
    }

    /// Wake-up SGIs taken.
    #[cfg(feature = "ktest")]
    pub fn wakes(&self) -> u64 {
        self.wakes.load(Ordering::Relaxed)
    }

    /// Lowest address of the CPU's kernel stack (a guard page lies below).
    #[cfg(feature = "ktest")]
    pub fn stack_bottom(&self) -> u64 {
        self.stack_bottom.load(Ordering::Relaxed)
    }

    pub(crate) fn count_wake(&self) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_timer_irq(&self) {
        self.timer_irqs.fetch_add(1, Ordering::Relaxed);
    }
}

static PER_CPU: [PerCpu; MAX_CPUS] = {
    let mut cpus = [const { PerCpu::new(0) }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        cpus[i] = PerCpu::new(i);
        i += 1;
    }
    cpus
};

static CPU_COUNT: AtomicUsize = AtomicUsize::new(1);

/// The calling CPU's state.
pub fn this_cpu() -> &'static PerCpu {
    let ptr = TPIDR_EL1.get() as *const PerCpu;
    if ptr.is_null() {
        return &PER_CPU[0];
    }
    // SAFETY: TPIDR_EL1 is only ever set by `enter` to an element of the static PER_CPU array.
    unsafe { &*ptr }
}

/// Index of the calling CPU.
pub fn current_cpu() -> usize {
    this_cpu().index
}

/// The state of CPU `index`.
pub fn cpu(index: usize) -> Option<&'static PerCpu> {
    PER_CPU
        .get(index)
        .filter(|_| index < CPU_COUNT.load(Ordering::Relaxed))
}

/// CPUs known from the device tree (online or not).
pub fn cpu_count() -> usize {
    CPU_COUNT.load(Ordering::Relaxed)
}

/// CPUs online.
pub fn online_count() -> usize {
    PER_CPU.iter().filter(|c| c.is_online()).count()
}

/// Binds the calling CPU to slot `index`.
fn enter(index: usize) {
    let slot = &PER_CPU[index];
    slot.mpidr.store(cpu::mpidr(), Ordering::Relaxed);
    TPIDR_EL1.set(slot as *const PerCpu as u64);
}

/// Registers the boot CPU as CPU 0.
pub fn init_boot_cpu(stack: vmap::Stack) {
    enter(0);
    PER_CPU[0]
        .stack_bottom
        .store(stack.bottom, Ordering::Relaxed);
    PER_CPU[0].stack_top.store(stack.top, Ordering::Relaxed);
    PER_CPU[0].online.store(true, Ordering::Release);
}

/// Starts every other CPU the tree lists; returns how many CPUs are online afterwards.
pub fn start_secondaries(platform: &Platform<'_>, load_pa: u64) -> usize {
    let boot_mpidr = cpu::mpidr();
    let entry_pa = nimbus_boot::arch::aarch64::secondary_entry_va() - KIMAGE_BASE + load_pa;
    let mut next_index = 1;
    if !platform.cpus.iter().any(|c| c.mpidr == boot_mpidr) {
        log::warn!("boot CPU (MPIDR {boot_mpidr:#x}) is not listed in /cpus");
    }
    for tree_cpu in platform.cpus.iter().filter(|c| c.mpidr != boot_mpidr) {
        if next_index >= MAX_CPUS {
            log::warn!(
                "only {MAX_CPUS} CPUs are supported; ignoring MPIDR {:#x}",
                tree_cpu.mpidr
            );
            continue;
        }
        let index = next_index;
        next_index += 1;
        CPU_COUNT.store(next_index, Ordering::Relaxed);
        PER_CPU[index]
            .mpidr
            .store(tree_cpu.mpidr, Ordering::Relaxed);
        let Some(stack) = vmap::alloc_stack(KERNEL_STACK_SIZE) else {
            log::error!("cpu {index}: no memory for its stack");
            continue;
        };
        PER_CPU[index]
            .stack_bottom
            .store(stack.bottom, Ordering::Relaxed);
        PER_CPU[index].stack_top.store(stack.top, Ordering::Relaxed);
        SECONDARY_BOOT.publish(kspace::root_pa(), stack.top, index as u64);
        let started = match tree_cpu.enable_method {
            EnableMethod::Psci => match &platform.psci {
                Some(p) => psci::cpu_on(p.conduit, tree_cpu.mpidr, entry_pa, index as u64)
                    .map_err(|e| log::error!("cpu {index}: PSCI CPU_ON failed: {e:?}"))
                    .is_ok(),
                None => {
                    log::warn!(
                        "cpu {index} (MPIDR {:#x}) uses PSCI but the tree has no /psci node",
                        tree_cpu.mpidr
                    );
                    false
                }
            },
            EnableMethod::SpinTable { release_addr } => release_spin_table(release_addr, entry_pa),
            EnableMethod::None => {
                log::warn!(
                    "cpu {index} (MPIDR {:#x}) has no enable-method",
                    tree_cpu.mpidr
                );
                false
            }
            EnableMethod::Other(method) => {
                log::warn!("cpu {index}: enable-method \"{method}\" is not supported");
                false
            }
        };
        if started && !wait_online(index) {
            log::error!(
                "cpu {index} (MPIDR {:#x}) did not come online",
                tree_cpu.mpidr
            );
        }
    }
    CPU_COUNT.store(next_index, Ordering::Relaxed);
    online_count()
}

fn release_spin_table(release_addr: u64, entry_pa: u64) -> bool {
    let Some(va) = nimbus_boot::layout::phys_to_linear(release_addr)
        .filter(|_| release_addr.is_multiple_of(8))
    else {
        log::warn!("spin-table release address {release_addr:#x} is unusable");
        return false;
    };
    // SAFETY: the release address is an aligned word of RAM (reserved by /memreserve/ on the
    // boards that use spin tables) reachable through the linear map; the waiting CPU reads it
    // with its caches off, hence the clean to the point of coherency.
    unsafe { core::ptr::write_volatile(va as *mut u64, entry_pa) };
    cpu::clean_dcache_line(va);
    cpu::send_event();
    true
}

fn wait_online(index: usize) -> bool {
    let start = time::since_entry_ns();
    while !PER_CPU[index].is_online() {
        if time::since_entry_ns() - start > START_TIMEOUT_NS {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Where a secondary CPU lands once its MMU is on.
pub fn secondary_main(index: usize) -> ! {
    exceptions::install_vectors();
    mmu::apply_final_config();
    if index >= MAX_CPUS {
        cpu::halt();
    }
    enter(index);
    gic::init_secondary(index);
    if let Err(e) = irq::enable_cpu_local(index) {
        log::error!("cpu {index}: cannot enable its interrupts: {e:?}");
    }
    PER_CPU[index].online.store(true, Ordering::Release);
    idle_loop()
}

/// Waits for work, forever.
pub fn idle_loop() -> ! {
    let me = this_cpu();
    loop {
        if irq::scheduling() {
            crate::sched::run_cpu(me.index);
        }
        let work = me.work.swap(0, Ordering::Acquire);
        if work != 0 {
            // SAFETY: `work` was stored by `run_on` from a `fn(usize)` pointer.
            let f: fn(usize) = unsafe { core::mem::transmute::<usize, fn(usize)>(work) };
            f(me.index);
            me.work_done.fetch_add(1, Ordering::Release);
            continue;
        }
        cpu::wait_for_interrupt();
    }
}

/// Runs `f(cpu)` on CPU `cpu` (which must be idle) and waits for it to finish, at most
/// `timeout_ns`. Returns false if it did not finish in time.
#[cfg(feature = "ktest")]
pub fn run_on(target: usize, f: fn(usize), timeout_ns: u64) -> bool {
    if target == current_cpu() {
        f(target);
        return true;
    }
    let Some(slot) = cpu(target).filter(|c| c.is_online()) else {
        return false;
    };
    let done = slot.work_done.load(Ordering::Acquire);
    slot.work.store(f as usize, Ordering::Release);
    gic::send_sgi(irq::SGI_WAKE, target, slot.mpidr());
    let start = time::since_entry_ns();
    while slot.work_done.load(Ordering::Acquire) == done {
        if time::since_entry_ns() - start > timeout_ns {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Runs `f(cpu)` on every online CPU at once (this one included) and waits for all of them, at
/// most `timeout_ns`. Returns false if some CPU did not finish in time.
#[cfg(feature = "ktest")]
pub fn run_on_all(f: fn(usize), timeout_ns: u64) -> bool {
    let me = current_cpu();
    let mut expected = [0u64; MAX_CPUS];
    for (index, slot) in PER_CPU.iter().enumerate().take(cpu_count()) {
        if index != me && slot.is_online() {
            expected[index] = slot.work_done.load(Ordering::Acquire) + 1;
            slot.work.store(f as usize, Ordering::Release);
            gic::send_sgi(irq::SGI_WAKE, index, slot.mpidr());
        }
    }
    f(me);
    let start = time::since_entry_ns();
    for (index, slot) in PER_CPU.iter().enumerate().take(cpu_count()) {
        if index == me || !slot.is_online() {
            continue;
        }
        while slot.work_done.load(Ordering::Acquire) < expected[index] {
            if time::since_entry_ns() - start > timeout_ns {
                return false;
            }
            core::hint::spin_loop();
        }
    }
    true
}

/// Points this CPU's user entry and exit at `context` (the thread it runs next).
pub fn set_current_context(context: *mut UserContext) {
    this_cpu().current_context.store(context, Ordering::Relaxed);
}

/// Sends the wake-up SGI to CPU `target`.
pub fn wake(target: usize) {
    if let Some(slot) = cpu(target) {
        gic::send_sgi(irq::SGI_WAKE, target, slot.mpidr());
    }
}
