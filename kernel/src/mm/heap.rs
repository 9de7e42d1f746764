//! The kernel heap: linked_list_allocator over a region of the vmap area that grows on demand.
//!
//! The heap's virtual range is contiguous while its frames come from anywhere, so the allocator
//! can always `extend` at the top. Kernel objects that userland causes to exist are charged to
//! that process's quota before they are allocated, so userland cannot exhaust the heap.

use crate::arch::aarch64::cpu::IrqGuard;
use crate::mm::{PAGE_SIZE, vmap};
use crate::sync::Mutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{NonNull, null_mut};
use linked_list_allocator::Heap;

/// Bytes mapped when the heap starts.
const INITIAL_SIZE: u64 = 256 * 1024;
/// Smallest growth step.
const GROW_STEP: u64 = 64 * 1024;

struct KernelHeap {
    heap: Mutex<Heap>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: Mutex::new(Heap::empty()),
};

/// Maps the initial heap. Needs the frame allocator and live kernel tables.
pub fn init() -> Option<()> {
    vmap::map_fresh_pages(vmap::HEAP_BASE, INITIAL_SIZE)?;
    // SAFETY: the range was just mapped read-write for the heap alone.
    unsafe {
        HEAP.heap
            .lock()
            .init(vmap::HEAP_BASE as *mut u8, INITIAL_SIZE as usize)
    };
    Some(())
}

/// Bytes the heap spans and bytes in use.
pub fn usage() -> (usize, usize) {
    let _irqs = IrqGuard::new();
    let heap = HEAP.heap.lock();
    (heap.size(), heap.used())
}

impl KernelHeap {
    fn grow(heap: &mut Heap, layout: Layout) -> Option<()> {
        let need = (layout.size() + layout.align()) as u64;
        let step = need.max(GROW_STEP).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let top = heap.top() as u64;
        if top + step > vmap::HEAP_BASE + vmap::HEAP_MAX {
            return None;
        }
        vmap::map_fresh_pages(top, step)?;
        // SAFETY: the pages just past the heap's top were mapped for it.
        unsafe { heap.extend(step as usize) };
        Some(())
    }
}

// SAFETY: allocation and deallocation go through linked_list_allocator under a lock with IRQs
// masked; growing maps new pages only above the current top.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _irqs = IrqGuard::new();
        let mut heap = self.heap.lock();
        if let Ok(ptr) = heap.allocate_first_fit(layout) {
            return ptr.as_ptr();
        }
        if heap.size() == 0 || Self::grow(&mut heap, layout).is_none() {
            return null_mut();
        }
        heap.allocate_first_fit(layout)
            .map_or(null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _irqs = IrqGuard::new();
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: GlobalAlloc's contract: `ptr` came from `alloc` with this layout.
            unsafe { self.heap.lock().deallocate(ptr, layout) };
        }
    }
}
