//! The boot archive and device tree, mapped read-only into init.

use nimbus_abi::Handle;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::MAP_READ;
use nimbus_boot::archive::{Archive, ArchiveError};
use nimbus_manifest::{MANIFEST_PATH, Manifest, ManifestError};
use nimbus_rt::{Error, RootStart, sys};

/// Where the archive is mapped.
const ARCHIVE_VA: u64 = MAP_AREA;
/// Where the device tree is mapped.
const DTB_VA: u64 = MAP_AREA + (1 << 32);

/// What went wrong reading the boot files.
#[derive(Debug)]
pub enum BootError {
    /// Mapping failed.
    Map(Error),
    /// The archive is malformed.
    Archive(ArchiveError),
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Map(e) => write!(f, "cannot map: {e}"),
            Self::Archive(e) => write!(f, "{e}"),
        }
    }
}

/// Why the manifest is unusable.
#[derive(Debug)]
pub enum ManifestLoadError {
    /// The archive has no manifest.
    Missing,
    /// It is malformed or breaks a rule.
    Invalid(ManifestError),
}

impl core::fmt::Display for ManifestLoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Missing => write!(f, "the boot archive has no {MANIFEST_PATH}"),
            Self::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// The mapped boot archive and device tree.
pub struct BootFiles {
    /// The archive.
    pub archive: Archive<'static>,
    /// The device tree blob.
    pub dtb: &'static [u8],
}

fn map(object: Handle, va: u64, offset: u64, len: u64) -> Result<&'static [u8], Error> {
    let pages = (offset + len).div_ceil(4096) * 4096;
    sys::mem_map(Handle::NONE, object, va, 0, pages, MAP_READ)?;
    // SAFETY: the range was just mapped read-only for init and is never unmapped; the kernel
    // keeps the memory behind it (boot archive, device tree) for the life of the system.
    Ok(unsafe { core::slice::from_raw_parts((va + offset) as *const u8, len as usize) })
}

impl BootFiles {
    /// Maps what the kernel lent the root task.
    pub fn map(root: &RootStart) -> Result<Self, BootError> {
        let bytes = map(
            root.archive,
            ARCHIVE_VA,
            root.archive_offset,
            root.archive_len,
        )
        .map_err(BootError::Map)?;
        let archive = Archive::new(bytes).map_err(BootError::Archive)?;
        let dtb = map(root.dtb, DTB_VA, root.dtb_offset, root.dtb_len).map_err(BootError::Map)?;
        Ok(Self { archive, dtb })
    }

    /// The system manifest.
    pub fn manifest(&self) -> Result<Manifest, ManifestLoadError> {
        let bytes = self
            .archive
            .file(MANIFEST_PATH)
            .ok_or(ManifestLoadError::Missing)?;
        Manifest::from_bytes(bytes).map_err(ManifestLoadError::Invalid)
    }

    /// A program from the archive.
    pub fn program(&self, binary: &str) -> Option<&'static [u8]> {
        let mut path = heapless::String::<64>::new();
        path.push_str("bin/").ok()?;
        path.push_str(binary).ok()?;
        self.archive.file(&path)
    }
}
