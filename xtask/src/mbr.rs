//! A classic MBR partition table, written by hand.
//!
//! 512 bytes are simpler to write than to drive sfdisk/parted portably, and need no extra host
//! package. The U-Boot disk has one bootable FAT32 (LBA) partition starting at 1 MiB.

/// Sector size.
pub const SECTOR: u64 = 512;
/// Partition type: FAT32 with LBA addressing.
pub const TYPE_FAT32_LBA: u8 = 0x0c;

/// One primary partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// First sector.
    pub start_lba: u32,
    /// Length in sectors.
    pub sectors: u32,
    /// Partition type byte.
    pub kind: u8,
    /// The active (bootable) flag.
    pub bootable: bool,
}

/// CHS address of an LBA with the conventional 255 heads and 63 sectors per track, clamped to
/// the largest CHS value when the LBA is out of CHS reach (then only the LBA fields count).
pub fn chs(lba: u32) -> [u8; 3] {
    const HEADS: u32 = 255;
    const SECTORS: u32 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    [
        head as u8,
        (sector as u8) | (((cylinder >> 2) & 0xc0) as u8),
        (cylinder & 0xff) as u8,
    ]
}

/// The boot sector with up to four primary partitions, no boot code, and the 0x55AA signature.
pub fn mbr(disk_id: u32, partitions: &[Partition]) -> [u8; 512] {
    let mut sector = [0u8; 512];
    sector[440..444].copy_from_slice(&disk_id.to_le_bytes());
    for (i, p) in partitions.iter().take(4).enumerate() {
        let e = &mut sector[446 + i * 16..446 + (i + 1) * 16];
        e[0] = if p.bootable { 0x80 } else { 0 };
        e[1..4].copy_from_slice(&chs(p.start_lba));
        e[4] = p.kind;
        e[5..8].copy_from_slice(&chs(p.start_lba + p.sectors.saturating_sub(1)));
        e[8..12].copy_from_slice(&p.start_lba.to_le_bytes());
        e[12..16].copy_from_slice(&p.sectors.to_le_bytes());
    }
    sector[510] = 0x55;
    sector[511] = 0xaa;
    sector
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bootable_fat32_partition_at_1mib() {
        let p = Partition {
            start_lba: 2048,
            sectors: 131_072,
            kind: TYPE_FAT32_LBA,
            bootable: true,
        };
        let s = mbr(0x4e49_4d42, &[p]);
        assert_eq!(&s[510..], &[0x55, 0xaa]);
        assert_eq!(&s[440..444], &0x4e49_4d42u32.to_le_bytes());
        let e = &s[446..462];
        assert_eq!(e[0], 0x80);
        assert_eq!(&e[1..4], &[0x20, 0x21, 0x00]); // what fdisk writes for LBA 2048
        assert_eq!(e[4], 0x0c);
        assert_eq!(u32::from_le_bytes(e[8..12].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(e[12..16].try_into().unwrap()), 131_072);
        assert!(
            s[462..510].iter().all(|&b| b == 0),
            "the other three entries are empty"
        );
        assert!(s[..440].iter().all(|&b| b == 0), "no boot code");
    }

    #[test]
    fn chs_addresses() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(63), [1, 1, 0]);
        // Cylinder 300 = 0x12c: bits 8-9 go to the top of the sector byte, 0x2c = 44 to the last.
        assert_eq!(chs(300 * 255 * 63), [0, 0x41, 44]);
        assert_eq!(chs(u32::MAX), [0xfe, 0xff, 0xff]);
    }
}
