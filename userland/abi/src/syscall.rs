//! System call numbers and their register conventions.
//!
//! Arguments are listed as (x0, x1, ...) and results as (x1, x2, ...); x0 always returns the
//! status. "h" is a handle, "timeout" is in nanoseconds with [`TIMEOUT_NONE`] meaning "do not
//! wait" and [`TIMEOUT_FOREVER`] meaning "wait as long as it takes".

/// Do not block: fail with `WouldBlock` instead.
pub const TIMEOUT_NONE: u64 = 0;
/// Block without a deadline.
pub const TIMEOUT_FOREVER: u64 = u64::MAX;

macro_rules! syscalls {
    ($($(#[$doc:meta])* $name:ident = $num:literal,)*) => {
        /// Every system call, by number (passed in x8).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u64)]
        pub enum Syscall {
            $($(#[$doc])* $name = $num,)*
        }

        impl Syscall {
            /// The call with number `n`.
            pub fn from_number(n: u64) -> Option<Self> {
                match n {
                    $($num => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// Every call, in number order.
            pub const ALL: &'static [Syscall] = &[$(Self::$name,)*];
        }
    };
}

syscalls! {
    /// () -> (). Does nothing: measures the cost of entering and leaving the kernel.
    Nop = 0,
    /// () -> (). Gives up the rest of the time slice.
    Yield = 1,
    /// (code, notification, bits) -> never. Ends the calling thread; the last thread's exit ends
    /// the process. A notification handle (0 for none) is signalled with `bits` once the thread
    /// is gone; a bad one is an error and the thread does not end.
    ThreadExit = 2,

    /// (code) -> never. Ends the calling process.
    ProcessExit = 3,
    /// (ns) -> (). Sleeps at least `ns` nanoseconds.
    Sleep = 4,
    /// () -> (ns). Monotonic nanoseconds since boot.
    ClockNow = 5,

    /// (h) -> (). Closes a handle.
    HandleClose = 6,
    /// (h, rights) -> (h2). A new handle to the same object with `rights` (a subset). Needs
    /// DUPLICATE.
    HandleDuplicate = 7,
    /// (h, rights, badge) -> (h2). Like duplicate, and stamps a non-zero badge on an unbadged
    /// endpoint or notification handle: receivers see it and know who sent.
    HandleMint = 8,
    /// (h) -> (object type, rights, badge). What a handle refers to.
    HandleInfo = 9,
    /// (h_process, h, rights) -> (h_in_target). Copies a handle, with `rights` (a subset), into
    /// another process. Needs MANAGE on the process and TRANSFER on `h`.
    HandleGrant = 10,

    /// () -> (h). A new IPC endpoint (all endpoint rights).
    EndpointCreate = 11,
    /// (h, info, w0, w1, w2, w3, timeout) -> (info, w0, w1, w2, w3). Sends and waits for the
    /// reply. Needs SEND.
    Call = 12,
    /// (h, info, w0, w1, w2, w3, timeout) -> (). Sends without waiting for a reply. Needs SEND.
    Send = 13,
    /// (h, timeout) -> (info, w0, w1, w2, w3, badge). Waits for a message. Needs RECEIVE.
    Recv = 14,
    /// (info, w0, w1, w2, w3) -> (). Answers the last call received.
    Reply = 15,
    /// (h, info, w0, w1, w2, w3, timeout) -> (info, w0, w1, w2, w3, badge). Reply, then receive.
    ReplyRecv = 16,

    /// () -> (h). A new notification (a word of event bits).
    NotificationCreate = 17,
    /// (h, bits) -> (). Sets bits and wakes the waiter. Needs SIGNAL.
    Signal = 18,
    /// (h, timeout) -> (bits). Waits for any bit and clears them all. Needs WAIT.
    Wait = 19,

    /// (size, flags, h_process) -> (h). A memory object of `size` bytes (rounded up to pages),
    /// zeroed, charged to `h_process` (0: the caller; otherwise MANAGE is needed, as when a loader
    /// builds a program's memory). Flags: [`crate::object::MEM_DMA`] for physically contiguous
    /// memory whose address can be read by holders of the DMA right.
    MemCreate = 20,
    /// (h_process, h_mem, va, offset, len, perms) -> (). Maps part of a memory object or MMIO
    /// region. `h_process` 0 means the caller. perms: [`crate::rights::MAP_READ`] etc.; write
    /// and execute together are refused (W^X).
    MemMap = 21,
    /// (h_process, va, len) -> (). Removes the mapping that starts at `va` with length `len`.
    MemUnmap = 22,
    /// (h_mem) -> (pa). Physical address of a DMA memory object. Needs DMA.
    MemPhysAddr = 23,

    /// (name_ptr, name_len, quota_ptr, h_supervisor, badge) -> (h_process). A new, empty process
    /// whose limits are carved out of the caller's. Faults and the exit of the new process are
    /// reported on the endpoint `h_supervisor` with `badge`.
    ProcessCreate = 24,
    /// (h_process) -> (). Stops a process and reclaims everything it holds. Needs MANAGE.
    ProcessKill = 25,
    /// (h_process, entry, stack_top, arg, priority, cpu) -> (h_thread). A suspended thread in
    /// the process; `cpu` [`crate::object::ANY_CPU`] lets the scheduler choose.
    ThreadCreate = 26,
    /// (h_thread) -> (). Makes a created thread runnable. Needs MANAGE.
    ThreadStart = 27,
    /// (va) -> (). Registers the calling thread's IPC buffer (a page mapped read-write).
    ThreadSetIpcBuffer = 28,

    /// (h_resource, intid) -> (h_irq). A handle for device interrupt `intid`.
    IrqCreate = 29,
    /// (h_irq, h_notification, bits) -> (). Interrupts signal `bits` on the notification.
    IrqBind = 30,
    /// (h_irq) -> (). Re-enables the interrupt after the driver has serviced the device.
    IrqAck = 31,
    /// (h_resource, pa, size) -> (h_mmio). A mappable handle for device registers.
    MmioCreate = 32,

    /// (h_system, ptr, len) -> (). Writes text to the kernel console. Needs LOG.
    DebugWrite = 33,
    /// (h_system, kind, ptr, len) -> (bytes written). Kernel statistics for tools.
    SystemInfo = 34,
    /// (h_system, op, arg) -> (). Kernel controls (log level, console hand-over).
    SystemControl = 35,
    /// (h_process) -> (state, exit code). Whether a process is running, faulted or exited.
    ProcessStatus = 36,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_dense() {
        for (i, call) in Syscall::ALL.iter().enumerate() {
            assert_eq!(*call as u64, i as u64);
            assert_eq!(Syscall::from_number(i as u64), Some(*call));
        }
        assert_eq!(Syscall::from_number(Syscall::ALL.len() as u64), None);
        assert_eq!(Syscall::from_number(u64::MAX), None);
    }
}
