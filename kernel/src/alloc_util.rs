//! Fallible heap allocation for kernel objects userland causes to exist: running out must be an
//! error returned to the caller, never an abort.

use alloc::boxed::Box;
use core::alloc::Layout;

/// Moves `value` to the heap, or gives it back if the heap cannot grow.
pub fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc::alloc::alloc(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(value);
    }
    // SAFETY: `ptr` is a fresh allocation with T's layout from the global allocator: valid and
    // aligned for one T, and Box::from_raw takes over exactly such an allocation.
    unsafe {
        ptr.write(value);
        Ok(Box::from_raw(ptr))
    }
}
