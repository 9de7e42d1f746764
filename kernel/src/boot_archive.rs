//! Finding the boot archive that carries userland: an initrd named by `/chosen`, or the archive
//! xtask appends to the Image (page-aligned right after the kernel, inside `image_size`).
//! When both exist the initrd wins: it is what the loader was explicitly told to pass.

use crate::mm::phys_to_virt;
use nimbus_board::Platform;
use nimbus_boot::archive::{Archive, ArchiveError};
use nimbus_kcore::ranges::Range;
use spin::Once;

/// Where the archive came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Appended to the kernel Image.
    Appended,
    /// An initrd named by `/chosen/linux,initrd-start` and `-end`.
    Initrd,
}

/// The archive and its origin.
pub struct BootArchive {
    /// The validated archive.
    pub archive: Archive<'static>,
    /// Where it came from.
    pub source: Source,
    /// Its physical range.
    pub range: Range,
}

/// Why the archive could not be used.
#[derive(Debug, Clone, Copy)]
pub enum BootArchiveError {
    /// The bytes are not a valid newc archive.
    Malformed(Source, ArchiveError),
    /// The range is not in RAM the kernel maps.
    OutOfReach(Source, Range),
}

impl core::fmt::Display for BootArchiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(source, e) => write!(f, "{source:?} boot archive: {e}"),
            Self::OutOfReach(source, r) => {
                write!(f, "{source:?} boot archive at {r} is outside RAM")
            }
        }
    }
}

static BOOT_ARCHIVE: Once<Option<BootArchive>> = Once::new();

fn in_ram(platform: &Platform<'_>, range: Range) -> bool {
    platform
        .memory
        .iter()
        .filter_map(|m| Range::new(m.start, m.size))
        .any(|m| m.covers(&range))
}

fn open(
    platform: &Platform<'_>,
    source: Source,
    range: Range,
) -> Result<BootArchive, BootArchiveError> {
    if !in_ram(platform, range) {
        return Err(BootArchiveError::OutOfReach(source, range));
    }
    // SAFETY: the range is RAM inside the linear map, reserved from the frame allocator (image
    // or initrd), and never written by the kernel.
    let bytes = unsafe {
        core::slice::from_raw_parts(phys_to_virt(range.start) as *const u8, range.len() as usize)
    };
    let archive = Archive::new(bytes).map_err(|e| BootArchiveError::Malformed(source, e))?;
    Ok(BootArchive {
        archive,
        source,
        range,
    })
}

/// Finds and checks the archive. `appended` is the part of the image after the kernel.
pub fn locate(
    platform: &Platform<'_>,
    appended: Range,
) -> Result<Option<&'static BootArchive>, BootArchiveError> {
    let found = if let Some(initrd) = platform
        .chosen
        .initrd
        .and_then(|r| Range::new(r.start, r.size))
    {
        Some(open(platform, Source::Initrd, initrd)?)
    } else if !appended.is_empty() {
        Some(open(platform, Source::Appended, appended)?)
    } else {
        None
    };
    Ok(BOOT_ARCHIVE.call_once(|| found).as_ref())
}

/// The archive found at boot, if any.
pub fn get() -> Option<&'static BootArchive> {
    BOOT_ARCHIVE.get().and_then(Option::as_ref)
}
