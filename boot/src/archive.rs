//! The boot archive: how userland (servers, apps, the system manifest) travels to the kernel.
//!
//! The format is cpio "newc" (the Linux initramfs format), so standard tools can list and build
//! it. It travels either appended to the kernel Image, page-aligned right after the kernel's BSS
//! (one file to boot; `image_size` in the Image header covers it), or as an initrd named by
//! `/chosen/linux,initrd-start` and `-end`. Only regular files are meaningful; directories and
//! the `TRAILER!!!` entry end nothing but the walk.
//!
//! This is our own small reader rather than a crate: it must reject malformed archives with a
//! precise error (the kernel reports it), where the crates surveyed stop silently at the first bad
//! entry or underflow on a zero name size.

/// The newc magic that starts every entry header.
pub const NEWC_MAGIC: &[u8; 6] = b"070701";
/// Size of a newc header: the magic and 13 eight-digit hex fields.
pub const NEWC_HEADER_SIZE: usize = 110;
/// Name of the entry that ends a cpio archive.
pub const TRAILER_NAME: &str = "TRAILER!!!";
/// `mode` bits for a regular file.
pub const MODE_REGULAR_FILE: u32 = 0o100_000;
const MODE_TYPE_MASK: u32 = 0o170_000;

/// What is wrong with an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveError {
    /// An entry at this offset does not start with the newc magic.
    BadMagic { offset: usize },
    /// A header field at this offset is not eight hex digits.
    BadField { offset: usize },
    /// An entry at this offset runs past the end of the archive.
    Truncated { offset: usize },
    /// An entry name at this offset is empty, unterminated or not UTF-8.
    BadName { offset: usize },
    /// The archive ended without a `TRAILER!!!` entry.
    NoTrailer,
}

impl core::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic { offset } => write!(f, "no cpio newc magic at offset {offset:#x}"),
            Self::BadField { offset } => write!(f, "bad cpio header field at offset {offset:#x}"),
            Self::Truncated { offset } => write!(f, "cpio entry at {offset:#x} is truncated"),
            Self::BadName { offset } => write!(f, "bad cpio entry name at offset {offset:#x}"),
            Self::NoTrailer => write!(f, "cpio archive has no TRAILER!!! entry"),
        }
    }
}

/// One file in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path inside the archive, without a leading `./` or `/`.
    pub name: &'a str,
    /// The full `mode` field (file type and permission bits).
    pub mode: u32,
    /// File contents.
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & MODE_TYPE_MASK == MODE_REGULAR_FILE
    }
}

/// A validated archive: every entry was checked when it was opened.
#[derive(Debug, Clone, Copy)]
pub struct Archive<'a> {
    bytes: &'a [u8],
    /// Bytes up to and including the trailer entry.
    len: usize,
}

impl<'a> Archive<'a> {
    /// Checks the whole archive and returns it, or the first problem found.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ArchiveError> {
        let mut offset = 0;
        loop {
            match parse_entry(bytes, offset)? {
                Parsed::Entry(_, next) => offset = next,
                Parsed::Trailer(end) => return Ok(Self { bytes, len: end }),
            }
        }
    }

    /// Whether `bytes` starts like a newc archive (to tell an appended archive from padding).
    pub fn looks_like_archive(bytes: &[u8]) -> bool {
        bytes.starts_with(NEWC_MAGIC)
    }

    /// Length of the archive up to the end of its trailer.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the archive holds no entries besides its trailer.
    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }

    /// All entries before the trailer, directories included.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
        }
    }

    /// The regular file with this name.
    pub fn file(&self, name: &str) -> Option<&'a [u8]> {
        self.entries()
            .find(|e| e.is_file() && e.name == name)
            .map(|e| e.data)
    }
}

/// Iterator over the entries of a validated [`Archive`].
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        match parse_entry(self.bytes, self.offset) {
            Ok(Parsed::Entry(entry, next)) => {
                self.offset = next;
                Some(entry)
            }
            _ => None,
        }
    }
}

enum Parsed<'a> {
    Entry(Entry<'a>, usize),
    Trailer(usize),
}

const fn align4(n: usize) -> Option<usize> {
    match n.checked_add(3) {
        Some(v) => Some(v & !3),
        None => None,
    }
}

fn hex_field(bytes: &[u8], offset: usize) -> Result<u32, ArchiveError> {
    let field = bytes
        .get(offset..offset + 8)
        .ok_or(ArchiveError::Truncated { offset })?;
    let mut value = 0u32;
    for &digit in field {
        let nibble = (digit as char)
            .to_digit(16)
            .ok_or(ArchiveError::BadField { offset })?;
        value = (value << 4) | nibble;
    }
    Ok(value)
}

fn parse_entry(bytes: &[u8], offset: usize) -> Result<Parsed<'_>, ArchiveError> {
    let header = bytes
        .get(offset..)
        .and_then(|rest| rest.get(..NEWC_HEADER_SIZE))
        .ok_or(if offset >= bytes.len() {
            ArchiveError::NoTrailer
        } else {
            ArchiveError::Truncated { offset }
        })?;
    if !header.starts_with(NEWC_MAGIC) {
        return Err(ArchiveError::BadMagic { offset });
    }
    // Fields after the magic, in order: ino mode uid gid nlink mtime filesize devmajor devminor
    // rdevmajor rdevminor namesize check.
    let field = |index: usize| hex_field(bytes, offset + 6 + index * 8);
    let mode = field(1)?;
    let file_size = field(6)? as usize;
    let name_size = field(11)? as usize;
    let name_start = offset + NEWC_HEADER_SIZE;
    let truncated = ArchiveError::Truncated { offset };
    let name_end = name_start.checked_add(name_size).ok_or(truncated)?;
    let raw_name = bytes.get(name_start..name_end).ok_or(truncated)?;
    let bad_name = ArchiveError::BadName { offset };
    let (&nul, name) = raw_name.split_last().ok_or(bad_name)?;
    if nul != 0 || name.is_empty() || name.contains(&0) {
        return Err(bad_name);
    }
    let name = core::str::from_utf8(name).map_err(|_| bad_name)?;
    let data_start = align4(name_end).ok_or(truncated)?;
    let data_end = data_start.checked_add(file_size).ok_or(truncated)?;
    let data = bytes.get(data_start..data_end).ok_or(truncated)?;
    let next = align4(data_end).ok_or(truncated)?;
    if name == TRAILER_NAME {
        return Ok(Parsed::Trailer(data_end.min(bytes.len())));
    }
    let name = name.trim_start_matches("./").trim_start_matches('/');
    Ok(Parsed::Entry(Entry { name, mode, data }, next))
}

/// Builds newc archives (host tools).
#[cfg(feature = "writer")]
pub mod writer {
    extern crate alloc;
    use super::{MODE_REGULAR_FILE, NEWC_MAGIC, TRAILER_NAME};
    use alloc::vec::Vec;
    use core::fmt::Write;

    /// An archive under construction.
    #[derive(Default)]
    pub struct ArchiveWriter {
        bytes: Vec<u8>,
        next_inode: u32,
    }

    impl ArchiveWriter {
        /// An empty archive.
        pub fn new() -> Self {
            Self::default()
        }

        /// Appends a regular file with permissions `perm` (e.g. 0o755 for programs).
        pub fn add_file(&mut self, name: &str, perm: u32, data: &[u8]) -> &mut Self {
            self.next_inode += 1;
            self.entry(
                self.next_inode,
                MODE_REGULAR_FILE | (perm & 0o7777),
                name,
                data,
            );
            self
        }

        /// Ends the archive with its trailer and returns the bytes.
        pub fn finish(mut self) -> Vec<u8> {
            self.entry(0, 0, TRAILER_NAME, &[]);
            self.bytes
        }

        fn entry(&mut self, inode: u32, mode: u32, name: &str, data: &[u8]) {
            let name_size = name.len() + 1;
            let mut header = alloc::string::String::new();
            let fields = [
                inode,
                mode,
                0,
                0,
                1,
                0,
                data.len() as u32,
                0,
                0,
                0,
                0,
                name_size as u32,
                0,
            ];
            for value in fields {
                // Writing to a String cannot fail.
                let _ = write!(header, "{value:08x}");
            }
            self.bytes.extend_from_slice(NEWC_MAGIC);
            self.bytes.extend_from_slice(header.as_bytes());
            self.bytes.extend_from_slice(name.as_bytes());
            self.bytes.push(0);
            self.pad();
            self.bytes.extend_from_slice(data);
            self.pad();
        }

        fn pad(&mut self) {
            while !self.bytes.len().is_multiple_of(4) {
                self.bytes.push(0);
            }
        }
    }
}

#[cfg(all(test, feature = "writer"))]
mod tests {
    use super::writer::ArchiveWriter;
    use super::*;

    fn sample() -> std::vec::Vec<u8> {
        let mut w = ArchiveWriter::new();
        w.add_file("manifest", 0o644, b"servers = []\n").add_file(
            "bin/init",
            0o755,
            &[1, 2, 3, 4, 5],
        );
        w.finish()
    }

    #[test]
    fn round_trips_files() {
        let bytes = sample();
        let archive = Archive::new(&bytes).unwrap();
        assert_eq!(archive.file("manifest"), Some(&b"servers = []\n"[..]));
        assert_eq!(archive.file("bin/init"), Some(&[1, 2, 3, 4, 5][..]));
        assert_eq!(archive.file("missing"), None);
        assert_eq!(archive.entries().count(), 2);
        assert!(archive.entries().all(|e| e.is_file()));
        assert_eq!(archive.len(), bytes.len());
    }

    #[test]
    fn tolerates_padding_after_the_trailer() {
        let mut bytes = sample();
        let len = bytes.len();
        bytes.resize(len + 4096, 0);
        assert_eq!(Archive::new(&bytes).unwrap().len(), len);
    }

    #[test]
    fn reports_truncation_and_corruption() {
        let bytes = sample();
        for cut in [0, 50, 120, bytes.len() - 20] {
            assert!(Archive::new(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = b'9';
        assert_eq!(
            Archive::new(&bad).unwrap_err(),
            ArchiveError::BadMagic { offset: 0 }
        );
        let mut bad = bytes.clone();
        bad[6 + 6 * 8] = b'z';
        assert_eq!(
            Archive::new(&bad).unwrap_err(),
            ArchiveError::BadField { offset: 6 + 6 * 8 }
        );
    }

    #[test]
    fn never_panics_on_mutations() {
        let bytes = sample();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut m = bytes.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state as usize) % m.len();
                m[i] = (state >> 32) as u8;
            }
            let len = (state >> 40) as usize % (m.len() + 1);
            if let Ok(a) = Archive::new(&m[..len]) {
                for e in a.entries() {
                    let _ = e.data.len() + e.name.len();
                }
            }
        }
    }
}
