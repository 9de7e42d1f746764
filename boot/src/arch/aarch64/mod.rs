//! The aarch64 entry code (`head.S`) and what Rust needs to know about it.
//!
//! The assembly calls two functions the kernel must define:
//!
//! ```text
//! extern "C" fn nimbus_boot_primary(dtb: u64, load_pa: u64, entry_ticks: u64, entry_el: u64) -> !
//! extern "C" fn nimbus_boot_secondary(cpu_index: u64) -> !
//! ```
//!
//! `nimbus_boot_primary` runs at EL1 on the 64 KiB boot stack with the MMU and caches on, FP/SIMD
//! enabled, BSS cleared and interrupts masked. TTBR1 maps the image at [`KIMAGE_BASE`] with
//! 4 KiB read-write-execute pages; TTBR0 identity-maps the image and, when `dtb` is a non-zero
//! 8-byte aligned address, the [`DTB_MAX_SIZE`] bytes from it, read-only. The kernel is expected
//! to build its own tables and switch to them with [`replace_ttbr1`].

use crate::header::NIMBUS_FLAGS;
use crate::layout::{DTB_MAX_SIZE, EARLY_L3_TABLES, KIMAGE_BASE, VA_BITS, l1_index};
use core::sync::atomic::{AtomicU64, Ordering};

/// MAIR_EL1 attribute index of Device-nGnRE memory.
pub const MAIR_IDX_DEVICE: u64 = 0;
/// MAIR_EL1 attribute index of normal write-back cacheable memory.
pub const MAIR_IDX_NORMAL: u64 = 1;
/// MAIR_EL1 attribute index of normal non-cacheable memory.
pub const MAIR_IDX_NORMAL_NC: u64 = 2;
/// MAIR_EL1: Device-nGnRE, Normal WB RA/WA, Normal NC, Device-nGnRnE.
pub const MAIR: u64 = 0x04 | (0xff << 8) | (0x44 << 16);

/// TCR_EL1 without IPS (the entry code fills it from ID_AA64MMFR0_EL1): 39-bit VAs on both
/// halves, 4 KiB granules, inner-shareable write-back walks, 8-bit ASIDs taken from TTBR0.
pub const TCR: u64 = (64 - VA_BITS as u64)
    | (1 << 8)
    | (1 << 10)
    | (3 << 12)
    | ((64 - VA_BITS as u64) << 16)
    | (1 << 24)
    | (1 << 26)
    | (3 << 28)
    | (2 << 30);

/// SCTLR_EL1 RES1 bits (ARMv8.0), with the MMU off. SPAN is set: PAN is not forced on entry.
pub const SCTLR_MMU_OFF: u64 = 0x30d0_0800;
/// SCTLR_EL1 with the MMU, caches and stack alignment checks on.
pub const SCTLR_MMU_ON: u64 = SCTLR_MMU_OFF | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 12);

const DESC_PAGE: u64 = 0b11;
const DESC_BLOCK: u64 = 0b01;
const ATTR_NORMAL: u64 = MAIR_IDX_NORMAL << 2;
const AP_READ_ONLY: u64 = 2 << 6;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

/// Size of the boot stack the primary CPU starts on.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

core::arch::global_asm!(
    include_str!("head.S"),
    IMAGE_FLAGS = const NIMBUS_FLAGS,
    SCTLR_MMU_OFF = const SCTLR_MMU_OFF,
    SCTLR_MMU_ON = const SCTLR_MMU_ON,
    MAIR = const MAIR,
    TCR = const TCR,
    VA_BITS = const VA_BITS,
    L1_KIMAGE_OFFSET = const l1_index(KIMAGE_BASE) * 8,
    EARLY_L3_TABLES = const EARLY_L3_TABLES,
    EARLY_PAGE_ATTRS = const DESC_PAGE | ATTR_NORMAL | SH_INNER | AF | UXN,
    IDMAP_TEXT_ATTRS = const DESC_BLOCK | ATTR_NORMAL | AP_READ_ONLY | SH_INNER | AF | UXN,
    IDMAP_DATA_ATTRS = const DESC_BLOCK | ATTR_NORMAL | AP_READ_ONLY | SH_INNER | AF | UXN | PXN,
    DTB_MAX_SIZE = const DTB_MAX_SIZE,
    BOOT_STACK_SIZE = const BOOT_STACK_SIZE,
);

/// What a secondary CPU needs to join: read by `secondary_entry` at fixed offsets.
#[repr(C)]
pub struct SecondaryBoot {
    /// TTBR1_EL1 value (offset 0); read with the MMU off, so it must be cleaned to memory.
    ttbr1: AtomicU64,
    /// Initial stack pointer (offset 8).
    stack_top: AtomicU64,
    /// Index the kernel gave this CPU (offset 16).
    cpu_index: AtomicU64,
}

/// The hand-over block for the one secondary CPU being started.
#[unsafe(no_mangle)]
pub static SECONDARY_BOOT: SecondaryBoot = SecondaryBoot {
    ttbr1: AtomicU64::new(0),
    stack_top: AtomicU64::new(0),
    cpu_index: AtomicU64::new(0),
};

impl SecondaryBoot {
    /// Publishes what the next secondary CPU needs and cleans it to the point of coherency, where
    /// a CPU with its MMU and caches still off reads it.
    pub fn publish(&self, ttbr1: u64, stack_top: u64, cpu_index: u64) {
        self.ttbr1.store(ttbr1, Ordering::Relaxed);
        self.stack_top.store(stack_top, Ordering::Relaxed);
        self.cpu_index.store(cpu_index, Ordering::Relaxed);
        // SAFETY: cleaning a cache line by VA has no effect on program state; the line belongs
        // to this static, which is mapped.
        unsafe {
            core::arch::asm!(
                "dmb ish",
                "dc civac, {addr}",
                "dsb sy",
                addr = in(reg) self as *const Self as u64,
                options(nostack, preserves_flags),
            );
        }
    }
}

unsafe extern "C" {
    static _image_start: u8;
    static _text_end: u8;
    static _rodata_end: u8;
    static _bss_end: u8;
    static _image_end: u8;
    static _idmap_text_start: u8;
    static _idmap_text_end: u8;
    fn secondary_entry();
    fn replace_ttbr1(ttbr1: u64);
}

/// The sections of the running image, as virtual address ranges `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct ImageSections {
    /// Code, including the entry code and the identity-mapped trampoline.
    pub text: (u64, u64),
    /// Read-only data.
    pub rodata: (u64, u64),
    /// Data, BSS and the early page tables: everything writable.
    pub data: (u64, u64),
    /// The part of `text` that must also run from its physical address.
    pub idmap_text: (u64, u64),
}

fn addr(symbol: &u8) -> u64 {
    symbol as *const u8 as u64
}

/// Where the sections of the running kernel are.
pub fn image_sections() -> ImageSections {
    // SAFETY: these are linker-defined symbols; only their addresses are taken, never their
    // contents.
    unsafe {
        ImageSections {
            text: (addr(&_image_start), addr(&_text_end)),
            rodata: (addr(&_text_end), addr(&_rodata_end)),
            data: (addr(&_rodata_end), addr(&_image_end)),
            idmap_text: (addr(&_idmap_text_start), addr(&_idmap_text_end)),
        }
    }
}

/// Bytes from the start of the image to the end of what the kernel occupies (BSS included).
pub fn kernel_footprint() -> u64 {
    let sections = image_sections();
    sections.data.1 - sections.text.0
}

/// End of BSS (the appended boot archive, if any, starts at the next page).
pub fn bss_end() -> u64 {
    // SAFETY: linker-defined symbol, address only.
    unsafe { addr(&_bss_end) }
}

/// Virtual address of the entry point for secondary CPUs; its physical address is
/// `load_pa + (secondary_entry_va() - KIMAGE_BASE)`.
pub fn secondary_entry_va() -> u64 {
    secondary_entry as *const () as u64
}

/// Switches TTBR1_EL1 to `ttbr1` with break-before-make, running the switch from the identity
/// map.
///
/// # Safety
///
/// The new tables must map the kernel image, its stacks and everything the caller will touch at
/// the same virtual addresses as before, TTBR0 must still hold the entry code's identity map,
/// and `load_pa` must be the physical address the image was loaded at.
pub unsafe fn switch_ttbr1(ttbr1: u64, load_pa: u64) {
    let trampoline_pa = replace_ttbr1 as *const () as u64 - KIMAGE_BASE + load_pa;
    // SAFETY: the trampoline is position independent, is identity-mapped by the entry code's
    // TTBR0 table, touches only x0/x1 and returns to our (TTBR1) caller; the caller guarantees
    // the new tables keep everything we use mapped.
    unsafe {
        let trampoline: unsafe extern "C" fn(u64) = core::mem::transmute(trampoline_pa as usize);
        trampoline(ttbr1);
    }
}
