//! The kernel's virtual memory layout, shared by the entry assembly, the kernel and xtask.
//!
//! 39-bit virtual addresses with 4 KiB pages (three translation levels), as Android uses on
//! arm64: shorter table walks than 48 bits and 512 GiB on each side is ample for a phone.
//! TTBR0 holds the user half `[0, 2^39)`; TTBR1 holds the kernel half, laid out as:
//!
//! ```text
//! 0xffff_ff80_0000_0000  linear map of RAM: VA = LINEAR_MAP_BASE + PA   (256 GiB)
//! 0xffff_ffc0_0000_0000  device map:        VA = DEVICE_MAP_BASE + PA   (64 GiB, Device-nGnRE)
//! 0xffff_ffe0_0000_0000  vmap area: per-CPU kernel stacks with guard pages
//! 0xffff_ffff_c000_0000  the kernel image, linked here and mapped to wherever it was loaded
//! ```
//!
//! The image is linked at a fixed virtual address and mapped onto whatever physical address the
//! loader chose, so no relocation is needed: only the few instructions before the MMU is on must
//! be position independent.

/// Size of a page and of the translation granule.
pub const PAGE_SIZE: u64 = 4096;
/// Number of virtual address bits on each side (TCR_ELx.TxSZ = 64 - VA_BITS).
pub const VA_BITS: u32 = 39;
/// First address of the kernel (TTBR1) half.
pub const KERNEL_SPACE_BASE: u64 = 0u64.wrapping_sub(1 << VA_BITS);
/// Exclusive end of the user (TTBR0) half.
pub const USER_SPACE_END: u64 = 1 << VA_BITS;

/// Base of the linear map of physical memory.
pub const LINEAR_MAP_BASE: u64 = KERNEL_SPACE_BASE;
/// Physical addresses below this can be reached through the linear map.
pub const LINEAR_MAP_SIZE: u64 = 1 << 38;

/// Base of the device map: MMIO the kernel itself drives (console, interrupt controller).
pub const DEVICE_MAP_BASE: u64 = 0xffff_ffc0_0000_0000;
/// Physical MMIO addresses below this can be reached through the device map.
pub const DEVICE_MAP_SIZE: u64 = 1 << 36;

/// Base of the area for mappings that need guard pages (kernel stacks).
pub const VMAP_BASE: u64 = 0xffff_ffe0_0000_0000;
/// Size of the vmap area.
pub const VMAP_SIZE: u64 = 1 << 36;

/// Virtual address the kernel image is linked at (must match `image.ld`).
pub const KIMAGE_BASE: u64 = 0xffff_ffff_c000_0000;
/// Largest kernel image (text to end of bss) the early page tables can map.
pub const KIMAGE_MAX_SIZE: u64 = 16 << 20;
/// Number of level-3 tables the entry code uses to map the image with 4 KiB pages.
pub const EARLY_L3_TABLES: u64 = KIMAGE_MAX_SIZE / (512 * PAGE_SIZE);
/// Largest device tree the entry code identity-maps for the early boot code.
pub const DTB_MAX_SIZE: u64 = 2 << 20;

/// Index of `va` in a level-1 table (1 GiB per entry).
pub const fn l1_index(va: u64) -> u64 {
    (va >> 30) & 0x1ff
}

/// Index of `va` in a level-2 table (2 MiB per entry).
pub const fn l2_index(va: u64) -> u64 {
    (va >> 21) & 0x1ff
}

/// The linear-map virtual address of a physical address, if it has one.
pub const fn phys_to_linear(pa: u64) -> Option<u64> {
    if pa < LINEAR_MAP_SIZE {
        Some(LINEAR_MAP_BASE + pa)
    } else {
        None
    }
}

/// The device-map virtual address of a physical MMIO address, if it has one.
pub const fn phys_to_device(pa: u64) -> Option<u64> {
    if pa < DEVICE_MAP_SIZE {
        Some(DEVICE_MAP_BASE + pa)
    } else {
        None
    }
}

/// The physical address behind a linear-map virtual address.
pub const fn linear_to_phys(va: u64) -> Option<u64> {
    if va >= LINEAR_MAP_BASE && va - LINEAR_MAP_BASE < LINEAR_MAP_SIZE {
        Some(va - LINEAR_MAP_BASE)
    } else {
        None
    }
}

// The regions are ordered and disjoint, and the early tables fit one level-2 table: checked
// when the crate compiles.
const _: () = {
    assert!(LINEAR_MAP_BASE + LINEAR_MAP_SIZE <= DEVICE_MAP_BASE);
    assert!(DEVICE_MAP_BASE + DEVICE_MAP_SIZE <= VMAP_BASE);
    assert!(VMAP_BASE + VMAP_SIZE <= KIMAGE_BASE);
    assert!(KIMAGE_BASE.checked_add(KIMAGE_MAX_SIZE).is_some());
    assert!(EARLY_L3_TABLES <= 512);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_space_starts_at_the_39_bit_boundary() {
        assert_eq!(KERNEL_SPACE_BASE, 0xffff_ff80_0000_0000);
    }

    #[test]
    fn image_sits_in_one_level2_table() {
        // The entry code maps the whole image through a single level-2 table.
        assert_eq!(
            l1_index(KIMAGE_BASE),
            l1_index(KIMAGE_BASE + KIMAGE_MAX_SIZE - 1)
        );
        assert_eq!(l2_index(KIMAGE_BASE), 0);
    }

    #[test]
    fn linear_map_round_trips() {
        assert_eq!(
            phys_to_linear(0x4000_0000),
            Some(LINEAR_MAP_BASE + 0x4000_0000)
        );
        assert_eq!(linear_to_phys(LINEAR_MAP_BASE + 0x1234), Some(0x1234));
        assert_eq!(phys_to_linear(LINEAR_MAP_SIZE), None);
        assert_eq!(linear_to_phys(DEVICE_MAP_BASE), None);
        assert_eq!(
            phys_to_device(0x0900_0000),
            Some(DEVICE_MAP_BASE + 0x0900_0000)
        );
    }
}
