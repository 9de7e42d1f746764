//! The 40-byte FDT header, checked on its own.
//!
//! The kernel calls [`check`] on the first 40 bytes at the address in `x0`
//! *before* it builds a slice of `totalsize` bytes, so this module must not
//! assume anything beyond the prefix it is given.

use crate::cells::be32;
use crate::error::DtError;

/// Size of a version-17 FDT header in bytes.
pub const HEADER_SIZE: usize = 40;
/// The FDT magic number (`0xd00dfeed`, big-endian in the blob).
pub const FDT_MAGIC: u32 = 0xd00d_feed;
/// Oldest `version` accepted by [`check`].
pub const MIN_VERSION: u32 = 16;
/// Newest `last_comp_version` accepted by [`check`] (we read the v17 layout).
pub const MAX_LAST_COMP_VERSION: u32 = 17;

/// The header fields, decoded and checked against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Size of the whole blob, including free space after the strings block.
    pub totalsize: u32,
    /// Offset of the structure block.
    pub off_dt_struct: u32,
    /// Offset of the strings block.
    pub off_dt_strings: u32,
    /// Offset of the memory reservation map.
    pub off_mem_rsvmap: u32,
    /// Format version (17 for everything dtc, QEMU and U-Boot produce).
    pub version: u32,
    /// Oldest version this blob is backwards compatible with (16 normally).
    pub last_comp_version: u32,
    /// Physical id of the boot CPU.
    pub boot_cpuid_phys: u32,
    /// Size of the strings block.
    pub size_dt_strings: u32,
    /// Size of the structure block; `None` for version 16 headers, which do
    /// not have this field.
    pub size_dt_struct: Option<u32>,
}

impl HeaderInfo {
    /// End offset of the structure block as far as the header tells
    /// (for version 16: `totalsize`).
    pub fn struct_end(&self) -> u32 {
        match self.size_dt_struct {
            // Cannot overflow: `check` verified off + size <= totalsize.
            Some(size) => self.off_dt_struct.saturating_add(size),
            None => self.totalsize,
        }
    }
}

/// Check the header at the start of `prefix` (at least 40 bytes; more is
/// ignored). Verifies the magic, the version (`version >= 16`,
/// `last_comp_version <= 17`), `totalsize >= 40`, and that every block offset
/// and size lies inside `totalsize` (the structure block must be 4-byte
/// aligned). It does not look past the header, so the reservation map and
/// the blocks themselves are checked later by [`crate::discover`].
pub fn check(prefix: &[u8]) -> Result<HeaderInfo, DtError> {
    let field = |index: usize| -> Result<u32, DtError> {
        index
            .checked_mul(4)
            .and_then(|off| be32(prefix, off))
            .ok_or(DtError::TooShort)
    };
    if prefix.len() < HEADER_SIZE {
        return Err(DtError::TooShort);
    }
    let magic = field(0)?;
    if magic != FDT_MAGIC {
        return Err(DtError::BadMagic(magic));
    }
    let totalsize = field(1)?;
    let off_dt_struct = field(2)?;
    let off_dt_strings = field(3)?;
    let off_mem_rsvmap = field(4)?;
    let version = field(5)?;
    let last_comp_version = field(6)?;
    let boot_cpuid_phys = field(7)?;
    let size_dt_strings = field(8)?;
    if version < MIN_VERSION || last_comp_version > MAX_LAST_COMP_VERSION {
        return Err(DtError::UnsupportedVersion {
            version,
            last_comp_version,
        });
    }
    let size_dt_struct = if version >= 17 { Some(field(9)?) } else { None };
    let header_end = HEADER_SIZE as u32;
    if totalsize < header_end {
        return Err(DtError::BadLayout(
            "totalsize is smaller than the 40-byte header",
        ));
    }
    // The reservation map needs room for at least its terminating entry.
    if off_mem_rsvmap < header_end {
        return Err(DtError::BadLayout("off_mem_rsvmap points into the header"));
    }
    match off_mem_rsvmap.checked_add(16) {
        Some(end) if end <= totalsize => {}
        _ => {
            return Err(DtError::BadLayout(
                "off_mem_rsvmap leaves no room for the reservation map inside totalsize",
            ));
        }
    }
    if off_dt_struct < header_end {
        return Err(DtError::BadLayout("off_dt_struct points into the header"));
    }
    if off_dt_struct % 4 != 0 {
        return Err(DtError::BadLayout("off_dt_struct is not 4-byte aligned"));
    }
    if off_dt_struct >= totalsize {
        return Err(DtError::BadLayout("off_dt_struct is beyond totalsize"));
    }
    if let Some(size) = size_dt_struct {
        match off_dt_struct.checked_add(size) {
            Some(end) if end <= totalsize => {}
            _ => {
                return Err(DtError::BadLayout(
                    "structure block (off_dt_struct + size_dt_struct) runs past totalsize",
                ));
            }
        }
    }
    if off_dt_strings < header_end {
        return Err(DtError::BadLayout("off_dt_strings points into the header"));
    }
    match off_dt_strings.checked_add(size_dt_strings) {
        Some(end) if end <= totalsize => {}
        _ => {
            return Err(DtError::BadLayout(
                "strings block (off_dt_strings + size_dt_strings) runs past totalsize",
            ));
        }
    }
    Ok(HeaderInfo {
        totalsize,
        off_dt_struct,
        off_dt_strings,
        off_mem_rsvmap,
        version,
        last_comp_version,
        boot_cpuid_phys,
        size_dt_strings,
        size_dt_struct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(fields: [u32; 10]) -> [u8; 40] {
        let mut out = [0u8; 40];
        for (chunk, v) in out.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    const GOOD: [u32; 10] = [FDT_MAGIC, 0x100, 0x40, 0xc0, 0x30, 17, 16, 0, 0x10, 0x80];

    #[test]
    fn accepts_good_header() {
        let h = check(&header(GOOD)).unwrap();
        assert_eq!(h.totalsize, 0x100);
        assert_eq!(h.size_dt_struct, Some(0x80));
        assert_eq!(h.struct_end(), 0xc0);
    }

    #[test]
    fn rejects_each_bad_field() {
        assert_eq!(check(&[0u8; 39]), Err(DtError::TooShort));
        let mut f = GOOD;
        f[0] = 0x1234;
        assert_eq!(check(&header(f)), Err(DtError::BadMagic(0x1234)));
        let mut f = GOOD;
        f[5] = 15;
        assert!(matches!(
            check(&header(f)),
            Err(DtError::UnsupportedVersion { .. })
        ));
        let mut f = GOOD;
        f[6] = 18;
        assert!(matches!(
            check(&header(f)),
            Err(DtError::UnsupportedVersion { .. })
        ));
        let mut f = GOOD;
        f[1] = 39;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
        let mut f = GOOD;
        f[9] = 0xffff_fff0;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
        let mut f = GOOD;
        f[2] = 0x42;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
        let mut f = GOOD;
        f[3] = 0xffff_fff8;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
        let mut f = GOOD;
        f[4] = 0xf8;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
        let mut f = GOOD;
        f[4] = 8;
        assert!(matches!(check(&header(f)), Err(DtError::BadLayout(_))));
    }

    #[test]
    fn version_16_has_no_struct_size() {
        let mut f = GOOD;
        f[5] = 16;
        f[9] = 0xdead_beef; // not a field in v16: ignored
        let h = check(&header(f)).unwrap();
        assert_eq!(h.size_dt_struct, None);
        assert_eq!(h.struct_end(), 0x100);
    }
}
