//! The U-Boot boot path: a raw disk image that Debian's QEMU U-Boot boots by itself.
//!
//! Disk layout: an MBR ([`crate::mbr`]) with one bootable FAT32 (LBA) partition at 1 MiB, holding
//! `/Image` and `/boot.scr` (compiled from `qemu/uboot/boot.cmd` with mkimage). The filesystem is
//! made with mtools straight into the file (`-i disk.img@@1M`), so no loop device or root is
//! needed. FAT32 needs at least 65525 clusters, so the partition is never smaller than 64 MiB;
//! the file is sparse, so this costs no disk space.

use crate::deps::{self, Tool, UBOOT_FIRMWARE};
use crate::error::{Error, Result};
use crate::mbr::{self, Partition, SECTOR};
use crate::paths;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Start of the partition.
pub const PARTITION_START: u64 = 1 << 20;
/// Smallest partition (FAT32 cluster-count minimum, with one-sector clusters).
pub const MIN_PARTITION: u64 = 64 << 20;
/// Where the boot script loads the Image: U-Boot's `kernel_addr_r` on QEMU `virt`.
pub const UBOOT_KERNEL_ADDR: u64 = 0x4040_0000;
/// Disk signature ("NIMB").
const DISK_ID: u32 = 0x424d_494e;

/// The U-Boot firmware file.
pub fn firmware() -> PathBuf {
    PathBuf::from(UBOOT_FIRMWARE)
}

/// The boot script source.
pub fn boot_cmd() -> PathBuf {
    paths::root().join("qemu").join("uboot").join("boot.cmd")
}

/// Partition size for `payload` bytes of files: twice the payload plus slack, whole MiB, at
/// least [`MIN_PARTITION`].
pub fn partition_size(payload: u64) -> u64 {
    let want = payload.saturating_mul(2).saturating_add(8 << 20);
    want.div_ceil(1 << 20)
        .saturating_mul(1 << 20)
        .max(MIN_PARTITION)
}

/// Builds `dir/disk.img` holding `image` and the compiled boot script; returns its path.
pub fn prepare_disk(image: &Path, dir: &Path) -> Result<PathBuf> {
    deps::ensure(&[Tool::UBoot, Tool::Mkimage, Tool::Mtools])?;
    paths::create_dir(dir)?;
    let script = dir.join("boot.scr");
    let mut mkimage = Command::new("mkimage");
    mkimage.args([
        "-A",
        "arm64",
        "-O",
        "linux",
        "-T",
        "script",
        "-C",
        "none",
        "-n",
        "nimbus boot script",
        "-d",
    ]);
    mkimage.arg(boot_cmd()).arg(&script);
    run_quiet(mkimage, "mkimage (boot.scr)")?;

    let image_len = std::fs::metadata(image)
        .map_err(|e| Error::io(image, e))?
        .len();
    let script_len = std::fs::metadata(&script)
        .map_err(|e| Error::io(&script, e))?
        .len();
    let part_len = partition_size(image_len + script_len);
    let sectors = u32::try_from(part_len / SECTOR).map_err(|_| {
        Error::Other(format!(
            "a {} partition is too large for an MBR",
            paths::human_size(part_len)
        ))
    })?;
    let disk = dir.join("disk.img");
    let table = mbr::mbr(
        DISK_ID,
        &[Partition {
            start_lba: (PARTITION_START / SECTOR) as u32,
            sectors,
            kind: mbr::TYPE_FAT32_LBA,
            bootable: true,
        }],
    );
    write_sparse(&disk, &table, PARTITION_START + part_len)?;

    let target = format!("{}@@{PARTITION_START}", disk.display());
    let mut mformat = Command::new("mformat");
    mformat.args(["-i", &target, "-F", "-T", &sectors.to_string()]);
    mformat.args([
        "-H",
        &(PARTITION_START / SECTOR).to_string(),
        "-v",
        "NIMBUS",
        "::",
    ]);
    run_quiet(mformat, "mformat (FAT32)")?;
    let mut mcopy = Command::new("mcopy");
    mcopy
        .args(["-i", &target, "-o"])
        .arg(image)
        .arg(&script)
        .arg("::/");
    run_quiet(mcopy, "mcopy (Image, boot.scr)")?;
    Ok(disk)
}

/// Creates `path` of `len` bytes (sparse) starting with `head`.
fn write_sparse(path: &Path, head: &[u8], len: u64) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(head).map_err(|e| Error::io(path, e))?;
    file.set_len(len).map_err(|e| Error::io(path, e))
}

/// Runs a tool, showing its output only when it fails.
fn run_quiet(mut cmd: Command, what: &str) -> Result<()> {
    cmd.env("MTOOLS_SKIP_CHECK", "1");
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .map_err(|source| Error::Spawn { program, source })?;
    if out.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&out.stdout).into_owned();
    detail.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Error::Failed {
        what: what.into(),
        status: format!("{}: {}", out.status, detail.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_big_enough_for_fat32_and_the_files() {
        assert_eq!(partition_size(200 << 10), MIN_PARTITION);
        assert_eq!(partition_size(100 << 20), 208 << 20);
        assert_eq!(partition_size(100 << 20) % (1 << 20), 0);
    }

    #[test]
    fn builds_a_disk_u_boot_can_read() {
        if !(Tool::Mkimage.present() && Tool::Mtools.present() && Tool::UBoot.present()) {
            return; // host tools missing: `cargo xtask test` installs them and boots the disk
        }
        let dir = std::env::temp_dir().join(format!("xtask-uboot-test-{}", std::process::id()));
        let image = dir.join("Image");
        paths::write(&image, &vec![0xa5; 300_000]).unwrap();
        let disk = prepare_disk(&image, &dir).unwrap();
        let bytes = std::fs::read(&disk).unwrap();
        assert_eq!(bytes.len() as u64, PARTITION_START + MIN_PARTITION);
        assert_eq!(&bytes[510..512], &[0x55, 0xaa]);
        assert_eq!(bytes[446 + 4], mbr::TYPE_FAT32_LBA);
        let fat = &bytes[PARTITION_START as usize..];
        assert_eq!(&fat[82..90], b"FAT32   ", "FAT32 boot sector type string");
        let listing = Command::new("mdir")
            .args([
                "-b",
                "-i",
                &format!("{}@@{PARTITION_START}", disk.display()),
                "::/",
            ])
            .env("MTOOLS_SKIP_CHECK", "1")
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout).to_lowercase();
        assert!(
            listing.contains("image") && listing.contains("boot.scr"),
            "{listing}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_boot_script_passes_the_fdt_to_booti() {
        let script = std::fs::read_to_string(boot_cmd()).unwrap();
        let booti = script
            .lines()
            .find(|l| l.trim_start().starts_with("booti"))
            .unwrap();
        assert_eq!(
            booti.split_whitespace().count(),
            4,
            "booti ADDR - FDT: {booti}"
        );
        assert!(booti.contains("${fdtcontroladdr}"));
    }
}
