//! Checking and planning the loading of a user program (an ELF executable).
//!
//! Used by the kernel for the root task and by `init` for everything it starts, so both refuse
//! the same things: the wrong architecture, segments that are writable and executable, overlap
//! each other, reach outside the user half or outside the file. Loading itself (copying bytes,
//! mapping) is the caller's job; this only plans it.

#![cfg_attr(not(test), no_std)]

use elf::ElfBytes;
use elf::abi::{EM_AARCH64, ET_EXEC, PF_R, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;

/// Page size.
pub const PAGE: u64 = 4096;
/// Most loadable segments a program may have.
pub const MAX_SEGMENTS: usize = 8;
/// Exclusive end of user addresses.
pub const USER_END: u64 = 1 << 39;

/// Why an image cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// Not a 64-bit little-endian ELF file.
    NotElf,
    /// Not built for AArch64.
    WrongArchitecture,
    /// Not an executable (ET_EXEC).
    NotExecutable,
    /// More than [`MAX_SEGMENTS`] loadable segments.
    TooManySegments,
    /// A segment is both writable and executable.
    WriteAndExecute,
    /// Two segments share a page.
    Overlap,
    /// A segment reaches outside the user address range (or starts at page 0).
    OutOfRange,
    /// A segment's bytes lie outside the file, or it has more file bytes than memory.
    BadFileRange,
    /// The entry point is not in an executable segment.
    BadEntry,
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NotElf => "not a 64-bit little-endian ELF file",
            Self::WrongArchitecture => "not an AArch64 program",
            Self::NotExecutable => "not an executable",
            Self::TooManySegments => "too many loadable segments",
            Self::WriteAndExecute => "a segment is writable and executable",
            Self::Overlap => "segments overlap",
            Self::OutOfRange => "a segment lies outside user memory",
            Self::BadFileRange => "a segment's bytes lie outside the file",
            Self::BadEntry => "the entry point is not in executable code",
        })
    }
}

/// One loadable segment, rounded out to whole pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First page of the segment.
    pub page_start: u64,
    /// Bytes of whole pages covered.
    pub page_len: u64,
    /// Where the file bytes go, relative to `page_start`.
    pub data_offset: u64,
    /// Offset of the bytes in the file.
    pub file_offset: u64,
    /// Bytes taken from the file (the rest is zero).
    pub file_size: u64,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// A checked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments.
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
}

impl Program {
    /// The file bytes of `segment`, from `image`.
    pub fn segment_bytes<'a>(&self, image: &'a [u8], segment: &Segment) -> Option<&'a [u8]> {
        let start = usize::try_from(segment.file_offset).ok()?;
        let len = usize::try_from(segment.file_size).ok()?;
        image.get(start..start.checked_add(len)?)
    }
}

/// Checks `image` and plans its segments.
pub fn parse(image: &[u8]) -> Result<Program, LoadError> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| LoadError::NotElf)?;
    if file.ehdr.class != elf::file::Class::ELF64 {
        return Err(LoadError::NotElf);
    }
    if file.ehdr.e_machine != EM_AARCH64 {
        return Err(LoadError::WrongArchitecture);
    }
    if file.ehdr.e_type != ET_EXEC {
        return Err(LoadError::NotExecutable);
    }
    let headers = file.segments().ok_or(LoadError::NotElf)?;
    let mut segments: heapless::Vec<Segment, MAX_SEGMENTS> = heapless::Vec::new();
    for ph in headers
        .iter()
        .filter(|ph| ph.p_type == PT_LOAD && ph.p_memsz > 0)
    {
        let write = ph.p_flags & PF_W != 0;
        let execute = ph.p_flags & PF_X != 0;
        if write && execute {
            return Err(LoadError::WriteAndExecute);
        }
        if ph.p_flags & PF_R == 0 && !execute {
            return Err(LoadError::OutOfRange);
        }
        if ph.p_filesz > ph.p_memsz {
            return Err(LoadError::BadFileRange);
        }
        let file_end = ph
            .p_offset
            .checked_add(ph.p_filesz)
            .ok_or(LoadError::BadFileRange)?;
        if file_end > image.len() as u64 {
            return Err(LoadError::BadFileRange);
        }
        let end = ph
            .p_vaddr
            .checked_add(ph.p_memsz)
            .ok_or(LoadError::OutOfRange)?;
        let page_start = ph.p_vaddr & !(PAGE - 1);
        let page_end = end.checked_add(PAGE - 1).ok_or(LoadError::OutOfRange)? & !(PAGE - 1);
        if page_start == 0 || page_end > USER_END {
            return Err(LoadError::OutOfRange);
        }
        let segment = Segment {
            page_start,
            page_len: page_end - page_start,
            data_offset: ph.p_vaddr - page_start,
            file_offset: ph.p_offset,
            file_size: ph.p_filesz,
            write,
            execute,
        };
        let overlaps = segments
            .iter()
            .any(|s| s.page_start < page_end && page_start < s.page_start + s.page_len);
        if overlaps {
            return Err(LoadError::Overlap);
        }
        segments
            .push(segment)
            .map_err(|_| LoadError::TooManySegments)?;
    }
    let entry = file.ehdr.e_entry;
    let in_code = segments
        .iter()
        .any(|s| s.execute && (s.page_start..s.page_start + s.page_len).contains(&entry));
    if !in_code {
        return Err(LoadError::BadEntry);
    }
    Ok(Program { entry, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a minimal ELF64 executable with the given (vaddr, memsz, filesz, flags) segments.
    fn image(machine: u16, entry: u64, segments: &[(u64, u64, u64, u32)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_start = phoff + 56 * segments.len() as u64;
        let mut out = vec![0u8; data_start as usize];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little endian
        out[6] = 1; // version
        out[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&phoff.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        let mut file_offset = data_start;
        for (i, (vaddr, memsz, filesz, flags)) in segments.iter().enumerate() {
            let ph = (phoff as usize) + i * 56;
            out[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
            out[ph + 4..ph + 8].copy_from_slice(&flags.to_le_bytes());
            out[ph + 8..ph + 16].copy_from_slice(&file_offset.to_le_bytes());
            out[ph + 16..ph + 24].copy_from_slice(&vaddr.to_le_bytes());
            out[ph + 32..ph + 40].copy_from_slice(&filesz.to_le_bytes());
            out[ph + 40..ph + 48].copy_from_slice(&memsz.to_le_bytes());
            file_offset += filesz;
        }
        out.resize(file_offset as usize, 0xaa);
        out
    }

    #[test]
    fn plans_a_normal_program() {
        let img = image(
            EM_AARCH64,
            0x20_0010,
            &[
                (0x20_0000, 0x1800, 0x1800, PF_R | PF_X),
                (0x20_2100, 0x3000, 0x100, PF_R | PF_W),
            ],
        );
        let p = parse(&img).unwrap();
        assert_eq!(p.entry, 0x20_0010);
        assert_eq!(p.segments.len(), 2);
        let data = p.segments[1];
        assert_eq!(
            (data.page_start, data.page_len, data.data_offset),
            (0x20_2000, 0x4000, 0x100)
        );
        assert_eq!(p.segment_bytes(&img, &data).unwrap().len(), 0x100);
    }

    #[test]
    fn refuses_what_it_must() {
        let code = (0x20_0000, 0x1000, 0x10, PF_R | PF_X);
        assert_eq!(
            parse(&image(62, 0x20_0000, &[code])),
            Err(LoadError::WrongArchitecture)
        );
        assert_eq!(
            parse(&image(
                EM_AARCH64,
                0x20_0000,
                &[(0x20_0000, 0x1000, 0x10, PF_R | PF_W | PF_X)]
            )),
            Err(LoadError::WriteAndExecute)
        );
        assert_eq!(
            parse(&image(
                EM_AARCH64,
                0x20_0000,
                &[code, (0x20_0800, 0x100, 0x10, PF_R)]
            )),
            Err(LoadError::Overlap)
        );
        assert_eq!(
            parse(&image(
                EM_AARCH64,
                0x20_0000,
                &[(0x20_0000, 0x10, 0x20, PF_R | PF_X)]
            )),
            Err(LoadError::BadFileRange)
        );
        assert_eq!(
            parse(&image(
                EM_AARCH64,
                0x10,
                &[(0x0, 0x1000, 0x10, PF_R | PF_X)]
            )),
            Err(LoadError::OutOfRange)
        );
        assert_eq!(
            parse(&image(
                EM_AARCH64,
                1 << 40,
                &[(USER_END - 0x1000, 0x2000, 0x10, PF_R | PF_X)]
            )),
            Err(LoadError::OutOfRange)
        );
        assert_eq!(
            parse(&image(EM_AARCH64, 0x30_0000, &[code])),
            Err(LoadError::BadEntry)
        );
        assert_eq!(parse(b"not an elf at all"), Err(LoadError::NotElf));
        let mut truncated = image(EM_AARCH64, 0x20_0000, &[code]);
        truncated.truncate(100);
        assert!(parse(&truncated).is_err());
    }

    #[test]
    fn never_panics_on_mutated_images() {
        let good = image(
            EM_AARCH64,
            0x20_0010,
            &[
                (0x20_0000, 0x1800, 0x1800, PF_R | PF_X),
                (0x20_2100, 0x3000, 0x100, PF_R | PF_W),
            ],
        );
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            let mut m = good.clone();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state as usize) % 200.min(m.len());
                m[i] = (state >> 24) as u8;
            }
            if let Ok(p) = parse(&m) {
                for s in &p.segments {
                    let _ = p.segment_bytes(&m, s);
                    assert!(!(s.write && s.execute));
                }
            }
        }
    }
}
