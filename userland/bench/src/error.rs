//! Why a benchmark could not run. Any of these ends the run with an `error` line and a non-zero
//! power-off status, so `cargo xtask bench` never reports figures from a half-broken run.

use nimbus_abi::Error;
use nimbus_boot::archive::ArchiveError;
use nimbus_rt::process::LoaderError;

/// What went wrong.
#[derive(Debug)]
pub enum BenchError {
    /// The kernel refused a call.
    Kernel {
        /// What was being done.
        what: &'static str,
        /// The kernel's answer.
        error: Error,
    },
    /// A timed call failed: the raw status it returned.
    CallFailed {
        /// Which loop.
        what: &'static str,
        /// x0 after the call.
        status: u64,
    },
    /// The boot archive is malformed.
    Archive(ArchiveError),
    /// A program is missing from the boot archive.
    MissingProgram(&'static str),
    /// A program could not be loaded into its process.
    Load(LoaderError),
    /// A start block overflowed.
    StartBlock,
    /// The notification waiter woke a different number of times than it was signalled.
    LostWakeups {
        /// Signals sent.
        signals: u64,
        /// Wake-ups it counted.
        wakes: u64,
    },
    /// A spawned program did not exit with 0: the notice's label and first word.
    ChildFailed {
        /// Label of the kernel's notice.
        label: u32,
        /// Exit code (or fault kind).
        code: u64,
    },
    /// A benchmark thread ended without a result.
    NoResult,
}

impl core::fmt::Display for BenchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Kernel { what, error } => write!(f, "{what}: {error}"),
            Self::CallFailed { what, status } => match Error::from_code(*status) {
                Some(e) => write!(f, "{what}: {e}"),
                None => write!(f, "{what}: status {status}"),
            },
            Self::Archive(e) => write!(f, "boot archive: {e}"),
            Self::MissingProgram(path) => write!(f, "the boot archive has no {path}"),
            Self::Load(e) => write!(f, "cannot load a program: {e}"),
            Self::StartBlock => write!(f, "a start block overflowed"),
            Self::LostWakeups { signals, wakes } => {
                write!(f, "{signals} signals woke the waiter {wakes} times")
            }
            Self::ChildFailed { label, code } => {
                write!(
                    f,
                    "the spawned program ended badly (notice {label:#x}, code {code})"
                )
            }
            Self::NoResult => write!(f, "a benchmark thread ended without a result"),
        }
    }
}

impl From<LoaderError> for BenchError {
    fn from(e: LoaderError) -> Self {
        Self::Load(e)
    }
}

/// Names what was being done when the kernel said no.
pub trait Context<T> {
    /// `sys::endpoint_create().context("creating the endpoint")?`
    fn context(self, what: &'static str) -> Result<T, BenchError>;
}

impl<T> Context<T> for Result<T, Error> {
    fn context(self, what: &'static str) -> Result<T, BenchError> {
        self.map_err(|error| BenchError::Kernel { what, error })
    }
}

/// Turns the status of a timed call into a result.
pub fn check(what: &'static str, status: u64) -> Result<(), BenchError> {
    match status {
        0 => Ok(()),
        status => Err(BenchError::CallFailed { what, status }),
    }
}
