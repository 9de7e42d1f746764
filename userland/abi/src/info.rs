//! Records returned by `SystemInfo`, and `SystemControl` operations.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// SystemInfo kind: an array of [`ProcessRecord`].
pub const INFO_PROCESSES: u64 = 1;
/// SystemInfo kind: one [`KernelRecord`].
pub const INFO_KERNEL: u64 = 2;
/// SystemInfo kind: kernel log text produced since the console was handed over (consumed).
pub const INFO_KERNEL_LOG: u64 = 3;

/// SystemControl: set the kernel log level (arg 0 = off .. 5 = trace).
pub const CONTROL_LOG_LEVEL: u64 = 1;
/// SystemControl: the console server takes the UART; the kernel stops printing to it and keeps
/// its log in a buffer read with [`INFO_KERNEL_LOG`].
pub const CONTROL_RELEASE_CONSOLE: u64 = 2;
/// SystemControl: print the "userland ready" line (arg = number of processes).
pub const CONTROL_USERLAND_READY: u64 = 3;
/// SystemControl: power off (arg = exit status for the host when running under QEMU: 0 success,
/// 1 tests failed).
pub const CONTROL_SHUTDOWN: u64 = 4;

/// One process, for `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct ProcessRecord {
    /// Kernel process id.
    pub pid: u32,
    /// [`crate::object::ProcessState`] code.
    pub state: u32,
    /// Live threads.
    pub threads: u32,
    /// Handles held.
    pub handles: u32,
    /// Bytes charged to its quota.
    pub memory_used: u64,
    /// Its memory quota.
    pub memory_limit: u64,
    /// Its name, NUL-padded.
    pub name: [u8; 32],
}

/// Kernel-wide figures, for `meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct KernelRecord {
    /// Frames of RAM the allocator manages.
    pub total_frames: u64,
    /// Frames free.
    pub free_frames: u64,
    /// Bytes the kernel heap spans.
    pub heap_size: u64,
    /// Bytes of the heap in use.
    pub heap_used: u64,
    /// Live kernel objects of every kind.
    pub objects: u64,
    /// Live processes.
    pub processes: u64,
    /// Live threads.
    pub threads: u64,
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
    /// CPUs online.
    pub cpus: u64,
}
