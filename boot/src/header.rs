//! The arm64 Linux `Image` header (Documentation/arch/arm64/booting.rst in Linux).
//!
//! One header makes one file bootable by QEMU `-kernel`, U-Boot `booti` and Android boot images.
//! The entry assembly emits it; xtask reads it back to check a build and grows `image_size` when it
//! appends the boot archive, so loaders leave room for the archive and the BSS.

/// Offset of the `image_size` field.
pub const IMAGE_SIZE_OFFSET: usize = 16;
/// Offset of the `flags` field.
pub const FLAGS_OFFSET: usize = 24;
/// Offset of the magic.
pub const MAGIC_OFFSET: usize = 0x38;
/// The magic, `ARM\x64`.
pub const MAGIC: [u8; 4] = *b"ARM\x64";
/// Size of the header.
pub const HEADER_SIZE: usize = 64;

/// Little-endian kernel.
pub const FLAG_LITTLE_ENDIAN: u64 = 0;
/// 4 KiB pages (bits 1-2 = 1).
pub const FLAG_PAGE_4K: u64 = 1 << 1;
/// The image may sit at any 2 MiB-aligned base in RAM (bit 3).
pub const FLAG_ANYWHERE: u64 = 1 << 3;
/// The flags Nimbus images carry.
pub const NIMBUS_FLAGS: u64 = FLAG_LITTLE_ENDIAN | FLAG_PAGE_4K | FLAG_ANYWHERE;

/// What is wrong with a would-be Image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The file is shorter than the 64-byte header.
    TooShort(usize),
    /// The magic at 0x38 is not `ARM\x64`.
    BadMagic([u8; 4]),
    /// `image_size` is zero: QEMU would fall back to the legacy 0x80000 load offset.
    ZeroImageSize,
    /// `text_offset` is not zero.
    TextOffset(u64),
    /// The flags are not what Nimbus needs.
    Flags(u64),
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort(n) => write!(f, "{n} bytes is shorter than the 64-byte Image header"),
            Self::BadMagic(m) => write!(f, "bad Image magic {m:02x?} (want ARM\\x64)"),
            Self::ZeroImageSize => write!(f, "image_size is zero"),
            Self::TextOffset(o) => write!(f, "text_offset is {o:#x}, want 0"),
            Self::Flags(fl) => write!(f, "flags are {fl:#x}, want {NIMBUS_FLAGS:#x}"),
        }
    }
}

/// The fields of a parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset from a 2 MiB-aligned base at which the image must be loaded.
    pub text_offset: u64,
    /// Bytes of memory the image occupies from its load address (file, BSS and appended data).
    pub image_size: u64,
    /// Endianness, page size and placement flags.
    pub flags: u64,
}

fn le_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(src) = bytes.get(offset..offset + 8) {
        word.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

impl ImageHeader {
    /// Parses and checks the header at the start of `image`.
    pub fn parse(image: &[u8]) -> Result<Self, HeaderError> {
        if image.len() < HEADER_SIZE {
            return Err(HeaderError::TooShort(image.len()));
        }
        let mut magic = [0u8; 4];
        magic.copy_from_slice(&image[MAGIC_OFFSET..MAGIC_OFFSET + 4]);
        if magic != MAGIC {
            return Err(HeaderError::BadMagic(magic));
        }
        let header = Self {
            text_offset: le_u64(image, 8),
            image_size: le_u64(image, IMAGE_SIZE_OFFSET),
            flags: le_u64(image, FLAGS_OFFSET),
        };
        if header.image_size == 0 {
            return Err(HeaderError::ZeroImageSize);
        }
        if header.text_offset != 0 {
            return Err(HeaderError::TextOffset(header.text_offset));
        }
        if header.flags != NIMBUS_FLAGS {
            return Err(HeaderError::Flags(header.flags));
        }
        Ok(header)
    }
}

/// Sets `image_size` in a header (xtask uses this after appending the boot archive).
pub fn set_image_size(image: &mut [u8], size: u64) -> Result<(), HeaderError> {
    ImageHeader::parse(image)?;
    image[IMAGE_SIZE_OFFSET..IMAGE_SIZE_OFFSET + 8].copy_from_slice(&size.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(size: u64, flags: u64) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[IMAGE_SIZE_OFFSET..IMAGE_SIZE_OFFSET + 8].copy_from_slice(&size.to_le_bytes());
        h[FLAGS_OFFSET..FLAGS_OFFSET + 8].copy_from_slice(&flags.to_le_bytes());
        h[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(&MAGIC);
        h
    }

    #[test]
    fn parses_a_good_header() {
        let h = ImageHeader::parse(&header(0x20_0000, 0xa)).unwrap();
        assert_eq!(h.image_size, 0x20_0000);
        assert_eq!(h.flags, 0xa);
    }

    #[test]
    fn rejects_what_loaders_reject() {
        assert_eq!(ImageHeader::parse(&[0; 10]), Err(HeaderError::TooShort(10)));
        let mut bad = header(1, 0xa);
        bad[MAGIC_OFFSET] = b'X';
        assert!(matches!(
            ImageHeader::parse(&bad),
            Err(HeaderError::BadMagic(_))
        ));
        assert_eq!(
            ImageHeader::parse(&header(0, 0xa)),
            Err(HeaderError::ZeroImageSize)
        );
        assert_eq!(
            ImageHeader::parse(&header(1, 0x2)),
            Err(HeaderError::Flags(2))
        );
    }

    #[test]
    fn grows_image_size() {
        let mut h = header(0x1000, 0xa);
        set_image_size(&mut h, 0x5000).unwrap();
        assert_eq!(ImageHeader::parse(&h).unwrap().image_size, 0x5000);
    }
}
