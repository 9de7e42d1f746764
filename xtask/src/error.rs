//! The one error type of xtask.
//!
//! Every command ends in either success or one of these, printed as a single `error: ...` line by
//! `main`. Variants keep the context a person needs to act (which file, which command), so no
//! command has to print its own error and then exit.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a command failed.
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong (the message says how).
    Usage(String),
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A program could not be started.
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A program ran and failed.
    Failed { what: String, status: String },
    /// A tool is missing and could not be installed.
    MissingTool(String),
    /// The kernel ELF is not what the Image conversion expects.
    Elf(String),
    /// The Image header is wrong.
    Header(nimbus_boot::header::HeaderError),
    /// A device tree could not be read or edited (the message names the tree).
    DeviceTree(String),
    /// Anything else, with a message that stands on its own.
    Other(String),
    /// The user pressed Ctrl-C (or the process got SIGTERM/SIGHUP).
    Interrupted,
}

/// xtask's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) => write!(f, "{m} (see `cargo xtask help`)"),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Spawn { program, source } => write!(f, "cannot run `{program}`: {source}"),
            Self::Failed { what, status } => write!(f, "{what} failed ({status})"),
            Self::MissingTool(m) => write!(f, "{m}"),
            Self::Elf(m) => write!(f, "kernel ELF: {m}"),
            Self::Header(e) => write!(f, "Image header: {e}"),
            Self::DeviceTree(m) => write!(f, "{m}"),
            Self::Other(m) => write!(f, "{m}"),
            Self::Interrupted => write!(f, "interrupted"),
        }
    }
}

impl std::error::Error for Error {}

impl From<nimbus_boot::header::HeaderError> for Error {
    fn from(e: nimbus_boot::header::HeaderError) -> Self {
        Self::Header(e)
    }
}
