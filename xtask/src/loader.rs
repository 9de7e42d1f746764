//! The direct loader: boot the Image at any address with any bytes as the device tree.
//!
//! QEMU's `-kernel` always loads at RAM + 2 MiB and hands over its own tree (`-dtb` rewrites
//! /memory and /chosen and refuses corrupt blobs), which cannot test a kernel against a missing,
//! corrupt or edited tree or an unusual load address. Instead, QEMU's generic loader devices put
//! the raw Image, the raw DTB and a 32-byte trampoline in RAM and start CPU 0 at the trampoline,
//! which does what a bootloader does: x0 = DTB address, then branch to the Image.
//!
//! Only CPU 0 is started: without `-kernel`, QEMU's PSCI boot code does not hold the secondary
//! CPUs, so direct boots use one CPU. The CPU starts at EL1 on plain `virt` (EL2 with
//! virtualization=on), with the MMU off, as the arm64 boot protocol wants.

use crate::error::{Error, Result};
use crate::qemu::{Machine, RAM_BASE};
use std::path::{Path, PathBuf};

/// Where the device tree goes (QEMU's own choice with >= 256 MiB of RAM).
pub const DTB_ADDR: u64 = crate::qemu::QEMU_DTB_ADDR;
/// Where the trampoline goes: below RAM + 2 MiB, where loaders put kernels.
pub const STUB_ADDR: u64 = 0x4010_0000;
/// Bytes reserved for the device tree (the arm64 boot protocol's limit).
pub const DTB_MAX: u64 = 2 << 20;

/// `LDR Xt, <pc + byte_offset>` (Arm ARM "LDR (literal)", 64-bit form: opc = 01, V = 0).
pub fn ldr_literal(rt: u32, byte_offset: u32) -> u32 {
    debug_assert!(rt < 31 && byte_offset.is_multiple_of(4) && byte_offset / 4 < 1 << 18);
    0x5800_0000 | ((byte_offset / 4) << 5) | rt
}

/// `BR Xn` (Arm ARM "BR": branch to register).
pub fn br(rn: u32) -> u32 {
    debug_assert!(rn < 31);
    0xd61f_0000 | (rn << 5)
}

/// `NOP`.
pub const NOP: u32 = 0xd503_201f;

/// The trampoline: `ldr x0, =dtb; ldr x1, =kernel; br x1; nop; .quad dtb; .quad kernel`.
/// `dtb` = 0 gives the kernel x0 = 0 (no device tree). x1..x3 are not zeroed: the kernel must
/// not rely on them (booting.rst reserves them, and x1 holds the entry address here).
pub fn trampoline(dtb: u64, kernel: u64) -> [u8; 32] {
    let words = [ldr_literal(0, 16), ldr_literal(1, 20), br(1), NOP];
    let mut out = [0u8; 32];
    for (i, w) in words.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out[16..24].copy_from_slice(&dtb.to_le_bytes());
    out[24..32].copy_from_slice(&kernel.to_le_bytes());
    out
}

/// A prepared direct boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectLoad {
    /// The Image.
    pub image: PathBuf,
    /// Its physical load address.
    pub load_addr: u64,
    /// The device tree placed at [`DTB_ADDR`], or `None` for x0 = 0.
    pub dtb: Option<PathBuf>,
    /// The trampoline file.
    pub stub: PathBuf,
}

impl DirectLoad {
    /// The QEMU arguments: three loader devices with raw files, and CPU 0's start address.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-device".to_string(),
            format!(
                "loader,file={},addr={:#x},force-raw=on",
                self.image.display(),
                self.load_addr
            ),
        ];
        if let Some(dtb) = &self.dtb {
            a.push("-device".into());
            a.push(format!(
                "loader,file={},addr={DTB_ADDR:#x},force-raw=on",
                dtb.display()
            ));
        }
        a.push("-device".into());
        a.push(format!(
            "loader,file={},addr={STUB_ADDR:#x},force-raw=on",
            self.stub.display()
        ));
        a.push("-device".into());
        a.push(format!("loader,addr={STUB_ADDR:#x},cpu-num=0"));
        a
    }
}

/// Checks where things land: the Image (image_size bytes, from its header) inside RAM, 4 KiB
/// aligned and clear of the trampoline page and the device-tree window.
pub fn check_placement(
    load_addr: u64,
    image_size: u64,
    dtb_size: u64,
    machine: &Machine,
) -> Result<(), String> {
    let ram_end = machine.ram_end();
    if machine.smp != 1 {
        return Err(format!(
            "the direct loader starts one CPU only; use --smp 1 (not {})",
            machine.smp
        ));
    }
    if !load_addr.is_multiple_of(4096) {
        return Err(format!("load address {load_addr:#x} is not 4 KiB aligned"));
    }
    if dtb_size > DTB_MAX {
        return Err(format!(
            "device tree of {dtb_size} bytes exceeds the 2 MiB window"
        ));
    }
    if DTB_ADDR + DTB_MAX > ram_end {
        return Err(format!(
            "the device tree goes at {DTB_ADDR:#x}: give the machine at least 256M of RAM"
        ));
    }
    let end = load_addr
        .checked_add(image_size)
        .ok_or("load address overflows")?;
    if load_addr < RAM_BASE || end > ram_end {
        return Err(format!(
            "Image [{load_addr:#x}, {end:#x}) is not inside RAM [{RAM_BASE:#x}, {ram_end:#x})"
        ));
    }
    let overlaps = |start: u64, len: u64| load_addr < start + len && start < end;
    if overlaps(STUB_ADDR, 4096) {
        return Err(format!(
            "Image [{load_addr:#x}, {end:#x}) overlaps the trampoline at {STUB_ADDR:#x}"
        ));
    }
    if overlaps(DTB_ADDR, DTB_MAX) {
        return Err(format!(
            "Image [{load_addr:#x}, {end:#x}) overlaps the device tree at {DTB_ADDR:#x}"
        ));
    }
    Ok(())
}

/// Checks the placement and writes the trampoline into `dir`.
pub fn prepare(
    image: &Path,
    load_addr: u64,
    dtb: Option<&Path>,
    machine: &Machine,
    dir: &Path,
) -> Result<DirectLoad> {
    let image_size =
        nimbus_boot::header::ImageHeader::parse(&crate::paths::read(image)?)?.image_size;
    let dtb_size = match dtb {
        Some(d) => std::fs::metadata(d).map_err(|e| Error::io(d, e))?.len(),
        None => 0,
    };
    check_placement(load_addr, image_size, dtb_size, machine).map_err(Error::Other)?;
    let dtb_addr = if dtb.is_some() { DTB_ADDR } else { 0 };
    let stub = dir.join(format!(
        "trampoline-x0-{dtb_addr:x}-entry-{load_addr:x}.bin"
    ));
    crate::paths::write(&stub, &trampoline(dtb_addr, load_addr))?;
    Ok(DirectLoad {
        image: image.to_path_buf(),
        load_addr,
        dtb: dtb.map(Path::to_path_buf),
        stub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_arm_arm() {
        // LDR (literal) 64-bit: 0101 1000 | imm19 | Rt. x0 <- [pc + 16] at offset 0 reaches 16.
        assert_eq!(ldr_literal(0, 16), 0x5800_0080);
        // At offset 4, [pc + 20] also reaches 24.
        assert_eq!(ldr_literal(1, 20), 0x5800_00a1);
        assert_eq!(br(1), 0xd61f_0020);
        assert_eq!(br(30), 0xd61f_03c0); // `ret` is 0xd65f03c0: only the opc field differs
    }

    #[test]
    fn trampoline_layout() {
        let t = trampoline(0x4800_0000, 0x4028_1000);
        let word = |i: usize| u32::from_le_bytes(t[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!(
            [word(0), word(1), word(2), word(3)],
            [0x5800_0080, 0x5800_00a1, 0xd61f_0020, 0xd503_201f]
        );
        assert_eq!(
            u64::from_le_bytes(t[16..24].try_into().unwrap()),
            0x4800_0000
        );
        assert_eq!(
            u64::from_le_bytes(t[24..32].try_into().unwrap()),
            0x4028_1000
        );
        // Each LDR's literal: its own offset + imm19 * 4.
        assert_eq!((word(0) >> 5 & 0x7ffff) * 4, 16);
        assert_eq!(4 + (word(1) >> 5 & 0x7ffff) * 4, 24);
        assert_eq!(&trampoline(0, 1)[16..24], &[0; 8]);
    }

    #[test]
    fn placement() {
        let one = Machine {
            smp: 1,
            ..Machine::default()
        };
        assert!(check_placement(0x4160_0000, 0x30000, 0x10_0000, &one).is_ok());
        assert!(check_placement(0x4028_1000, 0x30000, 0x10_0000, &one).is_ok());
        assert!(check_placement(0x4028_1800, 0x30000, 0, &one).is_err());
        assert!(check_placement(0x4010_0000, 0x30000, 0, &one).is_err());
        assert!(check_placement(0x47ff_0000, 0x30000, 0, &one).is_err());
        assert!(check_placement(0x3000_0000, 0x30000, 0, &one).is_err());
        assert!(check_placement(0x5fff_0000, 0x30000, 0, &one).is_err());
        assert!(check_placement(0x4160_0000, 0x30000, 3 << 20, &one).is_err());
        let two = Machine::default();
        assert!(
            check_placement(0x4160_0000, 0x30000, 0, &two)
                .unwrap_err()
                .contains("--smp 1")
        );
        let small = Machine {
            smp: 1,
            memory_mib: 128,
            ..Machine::default()
        };
        assert!(check_placement(0x4160_0000, 0x30000, 0, &small).is_err());
    }

    #[test]
    fn loader_devices() {
        let d = DirectLoad {
            image: "I".into(),
            load_addr: 0x4160_0000,
            dtb: Some("t.dtb".into()),
            stub: "s".into(),
        };
        assert_eq!(
            d.args(),
            [
                "-device",
                "loader,file=I,addr=0x41600000,force-raw=on",
                "-device",
                "loader,file=t.dtb,addr=0x48000000,force-raw=on",
                "-device",
                "loader,file=s,addr=0x40100000,force-raw=on",
                "-device",
                "loader,addr=0x40100000,cpu-num=0",
            ]
        );
        let none = DirectLoad { dtb: None, ..d };
        assert!(!none.args().iter().any(|a| a.contains("0x48000000")));
    }
}
