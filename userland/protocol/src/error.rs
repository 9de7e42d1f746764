//! What can go wrong with a call, and how it travels in a reply.

use crate::{KernelError, MessageInfo};
use core::fmt;

/// Reply status codes (the reply's whole label). Detail travels in the reply's words.
pub mod status {
    /// Success: the body holds the result.
    pub const OK: u32 = 0;
    /// The replier could not encode its message (a result too large for the buffer).
    pub const ENCODE: u32 = 1;
    /// The request body or handles did not decode.
    pub const DECODE: u32 = 2;
    /// w0 = the request's label.
    pub const UNKNOWN_METHOD: u32 = 3;
    /// w0 = the replier's version, w1 = the request's.
    pub const VERSION_MISMATCH: u32 = 4;
    /// w0 = the replier's protocol id, w1 = the request's.
    pub const WRONG_PROTOCOL: u32 = 5;
    /// The request carried more handles than the method takes.
    pub const TOO_MANY_HANDLES: u32 = 6;
    /// w0 = a code the server chose.
    pub const SERVER: u32 = 7;
    /// w0 = a kernel error code the replier met (a proxy passing one on).
    pub const IPC: u32 = 8;
}

/// Why a call failed. Where the two sides see it differently (`expected`/`got`,
/// `ours`/`theirs`), the fields are from the point of view of whoever holds the value: a server's
/// [`crate::Rejected`] has the server's id in `expected`, the client that receives the reply has
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// The kernel refused the call (bad handle, peer died, ...).
    Ipc(KernelError),
    /// The message did not fit the IPC buffer.
    Encode,
    /// The message was malformed: short, garbage, trailing bytes, missing handles.
    Decode,
    /// The method index in `label` is not part of the protocol.
    UnknownMethod {
        /// The whole request label.
        label: u32,
    },
    /// Both sides speak the protocol, but different versions of it.
    VersionMismatch {
        /// This side's version.
        ours: u8,
        /// The other side's.
        theirs: u8,
    },
    /// The endpoint serves a different protocol.
    WrongProtocol {
        /// The protocol this side speaks.
        expected: u16,
        /// The protocol the other side spoke.
        got: u16,
    },
    /// The message carried more handles than the method takes (or than fit in a message).
    TooManyHandles,
    /// A status the server chose to send instead of a result.
    Server(u32),
}

impl ProtocolError {
    /// The reply label that carries this error.
    pub const fn status(&self) -> u32 {
        match self {
            Self::Encode => status::ENCODE,
            Self::Decode => status::DECODE,
            Self::UnknownMethod { .. } => status::UNKNOWN_METHOD,
            Self::VersionMismatch { .. } => status::VERSION_MISMATCH,
            Self::WrongProtocol { .. } => status::WRONG_PROTOCOL,
            Self::TooManyHandles => status::TOO_MANY_HANDLES,
            Self::Server(_) => status::SERVER,
            Self::Ipc(_) => status::IPC,
        }
    }

    /// The reply message for this error, as the replier sees it: (descriptor, words).
    pub const fn to_reply(&self) -> (MessageInfo, [u64; 4]) {
        let words = match *self {
            Self::UnknownMethod { label } => [label as u64, 0, 0, 0],
            Self::VersionMismatch { ours, theirs } => [ours as u64, theirs as u64, 0, 0],
            Self::WrongProtocol { expected, got } => [expected as u64, got as u64, 0, 0],
            Self::Server(code) => [code as u64, 0, 0, 0],
            Self::Ipc(e) => [e as u64, 0, 0, 0],
            Self::Encode | Self::Decode | Self::TooManyHandles => [0; 4],
        };
        (MessageInfo::label_only(self.status()), words)
    }

    /// The error a reply reports, seen by the side that receives it (`None` for success). An
    /// unknown status is a malformed reply: [`ProtocolError::Decode`].
    pub fn from_reply(info: MessageInfo, words: [u64; 4]) -> Option<Self> {
        let [w0, w1, _, _] = words;
        Some(match info.label() {
            status::OK => return None,
            status::ENCODE => Self::Encode,
            status::DECODE => Self::Decode,
            status::UNKNOWN_METHOD => Self::UnknownMethod { label: w0 as u32 },
            // The replier put its own value in w0 and ours in w1.
            status::VERSION_MISMATCH => Self::VersionMismatch {
                ours: w1 as u8,
                theirs: w0 as u8,
            },
            status::WRONG_PROTOCOL => Self::WrongProtocol {
                expected: w1 as u16,
                got: w0 as u16,
            },
            status::TOO_MANY_HANDLES => Self::TooManyHandles,
            status::SERVER => Self::Server(w0 as u32),
            status::IPC => {
                Self::Ipc(KernelError::from_code(w0).unwrap_or(KernelError::InvalidArgument))
            }
            _ => Self::Decode,
        })
    }
}

impl From<KernelError> for ProtocolError {
    fn from(e: KernelError) -> Self {
        Self::Ipc(e)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipc(e) => write!(f, "IPC failed: {e}"),
            Self::Encode => f.write_str("message does not fit the IPC buffer"),
            Self::Decode => f.write_str("malformed message"),
            Self::UnknownMethod { label } => write!(f, "unknown method (label {label:#010x})"),
            Self::VersionMismatch { ours, theirs } => {
                write!(
                    f,
                    "protocol version mismatch (ours {ours}, theirs {theirs})"
                )
            }
            Self::WrongProtocol { expected, got } => {
                write!(
                    f,
                    "wrong protocol (expected {expected:#06x}, got {got:#06x})"
                )
            }
            Self::TooManyHandles => f.write_str("too many handles in message"),
            Self::Server(code) => write!(f, "server error {code}"),
        }
    }
}

impl core::error::Error for ProtocolError {}
