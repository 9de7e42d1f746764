//! The start block: how a program learns which handles it was given.
//!
//! Whoever starts a program (init, the app sandbox) maps one read-only page at
//! [`START_INFO`] in the new process and fills it with a [`StartInfo`]: the program's name and a
//! list of named handles (values valid in the new process, granted with `HandleGrant`). The
//! runtime looks handles up by name, so a program asks for "console" rather than "x3".

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Where the start block is mapped.
pub const START_INFO: u64 = 0x7f_7fff_0000;
/// Identifies a start block.
pub const START_MAGIC: u32 = 0x5354_4e4e; // "NNTS"
/// Version of the layout.
pub const START_VERSION: u32 = 1;
/// Most handles a start block carries (the block must fit its page). A driver given every transport
/// of a bus needs many: QEMU's `virt` has 32 virtio-mmio transports, each granted as `.mmio`,
/// `.offset` and `.irq` entries (97 with the count).
pub const MAX_START_HANDLES: usize = 100;
/// Longest handle or program name (bytes).
pub const NAME_LEN: usize = 32;
/// `kind` of an entry that carries a plain value (an offset, a device type), not a handle.
pub const KIND_VALUE: u32 = 0;

/// One named handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct StartHandle {
    /// Name, NUL-padded UTF-8.
    pub name: [u8; NAME_LEN],
    /// Handle value in the receiving process.
    pub handle: u32,
    /// [`crate::ObjectType`] code of the object.
    pub kind: u32,
}

/// The start block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct StartInfo {
    /// [`START_MAGIC`].
    pub magic: u32,
    /// [`START_VERSION`].
    pub version: u32,
    /// Entries used.
    pub count: u32,
    /// Reserved, zero.
    pub flags: u32,
    /// The program's name.
    pub name: [u8; NAME_LEN],
    /// Named handles.
    pub handles: [StartHandle; MAX_START_HANDLES],
}

const _: () = assert!(core::mem::size_of::<StartInfo>() <= 4096);
// Every virtio-mmio transport of QEMU's `virt` (32 x mmio, offset, irq, and the count) and a
// couple of services fit.
const _: () = assert!(32 * 3 + 1 + 2 <= MAX_START_HANDLES);

/// Why a name could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// Longer than [`NAME_LEN`].
    NameTooLong,
    /// All [`MAX_START_HANDLES`] entries are used.
    Full,
}

fn pack_name(name: &str) -> Result<[u8; NAME_LEN], StartError> {
    let bytes = name.as_bytes();
    if bytes.len() > NAME_LEN {
        return Err(StartError::NameTooLong);
    }
    let mut out = [0u8; NAME_LEN];
    out[..bytes.len()].copy_from_slice(bytes);
    Ok(out)
}

fn unpack_name(name: &[u8; NAME_LEN]) -> &str {
    let len = name.iter().position(|b| *b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&name[..len]).unwrap_or("")
}

impl StartInfo {
    /// An empty block for program `name`.
    pub fn new(name: &str) -> Result<Self, StartError> {
        let empty = StartHandle {
            name: [0; NAME_LEN],
            handle: 0,
            kind: 0,
        };
        Ok(Self {
            magic: START_MAGIC,
            version: START_VERSION,
            count: 0,
            flags: 0,
            name: pack_name(name)?,
            handles: [empty; MAX_START_HANDLES],
        })
    }

    /// Adds a named handle.
    pub fn push(&mut self, name: &str, handle: u32, kind: u32) -> Result<(), StartError> {
        let slot = self
            .handles
            .get_mut(self.count as usize)
            .ok_or(StartError::Full)?;
        *slot = StartHandle {
            name: pack_name(name)?,
            handle,
            kind,
        };
        self.count += 1;
        Ok(())
    }

    /// Whether the block is one this code understands.
    pub fn is_valid(&self) -> bool {
        self.magic == START_MAGIC
            && self.version == START_VERSION
            && self.count as usize <= MAX_START_HANDLES
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        unpack_name(&self.name)
    }

    /// The handle given under `name`.
    pub fn handle(&self, name: &str) -> Option<u32> {
        self.entries()
            .find(|(n, _, _)| *n == name)
            .map(|(_, h, _)| h)
    }

    /// Every (name, handle, kind).
    pub fn entries(&self) -> impl Iterator<Item = (&str, u32, u32)> {
        let count = (self.count as usize).min(MAX_START_HANDLES);
        self.handles[..count]
            .iter()
            .map(|h| (unpack_name(&h.name), h.handle, h.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_bytes() {
        let mut info = StartInfo::new("console").unwrap();
        info.push("uart", 0x1_0001, 7).unwrap();
        info.push("log", 0x1_0002, 1).unwrap();
        let bytes = info.as_bytes().to_vec();
        let back = StartInfo::read_from_bytes(&bytes).unwrap();
        assert!(back.is_valid());
        assert_eq!(back.name(), "console");
        assert_eq!(back.handle("log"), Some(0x1_0002));
        assert_eq!(back.handle("missing"), None);
        assert_eq!(back.entries().count(), 2);
    }

    #[test]
    fn refuses_overflow_and_garbage() {
        assert_eq!(
            StartInfo::new(&"x".repeat(33)).err(),
            Some(StartError::NameTooLong)
        );
        let mut info = StartInfo::new("a").unwrap();
        for i in 0..MAX_START_HANDLES {
            info.push("h", i as u32, 1).unwrap();
        }
        assert_eq!(info.push("h", 0, 1), Err(StartError::Full));
        let mut garbage = info;
        garbage.count = 1000;
        assert!(!garbage.is_valid());
        assert_eq!(garbage.entries().count(), MAX_START_HANDLES);
    }
}
