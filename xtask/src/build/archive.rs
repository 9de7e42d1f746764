//! What goes into the boot archive, and how it is appended to the kernel.
//!
//! The archive (cpio newc, see `nimbus_boot::archive`) carries userland. Its contents are a plain
//! list of [`Entry`] values so new kinds of content slot in without touching the packing: today it
//! holds `etc/build-info`; userland binaries (`bin/...`, mode 0o755) and the system manifest join
//! the list in [`entries`].
//!
//! Layout of the final Image: the flat kernel (its length is the kernel's memory footprint, BSS
//! and early page tables included), then the archive at the next 4 KiB boundary. The header's
//! image_size grows to cover the archive, rounded up to 4 KiB, so every loader reserves it.

use crate::build::elf::FlatKernel;
use crate::paths::ImageKind;
use nimbus_boot::archive::Archive;
use nimbus_boot::archive::writer::ArchiveWriter;
use nimbus_boot::header::{self, ImageHeader};
use nimbus_boot::layout::PAGE_SIZE;

/// One file of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive (no leading `/`).
    pub name: String,
    /// Permission bits (0o644 for data, 0o755 for programs).
    pub perm: u32,
    /// Contents.
    pub data: Vec<u8>,
}

/// Facts about the build recorded in `etc/build-info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The workspace version.
    pub version: String,
    /// The git commit, or "unknown" outside a repository or before the first commit.
    pub commit: String,
    /// The cargo profile the kernel was built with.
    pub profile: String,
    /// Production or test.
    pub image: ImageKind,
}

impl BuildInfo {
    /// `key=value` lines, easy to parse from the kernel or a shell.
    pub fn render(&self) -> String {
        format!(
            "name=nimbus\nversion={}\ncommit={}\nprofile={}\nimage={}\ntarget={}\n",
            self.version,
            self.commit,
            self.profile,
            self.image.name(),
            crate::paths::KERNEL_TARGET
        )
    }
}

/// Every file the archive holds, in order. Add userland binaries and the manifest here.
pub fn entries(info: &BuildInfo) -> Vec<Entry> {
    vec![Entry {
        name: "etc/build-info".into(),
        perm: 0o644,
        data: info.render().into_bytes(),
    }]
}

/// Packs entries into a newc archive.
pub fn pack(entries: &[Entry]) -> Vec<u8> {
    let mut writer = ArchiveWriter::new();
    for e in entries {
        writer.add_file(&e.name, e.perm, &e.data);
    }
    writer.finish()
}

/// Where things are in an assembled Image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    /// The kernel's memory footprint (= its image_size before the archive was appended).
    pub footprint: u64,
    /// Offset of the archive in the file (footprint rounded up to a page).
    pub archive_offset: u64,
    /// Archive length.
    pub archive_len: u64,
    /// image_size in the header: archive end rounded up to a page.
    pub image_size: u64,
    /// Length of the Image file.
    pub file_len: u64,
}

/// Rounds up to the page size.
pub fn page_align(n: u64) -> u64 {
    n.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Appends `archive` to the flat kernel and grows image_size to cover it. Checks first that the
/// header's image_size equals the footprint the ELF describes (the linker's `_image_size`).
pub fn assemble(
    kernel: FlatKernel,
    archive: &[u8],
) -> Result<(Vec<u8>, ImageLayout), crate::error::Error> {
    let footprint = kernel.footprint();
    let linked = ImageHeader::parse(&kernel.bytes)?.image_size;
    if linked != footprint {
        return Err(crate::error::Error::Elf(format!(
            "header image_size {linked:#x} differs from the ELF footprint {footprint:#x} \
             (the link script's _image_size must cover every loadable section)"
        )));
    }
    let archive_offset = page_align(footprint);
    let archive_len = archive.len() as u64;
    let image_size = page_align(archive_offset + archive_len);
    let mut bytes = kernel.bytes;
    bytes.resize(archive_offset as usize, 0);
    bytes.extend_from_slice(archive);
    header::set_image_size(&mut bytes, image_size)?;
    let file_len = bytes.len() as u64;
    Ok((
        bytes,
        ImageLayout {
            footprint,
            archive_offset,
            archive_len,
            image_size,
            file_len,
        },
    ))
}

/// The files of an archive as `(name, size)`, for reports.
pub fn list(archive: &[u8]) -> Result<Vec<(String, usize)>, String> {
    let archive = Archive::new(archive).map_err(|e| e.to_string())?;
    Ok(archive
        .entries()
        .filter(|e| e.is_file())
        .map(|e| (e.name.to_string(), e.data.len()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::elf::{flatten, tests::synthetic_elf};
    use nimbus_boot::header::{HEADER_SIZE, IMAGE_SIZE_OFFSET, MAGIC, MAGIC_OFFSET, NIMBUS_FLAGS};

    fn kernel_with_image_size(image_size: u64, bss: u64) -> FlatKernel {
        let mut head = [0u8; HEADER_SIZE];
        head[IMAGE_SIZE_OFFSET..IMAGE_SIZE_OFFSET + 8].copy_from_slice(&image_size.to_le_bytes());
        head[24..32].copy_from_slice(&NIMBUS_FLAGS.to_le_bytes());
        head[MAGIC_OFFSET..MAGIC_OFFSET + 4].copy_from_slice(&MAGIC);
        flatten(&synthetic_elf(&[(0, &head, 0x1000), (0x1000, b"", bss)])).unwrap()
    }

    fn info() -> BuildInfo {
        BuildInfo {
            version: "0.1.0".into(),
            commit: "unknown".into(),
            profile: "release".into(),
            image: ImageKind::Test,
        }
    }

    #[test]
    fn build_info_says_what_was_built() {
        let text = info().render();
        assert!(text.contains("version=0.1.0\n"));
        assert!(text.contains("commit=unknown\n"));
        assert!(text.contains("profile=release\n"));
        assert!(text.contains("image=test\n"));
    }

    #[test]
    fn archive_follows_the_footprint_and_image_size_covers_it() {
        let archive = pack(&entries(&info()));
        let (image, layout) = assemble(kernel_with_image_size(0x3000, 0x2000), &archive).unwrap();
        assert_eq!(layout.footprint, 0x3000);
        assert_eq!(layout.archive_offset, 0x3000);
        assert_eq!(layout.image_size, page_align(0x3000 + archive.len() as u64));
        assert_eq!(layout.file_len, image.len() as u64);
        assert_eq!(
            ImageHeader::parse(&image).unwrap().image_size,
            layout.image_size
        );
        let appended = &image[layout.archive_offset as usize..];
        assert_eq!(
            list(appended).unwrap(),
            [("etc/build-info".to_string(), info().render().len())]
        );
    }

    #[test]
    fn refuses_an_image_size_that_misses_the_bss() {
        let archive = pack(&[]);
        assert!(assemble(kernel_with_image_size(0x1000, 0x2000), &archive).is_err());
    }

    #[test]
    fn page_alignment() {
        assert_eq!(page_align(0), 0);
        assert_eq!(page_align(1), 0x1000);
        assert_eq!(page_align(0x1000), 0x1000);
        assert_eq!(page_align(0x26001), 0x27000);
    }
}
