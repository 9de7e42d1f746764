//! The behaviours of the test child, shared with the test suite that starts it (start value
//! `mode`).

#![cfg_attr(not(test), no_std)]

/// Exit code of [`Mode::Exit`].
pub const EXIT_CODE: i32 = 42;
/// Address [`Mode::ReadUnmapped`] reads (nothing is ever mapped there).
pub const UNMAPPED_ADDRESS: u64 = 0x0000_0000_dead_0000;
/// Pattern [`Mode::SharedWriter`] writes into shared memory (one u64 per 8 bytes: index ^ this).
pub const SHARED_PATTERN: u64 = 0x5eed_5eed_5eed_5eed;

macro_rules! modes {
    ($($(#[$doc:meta])* $name:ident = $n:literal,)*) => {
        /// What the child does.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Mode { $($(#[$doc])* $name = $n,)* }

        impl Mode {
            /// The mode with this number.
            pub fn from_u32(n: u32) -> Option<Self> {
                match n { $($n => Some(Self::$name),)* _ => None }
            }
        }
    };
}

modes! {
    /// Exit with [`EXIT_CODE`].
    Exit = 1,
    /// Write to its own code.
    WriteText = 2,
    /// Read [`UNMAPPED_ADDRESS`].
    ReadUnmapped = 3,
    /// Jump into its stack.
    ExecData = 4,
    /// Execute an undefined instruction.
    Undefined = 5,
    /// Execute a privileged instruction (mask interrupts).
    Privileged = 6,
    /// Recurse until the stack's guard page.
    StackOverflow = 7,
    /// Make a misaligned exclusive access.
    Misaligned = 8,
    /// Try every small handle value and exit with how many work.
    ProbeHandles = 9,
    /// Serve `serve`: reply with words + 1, the data reversed, and the handles sent back.
    Echo = 10,
    /// Receive on `serve` and never reply.
    Silent = 11,
    /// Spin forever.
    Spin = 12,
    /// Make `iterations` random system calls with random arguments, then exit 0.
    Fuzz = 13,
    /// Create 64 KiB memory objects until the quota says no; exit with how many.
    AllocUntilQuota = 14,
    /// Map `shm` read-write, fill it with [`SHARED_PATTERN`], signal `done`.
    SharedWriter = 15,
}
