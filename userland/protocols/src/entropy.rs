//! The entropy server's protocol: random bytes from the hardware entropy source.
//!
//! The entropy server drives the phone's entropy device (on QEMU, the virtio entropy source) and
//! hands its bytes out, at most [`MAX_FILL`] per call. The bytes come straight from the device;
//! a client that needs a stream should seed its own generator with them.

use serde::{Deserialize, Serialize};

/// Most bytes one [`Entropy::fill`] returns.
pub const MAX_FILL: usize = 256;

/// Why no bytes came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntropyError {
    /// Zero bytes, or more than `max`, were asked for.
    BadLength {
        /// [`MAX_FILL`].
        max: u16,
    },
    /// The server found no entropy device; it answers, but has nothing to give.
    NoDevice,
    /// The device did not deliver (it failed or did not answer in time).
    Device,
}

impl core::fmt::Display for EntropyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadLength { max } => write!(f, "ask for 1 to {max} bytes"),
            Self::NoDevice => f.write_str("there is no entropy device"),
            Self::Device => f.write_str("the entropy device did not deliver"),
        }
    }
}

nimbus_protocol::protocol! {
    /// The entropy server.
    pub protocol Entropy: id = 0x0004, version = 1 {
        /// `len` (1 to [`MAX_FILL`]) bytes from the hardware entropy source.
        fn fill(len: u16) -> Result<&[u8], EntropyError>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_answer_fits_one_message() {
        let bytes = [0xffu8; MAX_FILL];
        let answer: Result<&[u8], EntropyError> = Ok(&bytes);
        let mut ipc = Box::new(nimbus_protocol::IpcBuffer {
            handles: [0; 4],
            data: [0; nimbus_abi::ipc::IPC_DATA_SIZE],
        });
        let mut enc = nimbus_protocol::Encoder::new(&mut ipc);
        enc.put(&answer);
        assert!(enc.finish(0).is_ok());
        assert!(
            EntropyError::BadLength { max: 256 }
                .to_string()
                .contains("256")
        );
    }
}
