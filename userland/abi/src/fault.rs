//! What the kernel tells a supervisor about its processes.

/// Why a process was stopped (w0 of a fault message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum FaultKind {
    /// Access to an unmapped address.
    UnmappedAddress = 1,
    /// Access the mapping does not allow (write to read-only, execute non-executable).
    PermissionDenied = 2,
    /// Misaligned access, PC or stack pointer.
    Misaligned = 3,
    /// Undefined or unallocated instruction.
    UndefinedInstruction = 4,
    /// Privileged register or instruction used from user mode.
    PrivilegedInstruction = 5,
    /// An access hit the unmapped guard page just below the stack pointer.
    StackOverflow = 6,
    /// Breakpoint or other debug exception.
    Breakpoint = 7,
    /// Anything else.
    Other = 8,
}

impl FaultKind {
    /// The kind with this code.
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            1 => Self::UnmappedAddress,
            2 => Self::PermissionDenied,
            3 => Self::Misaligned,
            4 => Self::UndefinedInstruction,
            5 => Self::PrivilegedInstruction,
            6 => Self::StackOverflow,
            7 => Self::Breakpoint,
            8 => Self::Other,
            _ => return None,
        })
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::UnmappedAddress => "access to unmapped address",
            Self::PermissionDenied => "permission fault",
            Self::Misaligned => "misaligned access",
            Self::UndefinedInstruction => "undefined instruction",
            Self::PrivilegedInstruction => "privileged instruction",
            Self::StackOverflow => "stack overflow",
            Self::Breakpoint => "breakpoint",
            Self::Other => "fault",
        }
    }
}

/// How a process ended (w1 of an exit message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum ExitKind {
    /// It called ProcessExit, or its last thread exited.
    Exited = 0,
    /// Someone killed it.
    Killed = 1,
}
