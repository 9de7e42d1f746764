//! The global physical frame allocator (see `nimbus_kcore::frames` for the algorithm).

use crate::arch::aarch64::cpu::IrqGuard;
use crate::mm::{PAGE_SIZE, phys_to_virt};
use crate::sync::Mutex;
use nimbus_kcore::frames::FrameAllocator;

static FRAMES: Mutex<Option<FrameAllocator<'static>>> = Mutex::new(None);

/// Makes `allocator` the kernel's frame allocator.
pub fn install(allocator: FrameAllocator<'static>) {
    *FRAMES.lock() = Some(allocator);
}

fn with<R>(f: impl FnOnce(&mut FrameAllocator<'static>) -> R) -> Option<R> {
    let _irqs = IrqGuard::new();
    FRAMES.lock().as_mut().map(f)
}

/// One frame (contents undefined).
pub fn alloc() -> Option<u64> {
    with(|fa| fa.alloc()).flatten()
}

/// One zero-filled frame.
pub fn alloc_zeroed() -> Option<u64> {
    let pa = alloc()?;
    zero(pa, 1);
    Some(pa)
}

/// `count` zero-filled contiguous frames aligned to `align` bytes.
pub fn alloc_contiguous_zeroed(count: u64, align: u64) -> Option<u64> {
    let pa = with(|fa| fa.alloc_contiguous(count, align)).flatten()?;
    zero(pa, count);
    Some(pa)
}

fn zero(pa: u64, count: u64) {
    // SAFETY: the frames were just allocated, so nothing else refers to them, and RAM is
    // reachable through the linear map.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, (count * PAGE_SIZE) as usize) };
}

/// Returns a frame. Freeing a frame that is not allocated is a kernel bug and is reported.
pub fn free(pa: u64) {
    if let Some(Err(e)) = with(|fa| fa.free(pa)) {
        log::error!("frame allocator: bad free of {pa:#x}: {e:?}");
    }
}

/// Returns `count` contiguous frames.
pub fn free_contiguous(pa: u64, count: u64) {
    if let Some(Err(e)) = with(|fa| fa.free_contiguous(pa, count)) {
        log::error!("frame allocator: bad free of {count} frames at {pa:#x}: {e:?}");
    }
}

/// Frames free now.
pub fn free_frames() -> u64 {
    with(|fa| fa.free_frames()).unwrap_or(0)
}

/// Frames the allocator manages (free or in use).
pub fn managed_frames() -> u64 {
    with(|fa| fa.managed_frames()).unwrap_or(0)
}

/// Whether the frame at `pa` is free (for tests and checks).
#[cfg(feature = "ktest")]
pub fn is_free(pa: u64) -> bool {
    with(|fa| fa.is_free(pa)).unwrap_or(false)
}
