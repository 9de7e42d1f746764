//! The vmap area: kernel mappings that need room around them, such as stacks with an unmapped
//! guard page below, so an overflow faults instead of silently corrupting a neighbour.

use crate::mm::{PAGE_SIZE, frames, kspace};
use core::sync::atomic::{AtomicU64, Ordering};
use nimbus_boot::layout::VMAP_BASE;

/// Where the heap lives in the vmap area (it grows upwards from here).
pub const HEAP_BASE: u64 = VMAP_BASE;
/// Most the heap may grow to.
pub const HEAP_MAX: u64 = 1 << 32;
/// Where stacks are placed.
const STACKS_BASE: u64 = VMAP_BASE + HEAP_MAX;
/// Address space per stack: the stack plus unmapped guard space below it.
const STACK_SLOT: u64 = 256 * 1024;

static NEXT_STACK_SLOT: AtomicU64 = AtomicU64::new(0);

/// A kernel stack; `top` is the initial stack pointer.
#[derive(Debug, Clone, Copy)]
pub struct Stack {
    /// Initial stack pointer (one past the highest mapped byte).
    pub top: u64,
    /// Lowest mapped address; the page below it is a guard.
    pub bottom: u64,
}

/// Maps a fresh stack of `size` bytes (rounded up to pages) with a guard page below it.
pub fn alloc_stack(size: u64) -> Option<Stack> {
    let size = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    if size == 0 || size + PAGE_SIZE > STACK_SLOT {
        return None;
    }
    let slot = NEXT_STACK_SLOT.fetch_add(1, Ordering::Relaxed);
    let top = STACKS_BASE + (slot + 1) * STACK_SLOT;
    let bottom = top - size;
    map_fresh_pages(bottom, size)?;
    Some(Stack { top, bottom })
}

/// Backs `[va, va + len)` with fresh zeroed frames, read-write and not executable.
pub fn map_fresh_pages(va: u64, len: u64) -> Option<()> {
    let mut offset = 0;
    while offset < len {
        let pa = frames::alloc_zeroed()?;
        let mapped = kspace::with(|k| k.map(va + offset, pa, PAGE_SIZE, kspace::NORMAL_RW, true))
            .unwrap_or(Err(kspace::KspaceError::Map));
        if mapped.is_err() {
            frames::free(pa);
            return None;
        }
        offset += PAGE_SIZE;
    }
    Some(())
}
