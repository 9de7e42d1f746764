//! The physical memory map: RAM from the device tree minus everything that is not ours to
//! allocate, and the frame allocator built over what remains.
//!
//! Reserved: the kernel image (its whole `image_size`, which covers BSS and an appended boot
//! archive), the device tree blob, the initrd, `/memreserve/` entries, `/reserved-memory` nodes
//! with a fixed address, and the allocator's own bitmap.

use crate::mm::{PAGE_SIZE, frames, phys_to_virt};
use nimbus_board::Platform;
use nimbus_kcore::frames::FrameAllocator;
use nimbus_kcore::ranges::{self, Range};
use spin::Once;

/// Most reserved ranges the kernel keeps track of.
pub const MAX_RESERVED: usize = 48;
/// Most free ranges after subtracting reservations.
pub const MAX_FREE: usize = 80;

/// Why a range is reserved.
#[derive(Debug, Clone, Copy)]
pub struct Reserved {
    /// The range.
    pub range: Range,
    /// What holds it.
    pub owner: &'static str,
}

/// The result of boot-time memory discovery.
pub struct MemoryMap {
    /// RAM ranges from the device tree (the kernel tests check the linear map against them).
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))]
    pub ram: heapless::Vec<Range, { nimbus_board::MAX_MEMORY_RANGES }>,

    /// Everything withheld from the allocator.
    pub reserved: heapless::Vec<Reserved, MAX_RESERVED>,
    /// Bytes of RAM in total.
    pub total_bytes: u64,
}

static MEMORY_MAP: Once<MemoryMap> = Once::new();

/// Why the frame allocator could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemmapError {
    /// The tree lists no RAM.
    NoMemory,
    /// More reserved or free pieces than the fixed tables hold.
    TooManyRanges,
    /// No free range is large enough for the allocator's bitmap.
    NoRoomForBitmap,
    /// RAM lies beyond the linear map.
    BeyondLinearMap(u64),
}

/// What the kernel knows about its own placement.
pub struct KernelPlacement {
    /// Physical range the image occupies (header `image_size` from the load address).
    pub image: Range,
    /// Physical range of the device tree blob.
    pub dtb: Range,
}

/// Builds the memory map and installs the frame allocator. Needs the linear map.
pub fn init(
    platform: &Platform<'_>,
    placement: &KernelPlacement,
) -> Result<&'static MemoryMap, MemmapError> {
    let mut ram = heapless::Vec::new();
    for m in &platform.memory {
        let range = Range::new(m.start, m.size).ok_or(MemmapError::TooManyRanges)?;
        if range.end > nimbus_boot::layout::LINEAR_MAP_SIZE {
            return Err(MemmapError::BeyondLinearMap(range.end));
        }
        ram.push(range).map_err(|_| MemmapError::TooManyRanges)?;
    }
    if ram.is_empty() {
        return Err(MemmapError::NoMemory);
    }
    let total_bytes = ram.iter().map(Range::len).sum();

    let mut reserved: heapless::Vec<Reserved, MAX_RESERVED> = heapless::Vec::new();
    let mut reserve = |range: Range, owner: &'static str| {
        reserved
            .push(Reserved { range, owner })
            .map_err(|_| MemmapError::TooManyRanges)
    };
    reserve(placement.image, "kernel image")?;
    reserve(placement.dtb, "device tree")?;
    if let Some(initrd) = platform
        .chosen
        .initrd
        .and_then(|r| Range::new(r.start, r.size))
    {
        reserve(initrd, "initrd")?;
    }
    for r in &platform.reservations {
        if let Some(range) = r.range.and_then(|p| Range::new(p.start, p.size)) {
            reserve(
                range,
                if r.name == "/memreserve/" {
                    "/memreserve/"
                } else {
                    "/reserved-memory"
                },
            )?;
        }
    }

    let holes: heapless::Vec<Range, MAX_RESERVED> = reserved.iter().map(|r| r.range).collect();
    let free =
        ranges::subtract::<MAX_FREE>(&ram, &holes).map_err(|_| MemmapError::TooManyRanges)?;

    // Place the bitmap in the first free range that holds it.
    let words = FrameAllocator::bitmap_words(&ram);
    let bitmap_bytes = ((words * 8) as u64).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let bitmap = free
        .iter()
        .filter_map(|r| r.align_inward(PAGE_SIZE))
        .find(|r| r.len() >= bitmap_bytes)
        .map(|r| Range {
            start: r.start,
            end: r.start + bitmap_bytes,
        })
        .ok_or(MemmapError::NoRoomForBitmap)?;
    reserved
        .push(Reserved {
            range: bitmap,
            owner: "frame bitmap",
        })
        .map_err(|_| MemmapError::TooManyRanges)?;
    let free =
        ranges::subtract::<MAX_FREE>(&free, &[bitmap]).map_err(|_| MemmapError::TooManyRanges)?;

    // SAFETY: the bitmap range is RAM reachable through the linear map, withheld from the
    // allocator, and this is its only reference for the life of the kernel.
    let storage =
        unsafe { core::slice::from_raw_parts_mut(phys_to_virt(bitmap.start) as *mut u64, words) };
    let mut allocator =
        FrameAllocator::new(&ram, storage).map_err(|_| MemmapError::TooManyRanges)?;
    for range in &free {
        allocator.release(*range);
    }
    frames::install(allocator);
    Ok(MEMORY_MAP.call_once(|| MemoryMap {
        ram,
        reserved,
        total_bytes,
    }))
}

/// The memory map, once [`init`] ran.
#[cfg(feature = "ktest")]
pub fn get() -> Option<&'static MemoryMap> {
    MEMORY_MAP.get()
}
