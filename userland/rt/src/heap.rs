//! The heap: linked_list_allocator over a region at `HEAP_BASE` that grows by mapping fresh
//! memory objects (charged to this process's quota) when it runs out.

use crate::sys;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{NonNull, null_mut};
use linked_list_allocator::Heap;
use nimbus_abi::layout::{HEAP_BASE, HEAP_LIMIT};
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_abi::{Error, Handle};
use spin::Mutex;

#[cfg(target_os = "none")]
const INITIAL: u64 = 64 * 1024;
const STEP: u64 = 64 * 1024;

/// The process heap.
pub struct UserHeap {
    heap: Mutex<Heap>,
}

#[cfg(target_os = "none")]
#[global_allocator]
static HEAP: UserHeap = UserHeap::new();

impl UserHeap {
    /// An empty heap; [`init`] maps its first pages.
    pub const fn new() -> Self {
        Self {
            heap: Mutex::new(Heap::empty()),
        }
    }
}

impl Default for UserHeap {
    fn default() -> Self {
        Self::new()
    }
}

fn map_more(at: u64, len: u64) -> Result<(), Error> {
    if at + len > HEAP_BASE + HEAP_LIMIT {
        return Err(Error::QuotaExceeded);
    }
    let memory = sys::mem_create(len, 0)?;
    let mapped = sys::mem_map(Handle::NONE, memory, at, 0, len, MAP_READ | MAP_WRITE);
    // The mapping keeps the memory alive; the handle is not needed any more.
    let _ = sys::handle_close(memory);
    mapped
}

/// Maps the first pages of the heap.
pub fn init() -> Result<(), Error> {
    #[cfg(target_os = "none")]
    {
        map_more(HEAP_BASE, INITIAL)?;
        // SAFETY: the range was just mapped read-write for the heap alone.
        unsafe {
            HEAP.heap
                .lock()
                .init(HEAP_BASE as *mut u8, INITIAL as usize)
        };
    }
    Ok(())
}

// SAFETY: allocation goes through linked_list_allocator under a lock; growing only maps fresh
// pages right above the current top.
unsafe impl GlobalAlloc for UserHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.heap.lock();
        if let Ok(ptr) = heap.allocate_first_fit(layout) {
            return ptr.as_ptr();
        }
        let need = (layout.size() + layout.align()) as u64;
        let step = need.max(STEP).div_ceil(4096) * 4096;
        if heap.size() == 0 || map_more(heap.top() as u64, step).is_err() {
            return null_mut();
        }
        // SAFETY: the pages right above the top were just mapped for the heap.
        unsafe { heap.extend(step as usize) };
        heap.allocate_first_fit(layout)
            .map_or(null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: GlobalAlloc's contract: `ptr` came from `alloc` with this layout.
            unsafe { self.heap.lock().deallocate(ptr, layout) };
        }
    }
}
