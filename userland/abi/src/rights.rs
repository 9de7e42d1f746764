//! Rights carried by a handle. They can only be reduced: duplicating, minting or sending a
//! handle yields a subset.

bitflags::bitflags! {
    /// What a handle allows.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Rights: u32 {
        /// Map memory readable.
        const READ = 1 << 0;
        /// Map memory writable.
        const WRITE = 1 << 1;
        /// Map memory executable.
        const EXECUTE = 1 << 2;
        /// Read a DMA memory object's physical address.
        const DMA = 1 << 3;
        /// Call or send on an endpoint.
        const SEND = 1 << 4;
        /// Receive on an endpoint.
        const RECEIVE = 1 << 5;
        /// Signal a notification.
        const SIGNAL = 1 << 6;
        /// Wait on a notification.
        const WAIT = 1 << 7;
        /// Make more handles to the object.
        const DUPLICATE = 1 << 8;
        /// Send the handle to another process.
        const TRANSFER = 1 << 9;
        /// Control a process or thread (map into it, create threads, grant handles, kill), or
        /// bind and acknowledge an interrupt.
        const MANAGE = 1 << 10;
        /// Write to the kernel console (system object).
        const LOG = 1 << 11;
        /// Read kernel statistics (system object).
        const INFO = 1 << 12;
        /// Change kernel settings (system object).
        const CONTROL = 1 << 13;
        /// Create interrupt and MMIO handles for devices (system object).
        const DEVICE = 1 << 14;
    }
}

impl Rights {
    /// Whether `self` may be derived from `from` (is a subset).
    pub fn is_subset_of(self, from: Rights) -> bool {
        from.contains(self)
    }
}

/// MemMap permission: readable.
pub const MAP_READ: u64 = 1;
/// MemMap permission: writable.
pub const MAP_WRITE: u64 = 2;
/// MemMap permission: executable.
pub const MAP_EXEC: u64 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets() {
        let rw = Rights::READ | Rights::WRITE;
        assert!(Rights::READ.is_subset_of(rw));
        assert!(!Rights::EXECUTE.is_subset_of(rw));
        assert!(Rights::empty().is_subset_of(Rights::empty()));
    }
}
