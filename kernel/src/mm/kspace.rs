//! The kernel's own address space (TTBR1): the image with W^X, the linear map of RAM, the device
//! map and the vmap area, managed with the aarch64-paging crate.
//!
//! The tables are first built while the entry code's provisional tables are live, from a pool of
//! pages inside the image (nothing else is mapped then), and switched to with break-before-make
//! from the identity map. Later additions (device registers, the heap, stacks) take their table
//! pages from the frame allocator through the linear map.

use crate::mm::frames;
use crate::sync::Mutex;
use aarch64_paging::Mapping;
use aarch64_paging::descriptor::{El1Attributes, PhysicalAddress};
use aarch64_paging::paging::{Constraints, El1And0, MemoryRegion, PageTable, Translation, VaRange};
use core::ptr::NonNull;
use nimbus_boot::layout::{DEVICE_MAP_BASE, KIMAGE_BASE, LINEAR_MAP_BASE, PAGE_SIZE};
use nimbus_kcore::ranges::Range;

/// Normal memory, read-write, never executable.
pub const NORMAL_RW: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_1)
    .union(El1Attributes::INNER_SHAREABLE)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);
/// Normal memory, read-only, never executable.
pub const NORMAL_RO: El1Attributes = NORMAL_RW.union(El1Attributes::READ_ONLY);
/// Kernel code: read-only and executable at EL1.
pub const KERNEL_TEXT: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_1)
    .union(El1Attributes::INNER_SHAREABLE)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::READ_ONLY)
    .union(El1Attributes::UXN);
/// Device registers (Device-nGnRE), never executable.
pub const DEVICE_RW: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_0)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);

const BOOT_POOL_PAGES: usize = 64;

#[repr(C, align(4096))]
struct BootPool([[u8; PAGE_SIZE as usize]; BOOT_POOL_PAGES]);

/// Table pages for the first build of the tables, before any other memory is mapped.
static mut BOOT_POOL: BootPool = BootPool([[0; PAGE_SIZE as usize]; BOOT_POOL_PAGES]);

/// Why the kernel address space could not be set up or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KspaceError {
    /// The boot pool ran out (too many memory ranges or devices for the first tables).
    BootPoolExhausted,

    /// The crate refused the mapping (overlap, range, break-before-make).
    Map,
    /// The physical address is beyond the linear or device map.
    OutOfReach(u64),
}

/// Where table pages come from, and how the kernel reaches them.
pub struct KernelTranslation {
    load_pa: u64,
    pool_used: usize,
    pool_exhausted: bool,
}

impl KernelTranslation {
    fn pool_base_va() -> u64 {
        // SAFETY: only the address of the pool is taken.
        core::ptr::addr_of!(BOOT_POOL) as u64
    }

    fn pool_pa_range(&self) -> Range {
        let start = Self::pool_base_va() - KIMAGE_BASE + self.load_pa;
        Range {
            start,
            end: start + BOOT_POOL_PAGES as u64 * PAGE_SIZE,
        }
    }
}

impl Translation<El1Attributes> for KernelTranslation {
    fn allocate_table(&mut self) -> (NonNull<PageTable<El1Attributes>>, PhysicalAddress) {
        if self.pool_used < BOOT_POOL_PAGES {
            let va = Self::pool_base_va() + self.pool_used as u64 * PAGE_SIZE;
            let pa = va - KIMAGE_BASE + self.load_pa;
            self.pool_used += 1;
            if let Some(table) = NonNull::new(va as *mut PageTable<El1Attributes>) {
                // Pool pages are in the zeroed BSS and handed out once.
                return (table, PhysicalAddress(pa as usize));
            }
        }
        if let Some(pa) = frames::alloc_zeroed() {
            let va = LINEAR_MAP_BASE + pa;
            if let Some(table) = NonNull::new(va as *mut PageTable<El1Attributes>) {
                return (table, PhysicalAddress(pa as usize));
            }
        }
        // The trait cannot report failure. Callers reserve frames first (see `reserve_tables`)
        // so this is reached only if the kernel itself has no memory left at all.
        self.pool_exhausted = true;
        crate::fatal!(
            nimbus_boot::status::ExitStatus::OutOfMemory,
            "no memory left for kernel page tables"
        )
    }

    unsafe fn deallocate_table(&mut self, page_table: NonNull<PageTable<El1Attributes>>) {
        let va = page_table.as_ptr() as u64;
        let pool = Self::pool_base_va();
        if (pool..pool + BOOT_POOL_PAGES as u64 * PAGE_SIZE).contains(&va) {
            return; // Pool pages belong to the image and are never reused.
        }
        if let Some(pa) = nimbus_boot::layout::linear_to_phys(va) {
            frames::free(pa);
        }
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<El1Attributes>> {
        let pa = pa.0 as u64;
        let va = if self.pool_pa_range().contains(pa) {
            pa - self.load_pa + KIMAGE_BASE
        } else {
            LINEAR_MAP_BASE + pa
        };
        NonNull::new(va as *mut PageTable<El1Attributes>).unwrap_or(NonNull::dangling())
    }
}

/// The kernel's TTBR1 tables.
pub struct KernelSpace {
    mapping: Mapping<KernelTranslation, El1And0>,
}

// SAFETY: the tables are only reached through the global mutex below; the raw pointers inside
// point at memory (pool and linear map) valid on every CPU.
unsafe impl Send for KernelSpace {}

static KERNEL_SPACE: Mutex<Option<KernelSpace>> = Mutex::new(None);

impl KernelSpace {
    /// Empty tables for the upper half.
    pub fn new(load_pa: u64) -> Self {
        let translation = KernelTranslation {
            load_pa,
            pool_used: 0,
            pool_exhausted: false,
        };
        Self {
            mapping: Mapping::with_asid_and_va_range(translation, 0, 1, El1And0, VaRange::Upper),
        }
    }

    /// Maps `[va, va + len)` to `pa` with `flags`.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        flags: El1Attributes,
        pages_only: bool,
    ) -> Result<(), KspaceError> {
        let region = MemoryRegion::new(va as usize, (va + len) as usize);
        let constraints = if pages_only {
            Constraints::NO_BLOCK_MAPPINGS
        } else {
            Constraints::empty()
        };
        let result =
            self.mapping
                .map_range(&region, PhysicalAddress(pa as usize), flags, constraints);
        if self.mapping.translation().pool_exhausted {
            return Err(KspaceError::BootPoolExhausted);
        }
        result.map_err(|_| KspaceError::Map)
    }

    /// Maps physical RAM `range` into the linear map.
    pub fn map_linear(&mut self, range: Range, flags: El1Attributes) -> Result<(), KspaceError> {
        if range.end > nimbus_boot::layout::LINEAR_MAP_SIZE {
            return Err(KspaceError::OutOfReach(range.end));
        }
        self.map(
            LINEAR_MAP_BASE + range.start,
            range.start,
            range.len(),
            flags,
            false,
        )
    }

    /// Maps device registers at `range` into the device map.
    pub fn map_device(&mut self, range: Range) -> Result<u64, KspaceError> {
        let aligned = range
            .align_outward(PAGE_SIZE)
            .ok_or(KspaceError::OutOfReach(range.start))?;
        if aligned.end > nimbus_boot::layout::DEVICE_MAP_SIZE {
            return Err(KspaceError::OutOfReach(range.end));
        }
        self.map(
            DEVICE_MAP_BASE + aligned.start,
            aligned.start,
            aligned.len(),
            DEVICE_RW,
            true,
        )?;
        Ok(DEVICE_MAP_BASE + range.start)
    }

    /// Physical address of the root table (the TTBR1 value).
    pub fn root_pa(&self) -> u64 {
        self.mapping.root_address().0 as u64
    }

    /// Table pages taken from the boot pool.
    pub fn boot_pool_used(&self) -> usize {
        self.mapping.translation().pool_used
    }

    /// Records that the tables are live, so later changes do TLB maintenance and respect
    /// break-before-make; then publishes them for [`with`].
    pub fn install(self) {
        self.mapping.mark_active();
        *KERNEL_SPACE.lock() = Some(self);
    }
}

/// Runs `f` on the live kernel tables (after start-up built them).
pub fn with<R>(f: impl FnOnce(&mut KernelSpace) -> R) -> Option<R> {
    let _irqs = crate::arch::aarch64::cpu::IrqGuard::new();
    KERNEL_SPACE.lock().as_mut().map(f)
}

/// The TTBR1 value every CPU uses.
pub fn root_pa() -> u64 {
    with(|k| k.root_pa()).unwrap_or(0)
}

/// Maps device registers into the live device map and returns their virtual address.
pub fn map_device(range: Range) -> Result<u64, KspaceError> {
    with(|k| k.map_device(range)).unwrap_or(Err(KspaceError::Map))
}
