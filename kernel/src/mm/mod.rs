//! Memory management: the kernel's address space, physical frames and the kernel heap.
//!
//! Start-up order matters: the kernel page tables are built from a small pool inside the image
//! (nothing else is mapped yet), then the frame allocator is set up over the linear map those
//! tables provide, and only then the heap, which grows on demand with frames mapped into the
//! vmap area.

pub mod frames;
pub mod heap;
pub mod kspace;
pub mod memmap;
pub mod vmap;

pub use nimbus_boot::layout::PAGE_SIZE;

/// The linear-map address of physical address `pa` (which must be RAM the tables cover).
pub fn phys_to_virt(pa: u64) -> u64 {
    nimbus_boot::layout::LINEAR_MAP_BASE + pa
}
