//! Error codes returned in x0.

macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident = $num:literal => $text:literal,)*) => {
        /// Why a system call failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u64)]
        pub enum Error {
            $($(#[$doc])* $name = $num,)*
        }

        impl Error {
            /// The error with code `code` (0 is success, not an error).
            pub fn from_code(code: u64) -> Option<Self> {
                match code {
                    $($num => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// A short explanation.
            pub fn describe(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }
        }
    };
}

errors! {
    /// No such system call.
    UnknownSyscall = 1 => "unknown system call",
    /// The handle is not valid in this process (never was, closed, or stale).
    BadHandle = 2 => "bad handle",
    /// The handle refers to the wrong kind of object.
    WrongType = 3 => "wrong object type",
    /// The handle lacks a right this call needs.
    AccessDenied = 4 => "access denied",
    /// An argument is out of range or inconsistent.
    InvalidArgument = 5 => "invalid argument",
    /// A pointer argument does not point at memory the caller may use that way.
    BadAddress = 6 => "bad address",
    /// The caller's quota (memory, handles, threads) would be exceeded.
    QuotaExceeded = 7 => "quota exceeded",
    /// The kernel is out of memory.
    OutOfMemory = 8 => "out of memory",
    /// The deadline passed.
    TimedOut = 9 => "timed out",
    /// Nothing to do without blocking, and the timeout was zero.
    WouldBlock = 10 => "would block",
    /// The other side of the IPC went away (the server died before replying).
    PeerDied = 11 => "peer died",
    /// There is no call to reply to.
    NoReplyTarget = 12 => "no call to reply to",
    /// The virtual range overlaps an existing mapping.
    AlreadyMapped = 13 => "already mapped",
    /// No mapping starts there with that length.
    NotMapped = 14 => "not mapped",
    /// Someone else is already waiting on it.
    Busy = 15 => "busy",
    /// The object is gone (its process exited or was killed).
    Dead = 16 => "object is dead",
    /// The thread has no IPC buffer but the message needs one.
    NoIpcBuffer = 17 => "no IPC buffer",
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Decodes x0 after a system call.
pub fn check(status: u64) -> Result<(), Error> {
    match status {
        0 => Ok(()),
        code => Err(Error::from_code(code).unwrap_or(Error::InvalidArgument)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 1..=17 {
            let e = Error::from_code(code).unwrap();
            assert_eq!(e as u64, code);
            assert!(!e.describe().is_empty());
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(check(0), Ok(()));
        assert_eq!(check(9), Err(Error::TimedOut));
        assert_eq!(check(999), Err(Error::InvalidArgument));
    }
}
