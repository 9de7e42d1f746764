//! Exit statuses of the kernel, shared with the tools that run it.
//!
//! Under QEMU the kernel ends through semihosting with one of these statuses, so a test harness
//! can tell a passing test run from each way a boot can fail, even when the failure happened
//! before there was a console to explain it. On hardware without semihosting the kernel halts
//! instead (after printing the same message, when it has a console).

/// Why the kernel stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitStatus {
    /// Clean shutdown; every kernel test passed.
    Success = 0,
    /// At least one kernel test failed.
    TestsFailed = 1,
    /// The kernel panicked (a bug in the kernel).
    Panic = 2,
    /// x0 held no device tree (zero or no FDT magic). No console is known.
    NoDeviceTree = 3,
    /// The device tree is corrupt or truncated. No console is known.
    BadDeviceTree = 4,
    /// The tree names no console the kernel can drive.
    NoConsole = 5,
    /// The tree describes no usable memory.
    NoMemory = 6,
    /// The root interrupt controller is missing or not supported.
    UnsupportedInterruptController = 7,
    /// Something else essential is missing or unsupported (timer, CPUs, address ranges).
    UnsupportedPlatform = 8,
    /// The boot archive is present but malformed.
    BadBootArchive = 9,
    /// The kernel ran out of memory while starting.
    OutOfMemory = 10,
    /// An exception the kernel could not handle (reported with registers).
    UnhandledException = 11,
}

impl ExitStatus {
    /// All statuses, for tools that decode them.
    pub const ALL: [ExitStatus; 12] = [
        Self::Success,
        Self::TestsFailed,
        Self::Panic,
        Self::NoDeviceTree,
        Self::BadDeviceTree,
        Self::NoConsole,
        Self::NoMemory,
        Self::UnsupportedInterruptController,
        Self::UnsupportedPlatform,
        Self::BadBootArchive,
        Self::OutOfMemory,
        Self::UnhandledException,
    ];

    /// The status a process exit code stands for.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as i32 == code)
    }

    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::TestsFailed => "kernel tests failed",
            Self::Panic => "kernel panic",
            Self::NoDeviceTree => "no device tree",
            Self::BadDeviceTree => "corrupt or truncated device tree",
            Self::NoConsole => "no usable console in the device tree",
            Self::NoMemory => "no usable memory in the device tree",
            Self::UnsupportedInterruptController => "unsupported interrupt controller",
            Self::UnsupportedPlatform => "unsupported platform",
            Self::BadBootArchive => "bad boot archive",
            Self::OutOfMemory => "out of memory during boot",
            Self::UnhandledException => "unhandled exception",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        for (i, s) in ExitStatus::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(ExitStatus::from_code(i as i32), Some(*s));
        }
        assert_eq!(ExitStatus::from_code(99), None);
    }
}
