//! Handles and the kinds of kernel object they name.

/// A process-local name for a kernel object. 0 is never valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Handle(pub u32);

impl Handle {
    /// The invalid handle (also "the calling process" where a process handle is expected).
    pub const NONE: Handle = Handle(0);

    /// The raw value, as passed in a register.
    pub const fn raw(self) -> u64 {
        self.0 as u64
    }
}

/// The kinds of kernel object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum ObjectType {
    /// Synchronous IPC rendezvous.
    Endpoint = 1,
    /// A word of event bits.
    Notification = 2,
    /// Pages of memory.
    Memory = 3,
    /// An address space with handles and threads.
    Process = 4,
    /// A thread of execution.
    Thread = 5,
    /// A device interrupt.
    Irq = 6,
    /// Device registers.
    Mmio = 7,
    /// The kernel itself: console, statistics, controls, devices.
    System = 8,
}

impl ObjectType {
    /// The type with this code.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::Endpoint,
            2 => Self::Notification,
            3 => Self::Memory,
            4 => Self::Process,
            5 => Self::Thread,
            6 => Self::Irq,
            7 => Self::Mmio,
            8 => Self::System,
            _ => return None,
        })
    }
}

/// MemCreate flag: physically contiguous memory for device DMA.
pub const MEM_DMA: u64 = 1;
/// ThreadCreate: let the scheduler pick (and change) the CPU.
pub const ANY_CPU: u64 = u64::MAX;
/// Highest thread priority; 0 is the lowest. Higher priorities always run first.
pub const MAX_PRIORITY: u64 = 31;

/// ProcessStatus states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum ProcessState {
    /// Created, or running.
    Running = 1,
    /// Stopped by a fault, waiting for its supervisor.
    Faulted = 2,
    /// Exited or killed; only the handle remains.
    Exited = 3,
}

impl ProcessState {
    /// The state with this code.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Self::Running),
            2 => Some(Self::Faulted),
            3 => Some(Self::Exited),
            _ => None,
        }
    }
}
