//! The kernel ELF turned into a flat arm64 Image, and its sections grouped for size reports.
//!
//! `boot/image.ld` gives every PT_LOAD segment a load address (p_paddr) equal to its offset from
//! the start of the image, so the flat Image is each segment's file bytes copied to file offset
//! p_paddr, zero-filled up to the highest p_paddr + p_memsz. The zero fill includes the BSS and
//! the early page tables on purpose: the Image header's image_size (the linker's `_image_size`)
//! covers them, and loaders reserve exactly image_size bytes. Converting here, rather than with
//! `objcopy -O binary`, needs no binutils for the target and lets us check the invariants.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};

/// Largest footprint accepted: far above the 16 MiB the early page tables can map, small enough
/// that a p_paddr holding a virtual address (a broken link script) is reported, not allocated.
pub const MAX_FOOTPRINT: u64 = 256 << 20;

/// One PT_LOAD segment, as placed in the Image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Offset in the Image (p_paddr).
    pub offset: u64,
    /// Bytes taken from the ELF file.
    pub file_size: u64,
    /// Bytes of memory (file bytes plus zero fill).
    pub mem_size: u64,
}

/// The kernel as a flat image, before the boot archive is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatKernel {
    /// The Image bytes; their length is the footprint (kernel memory including BSS).
    pub bytes: Vec<u8>,
    /// The loadable segments it was made from.
    pub segments: Vec<Segment>,
}

impl FlatKernel {
    /// Bytes of memory the kernel occupies from its load address.
    pub fn footprint(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// What the sizes report groups sections into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SectionGroup {
    /// Executable code.
    Text,
    /// Read-only data (including unwind tables).
    Rodata,
    /// Initialised writable data.
    Data,
    /// Zero-initialised data.
    Bss,
    /// The page tables the entry code builds before the MMU is on.
    EarlyPageTables,
}

impl SectionGroup {
    /// All groups in the order the report lists them.
    pub const ALL: [Self; 5] = [
        Self::Text,
        Self::Rodata,
        Self::Data,
        Self::Bss,
        Self::EarlyPageTables,
    ];

    /// Report label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Rodata => "rodata",
            Self::Data => "data",
            Self::Bss => "bss",
            Self::EarlyPageTables => "early page tables",
        }
    }
}

/// One allocated section of the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Section name.
    pub name: String,
    /// Its group.
    pub group: SectionGroup,
    /// Size in bytes.
    pub size: u64,
}

type Header = elf::FileHeader64<object::Endianness>;

fn parse_header(data: &[u8]) -> Result<(&Header, object::Endianness), String> {
    let header = Header::parse(data).map_err(|e| format!("not a 64-bit ELF file ({e})"))?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    if header.e_machine(endian) != elf::EM_AARCH64 {
        return Err(format!(
            "machine is {}, not AArch64",
            header.e_machine(endian)
        ));
    }
    if !header.is_little_endian() {
        return Err("big-endian ELF; Nimbus Images are little-endian".into());
    }
    Ok((header, endian))
}

/// Converts the kernel ELF into a flat Image (see the module docs).
pub fn flatten(data: &[u8]) -> Result<FlatKernel, String> {
    let (header, endian) = parse_header(data)?;
    let program_headers = header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?;
    let mut segments = Vec::new();
    let mut footprint = 0u64;
    for ph in program_headers
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD)
    {
        let segment = Segment {
            offset: ph.p_paddr(endian),
            file_size: ph.p_filesz(endian),
            mem_size: ph.p_memsz(endian),
        };
        if segment.mem_size == 0 {
            continue;
        }
        if segment.file_size > segment.mem_size {
            return Err(format!(
                "segment at {:#x} has p_filesz > p_memsz",
                segment.offset
            ));
        }
        let end = segment
            .offset
            .checked_add(segment.mem_size)
            .filter(|&end| end <= MAX_FOOTPRINT);
        let Some(end) = end else {
            return Err(format!(
                "segment p_paddr {:#x} + p_memsz {:#x} is not an offset inside the image: \
                 the link script must set each section's load address to its offset (AT(...))",
                segment.offset, segment.mem_size
            ));
        };
        footprint = footprint.max(end);
        segments.push(segment);
    }
    if segments.is_empty() {
        return Err("no PT_LOAD segments".into());
    }
    segments.sort_by_key(|s| s.offset);
    for pair in segments.windows(2) {
        if pair[0].offset + pair[0].mem_size > pair[1].offset {
            return Err(format!(
                "segments at {:#x} and {:#x} overlap",
                pair[0].offset, pair[1].offset
            ));
        }
    }
    let mut bytes = vec![0u8; footprint as usize];
    for ph in program_headers
        .iter()
        .filter(|ph| ph.p_type(endian) == elf::PT_LOAD && ph.p_filesz(endian) > 0)
    {
        let src = ph.data(endian, data).map_err(|()| {
            format!(
                "segment at {:#x} runs past the end of the file",
                ph.p_paddr(endian)
            )
        })?;
        let at = ph.p_paddr(endian) as usize;
        bytes[at..at + src.len()].copy_from_slice(src);
    }
    Ok(FlatKernel { bytes, segments })
}

/// The allocated sections of the kernel ELF, grouped for the sizes report.
pub fn sections(data: &[u8]) -> Result<Vec<Section>, String> {
    let (header, endian) = parse_header(data)?;
    let table = header.sections(endian, data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for sh in table.iter() {
        let flags = sh.sh_flags(endian);
        if !flags.contains(elf::SHF_ALLOC) || sh.sh_size(endian) == 0 {
            continue;
        }
        let name = table.section_name(endian, sh).map_err(|e| e.to_string())?;
        let name = String::from_utf8_lossy(name).into_owned();
        let group = if name.starts_with(".early_pgtables") {
            SectionGroup::EarlyPageTables
        } else if sh.sh_type(endian) == elf::SHT_NOBITS {
            SectionGroup::Bss
        } else if flags.contains(elf::SHF_EXECINSTR) {
            SectionGroup::Text
        } else if flags.contains(elf::SHF_WRITE) {
            SectionGroup::Data
        } else {
            SectionGroup::Rodata
        };
        out.push(Section {
            name,
            group,
            size: sh.sh_size(endian),
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal AArch64 ELF64 with the given PT_LOAD segments `(p_paddr, contents, p_memsz)`
    /// and no section headers.
    pub fn synthetic_elf(segments: &[(u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 64u64;
        let mut data_off = phoff + 56 * segments.len() as u64;
        let mut elf = Vec::new();
        elf.extend_from_slice(b"\x7fELF");
        elf.extend_from_slice(&[2, 1, 1, 0]); // 64-bit, little-endian, version 1, SysV
        elf.extend_from_slice(&[0; 8]);
        elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        elf.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        elf.extend_from_slice(&1u32.to_le_bytes());
        elf.extend_from_slice(&0xffff_ffff_c000_0000u64.to_le_bytes()); // e_entry
        elf.extend_from_slice(&phoff.to_le_bytes());
        elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        for half in [64u16, 56, segments.len() as u16, 64, 0, 0] {
            elf.extend_from_slice(&half.to_le_bytes());
        }
        let mut payload = Vec::new();
        for &(paddr, contents, memsz) in segments {
            elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
            elf.extend_from_slice(&5u32.to_le_bytes()); // R X
            for word in [
                data_off,
                0xffff_ffff_c000_0000u64.wrapping_add(paddr),
                paddr,
                contents.len() as u64,
                memsz,
                0x1000,
            ] {
                elf.extend_from_slice(&word.to_le_bytes());
            }
            payload.extend_from_slice(contents);
            data_off += contents.len() as u64;
        }
        elf.extend_from_slice(&payload);
        elf
    }

    #[test]
    fn places_segments_at_their_load_offsets_and_zero_fills() {
        let elf = synthetic_elf(&[
            (0, b"HEAD", 4),
            (0x10, b"data", 0x20),
            (0x1000, b"", 0x3000),
        ]);
        let flat = flatten(&elf).unwrap();
        assert_eq!(flat.footprint(), 0x4000);
        assert_eq!(&flat.bytes[..4], b"HEAD");
        assert_eq!(&flat.bytes[0x10..0x14], b"data");
        assert!(flat.bytes[4..0x10].iter().all(|&b| b == 0));
        assert!(flat.bytes[0x14..].iter().all(|&b| b == 0));
        assert_eq!(flat.segments.len(), 3);
    }

    #[test]
    fn rejects_what_is_not_an_image() {
        assert!(flatten(b"not an elf").is_err());
        assert!(flatten(&synthetic_elf(&[])).is_err());
        // A p_paddr that is a virtual address: the link script forgot AT().
        assert!(flatten(&synthetic_elf(&[(0xffff_ffff_c000_0000, b"x", 1)])).is_err());
        assert!(flatten(&synthetic_elf(&[(0, b"abcd", 0x100), (0x10, b"x", 1)])).is_err());
        let mut truncated = synthetic_elf(&[(0, b"abcdefgh", 8)]);
        truncated.truncate(truncated.len() - 4);
        assert!(flatten(&truncated).is_err());
        let mut other_machine = synthetic_elf(&[(0, b"x", 1)]);
        other_machine[18] = 62; // EM_X86_64
        assert!(flatten(&other_machine).unwrap_err().contains("not AArch64"));
    }

    #[test]
    fn the_real_kernel_converts_to_its_own_image_size() {
        // xtask's own copy (written atomically), not cargo's output that may be mid-link.
        let path = crate::paths::elf(crate::paths::ImageKind::Production);
        let Ok(data) = std::fs::read(&path) else {
            return; // not built yet: the synthetic tests cover the logic
        };
        let flat = flatten(&data).unwrap();
        let header = nimbus_boot::header::ImageHeader::parse(&flat.bytes).unwrap();
        assert_eq!(header.image_size, flat.footprint());
        let groups: Vec<_> = sections(&data).unwrap().iter().map(|s| s.group).collect();
        assert!(groups.contains(&SectionGroup::Text));
        assert!(groups.contains(&SectionGroup::EarlyPageTables));
    }
}
