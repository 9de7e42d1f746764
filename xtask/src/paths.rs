//! Where things are: the workspace root and everything xtask writes under `target/nimbus/`.
//!
//! All outputs live in one tree so a failed test can be reproduced from its files alone
//! (the Image, the QEMU log, the exact device tree the kernel was given).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The target triple of the kernel and (later) userland.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none";

/// Which kernel build an Image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// The system as it ships.
    Production,
    /// The kernel test image (`--features ktest`): runs the kernel's own tests and exits.
    Test,
    /// The benchmark image (`cargo xtask bench`): the production kernel with the benchmark
    /// program as its root task.
    Bench,
}

impl ImageKind {
    /// The name used in build-info and progress lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Test => "test",
            Self::Bench => "bench",
        }
    }

    /// From the `--test-image` flag.
    pub fn from_flag(test_image: bool) -> Self {
        if test_image {
            Self::Test
        } else {
            Self::Production
        }
    }
}

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `target/nimbus`.
pub fn out_dir() -> PathBuf {
    root().join("target").join("nimbus")
}

/// The directory of one image kind: `target/nimbus`, `target/nimbus/test` or
/// `target/nimbus/bench`.
pub fn image_dir(kind: ImageKind) -> PathBuf {
    match kind {
        ImageKind::Production => out_dir(),
        ImageKind::Test => out_dir().join("test"),
        ImageKind::Bench => out_dir().join("bench"),
    }
}

/// The bootable Image of `kind`.
pub fn image(kind: ImageKind) -> PathBuf {
    image_dir(kind).join("Image")
}

/// The kernel ELF (with symbols) that `image(kind)` was made from.
pub fn elf(kind: ImageKind) -> PathBuf {
    image_dir(kind).join("nimbus-kernel.elf")
}

/// QEMU logs.
pub fn logs_dir() -> PathBuf {
    out_dir().join("logs")
}

/// Device trees dumped from QEMU and the broken trees made from them.
pub fn dtb_dir() -> PathBuf {
    out_dir().join("dtb")
}

/// Scratch files of the QEMU boot paths (U-Boot disks, loader stubs).
pub fn boot_dir() -> PathBuf {
    out_dir().join("boot")
}

/// A path relative to the workspace root when it is inside it, for short progress lines.
pub fn display(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Writes a whole file, creating its directory. The file appears at once (written aside under a
/// unique name, then renamed), so a reader never sees half an Image and concurrent writers of
/// the same file do not collide.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".{}-{n}.partial", std::process::id()));
    let aside = PathBuf::from(aside);
    std::fs::write(&aside, bytes).map_err(|e| Error::io(&aside, e))?;
    std::fs::rename(&aside, path).map_err(|e| Error::io(path, e))
}

/// Formats a byte count the way progress lines show it.
pub fn human_size(bytes: u64) -> String {
    if bytes >= 10 << 20 {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 {
        format!("{} KiB", bytes.div_ceil(1 << 10))
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(100), "100 B");
        assert_eq!(human_size(155_648), "152 KiB");
        assert_eq!(human_size(1025), "2 KiB");
        assert_eq!(human_size(64 << 20), "64 MiB");
    }

    #[test]
    fn outputs_live_under_target_nimbus() {
        assert!(image(ImageKind::Production).ends_with("target/nimbus/Image"));
        assert!(elf(ImageKind::Test).ends_with("target/nimbus/test/nimbus-kernel.elf"));
        assert!(root().join("Cargo.toml").exists());
    }
}
