//! Where things live in a user address space: conventions shared by the kernel's root-task
//! loader, `init` (which loads every other program) and the user runtime.
//!
//! ```text
//! 0x0000_0000_0020_0000  program (linked here)
//! 0x0000_0010_0000_0000  heap (grows up)
//! 0x0000_0020_0000_0000  mapping area (shared memory, the boot archive, device registers)
//! 0x0000_007f_0000_0000  top of the main thread's stack (an unmapped guard page below it)
//! 0x0000_007f_8000_0000  IPC buffers, one page per thread with a gap between
//! ```

/// Where programs are linked.
pub const PROGRAM_BASE: u64 = 0x20_0000;
/// Start of the heap.
pub const HEAP_BASE: u64 = 0x10_0000_0000;
/// Most the heap may grow to.
pub const HEAP_LIMIT: u64 = 0x10_0000_0000;
/// Start of the area for other mappings.
pub const MAP_AREA: u64 = 0x20_0000_0000;
/// Top of the main thread's stack.
pub const STACK_TOP: u64 = 0x7f_0000_0000;
/// Size of the main thread's stack.
pub const MAIN_STACK_SIZE: u64 = 256 * 1024;
/// Size of other threads' stacks.
pub const THREAD_STACK_SIZE: u64 = 64 * 1024;
/// Distance between the tops of thread stacks (stack plus guard gap).
pub const THREAD_STACK_STRIDE: u64 = 1 << 20;
/// IPC buffer of thread `n` is at `IPC_BUFFERS + n * IPC_BUFFER_STRIDE`.
pub const IPC_BUFFERS: u64 = 0x7f_8000_0000;
/// Distance between IPC buffers.
pub const IPC_BUFFER_STRIDE: u64 = 2 * 4096;

/// How the kernel starts the root task (`bin/init` in the boot archive): its registers at entry.
pub mod root_task {
    /// x0: handle of the system object (every right).
    pub const SYSTEM: usize = 0;
    /// x1: handle of a read-only memory object holding the boot archive.
    pub const ARCHIVE: usize = 1;
    /// x2: offset of the archive in that object.
    pub const ARCHIVE_OFFSET: usize = 2;
    /// x3: length of the archive.
    pub const ARCHIVE_LEN: usize = 3;
    /// x4: handle of a read-only memory object holding the device tree.
    pub const DTB: usize = 4;
    /// x5: offset of the device tree in that object.
    pub const DTB_OFFSET: usize = 5;
    /// x6: length of the device tree.
    pub const DTB_LEN: usize = 6;
    /// x7: handle of the root task's own process.
    pub const SELF: usize = 7;
}
