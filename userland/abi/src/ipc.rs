//! IPC message layout.
//!
//! A message is a [`MessageInfo`] (x1 on call) plus [`MESSAGE_WORDS`] words in registers. Larger
//! messages carry up to [`IPC_DATA_SIZE`] bytes and [`MAX_HANDLES`] handles in the sender's
//! [`IpcBuffer`], a page each thread registers with `ThreadSetIpcBuffer`; the kernel copies them
//! into the receiver's buffer.

/// Words that travel in registers.
pub const MESSAGE_WORDS: usize = 4;
/// Handles one message can carry.
pub const MAX_HANDLES: usize = 4;
/// Size of the IPC buffer page.
pub const IPC_BUFFER_SIZE: usize = 4096;
/// Bytes of data one message can carry in the IPC buffer.
pub const IPC_DATA_SIZE: usize = IPC_BUFFER_SIZE - 4 * MAX_HANDLES;

/// Label of the kernel's message telling a supervisor that a process faulted:
/// w0 = [`crate::fault::FaultKind`], w1 = fault address, w2 = pc, w3 = ESR.
pub const FAULT_LABEL: u32 = 0xffff_ff01;
/// Label of the kernel's message telling a supervisor that a process ended:
/// w0 = exit code, w1 = [`crate::fault::ExitKind`].
pub const EXIT_LABEL: u32 = 0xffff_ff02;

/// The message descriptor: a 32-bit label chosen by the protocol, the number of data bytes and
/// handles in the IPC buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub struct MessageInfo(pub u64);

const LEN_SHIFT: u32 = 32;
const LEN_MASK: u64 = 0xfff;
const HANDLES_SHIFT: u32 = 44;
const HANDLES_MASK: u64 = 0x7;

impl MessageInfo {
    /// A message with `label`, `len` data bytes and `handles` handles (both clamped to what fits).
    pub const fn new(label: u32, len: usize, handles: usize) -> Self {
        let len = if len > IPC_DATA_SIZE {
            IPC_DATA_SIZE
        } else {
            len
        };
        let handles = if handles > MAX_HANDLES {
            MAX_HANDLES
        } else {
            handles
        };
        Self(label as u64 | ((len as u64) << LEN_SHIFT) | ((handles as u64) << HANDLES_SHIFT))
    }

    /// A register-only message.
    pub const fn label_only(label: u32) -> Self {
        Self(label as u64)
    }

    /// The protocol's label.
    pub const fn label(self) -> u32 {
        self.0 as u32
    }

    /// Data bytes in the IPC buffer.
    pub const fn len(self) -> usize {
        ((self.0 >> LEN_SHIFT) & LEN_MASK) as usize
    }

    /// Whether there are no data bytes.
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Handles in the IPC buffer.
    pub const fn handle_count(self) -> usize {
        ((self.0 >> HANDLES_SHIFT) & HANDLES_MASK) as usize
    }

    /// Whether the kernel accepts this descriptor (no stray bits, sizes in range).
    pub const fn is_valid(self) -> bool {
        self.0 >> (HANDLES_SHIFT + 3) == 0
            && self.len() <= IPC_DATA_SIZE
            && self.handle_count() <= MAX_HANDLES
    }

    /// Whether the message needs the IPC buffer at all.
    pub const fn uses_buffer(self) -> bool {
        !self.is_empty() || self.handle_count() > 0
    }
}

/// The IPC buffer page: handles first, then data.
#[repr(C, align(4096))]
pub struct IpcBuffer {
    /// Handle values: the sender's on send, the receiver's new ones on receive.
    pub handles: [u32; MAX_HANDLES],
    /// Message bytes.
    pub data: [u8; IPC_DATA_SIZE],
}

const _: () = assert!(core::mem::size_of::<IpcBuffer>() == IPC_BUFFER_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let m = MessageInfo::new(0xdead_beef, 100, 2);
        assert_eq!(m.label(), 0xdead_beef);
        assert_eq!(m.len(), 100);
        assert_eq!(m.handle_count(), 2);
        assert!(m.is_valid() && m.uses_buffer());
        assert!(!MessageInfo::label_only(7).uses_buffer());
        assert_eq!(MessageInfo::new(1, 1 << 20, 9).len(), IPC_DATA_SIZE);
        assert_eq!(MessageInfo::new(1, 0, 9).handle_count(), MAX_HANDLES);
        assert!(!MessageInfo(1 << 60).is_valid());
        assert!(!MessageInfo(0xfff << 32).is_valid());
        assert!(!MessageInfo(7 << 44).is_valid());
    }
}
