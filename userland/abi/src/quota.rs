//! Resource limits a creator sets for a new process.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Limits for a new process, carved out of its creator's own. Memory covers frames (mapped or
/// not), page tables and kernel objects the process causes to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Quota {
    /// Bytes of memory.
    pub memory_bytes: u64,
    /// Handles the process may hold at once.
    pub handles: u32,
    /// Threads the process may have at once.
    pub threads: u32,
    /// Highest priority its threads may have.
    pub max_priority: u32,
    /// Must be zero.
    pub reserved: u32,
}
