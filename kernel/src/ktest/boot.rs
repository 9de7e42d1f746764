//! What the loader handed over: the image header, the device tree, the boot archive.

use super::{Test, ensure};
use crate::mm::{frames, memmap};
use crate::{boot_archive, klog, startup};
use alloc::string::String;
use nimbus_boot::arch::aarch64::image_sections;
use nimbus_boot::header::ImageHeader;
use nimbus_boot::layout::KIMAGE_BASE;

pub const TESTS: &[Test] = &[
    Test {
        name: "boot::image_header_covers_the_kernel",
        run: header_covers_kernel,
    },
    Test {
        name: "boot::device_tree_is_reserved",
        run: dtb_reserved,
    },
    Test {
        name: "boot::boot_archive_is_found_and_valid",
        run: archive_found,
    },
    Test {
        name: "boot::memory_matches_the_device_tree",
        run: memory_matches,
    },
    Test {
        name: "boot::log_level_comes_from_bootargs",
        run: log_level,
    },
];

fn header_covers_kernel() -> Result<(), String> {
    // SAFETY: the first 64 bytes of the mapped image are its header.
    let bytes = unsafe { core::slice::from_raw_parts(KIMAGE_BASE as *const u8, 64) };
    let header = ImageHeader::parse(bytes).map_err(|e| alloc::format!("{e}"))?;
    let footprint = image_sections().data.1 - KIMAGE_BASE;
    ensure!(
        header.image_size >= footprint,
        "image_size {:#x} < footprint {footprint:#x}",
        header.image_size
    );
    ensure!(
        startup::load_pa().is_multiple_of(4096),
        "load address {:#x} not page aligned",
        startup::load_pa()
    );
    Ok(())
}

fn dtb_reserved() -> Result<(), String> {
    let map = memmap::get().ok_or("no memory map")?;
    let dtb = map
        .reserved
        .iter()
        .find(|r| r.owner == "device tree")
        .ok_or("device tree not reserved")?;
    ensure!(
        !frames::is_free(dtb.range.start & !0xfff),
        "device tree frame is free"
    );
    let image = map
        .reserved
        .iter()
        .find(|r| r.owner == "kernel image")
        .ok_or("image not reserved")?;
    ensure!(
        image.range.start == startup::load_pa(),
        "image reservation starts at {}",
        image.range.start
    );
    Ok(())
}

fn archive_found() -> Result<(), String> {
    let found = boot_archive::get().ok_or("no boot archive (xtask appends one)")?;
    let info = found
        .archive
        .file("etc/build-info")
        .ok_or("archive lacks etc/build-info")?;
    let text = core::str::from_utf8(info).map_err(|_| "build-info is not UTF-8")?;
    ensure!(text.contains("nimbus"), "unexpected build-info: {text}");
    Ok(())
}

fn memory_matches() -> Result<(), String> {
    let platform = startup::platform().ok_or("no platform")?;
    let map = memmap::get().ok_or("no memory map")?;
    ensure!(
        map.total_bytes == platform.total_memory(),
        "{} != {}",
        map.total_bytes,
        platform.total_memory()
    );
    let managed = frames::managed_frames() * 4096;
    let reserved: u64 = map.reserved.iter().map(|r| r.range.len()).sum();
    ensure!(
        managed + reserved >= map.total_bytes - 64 * 4096,
        "frames {managed} + reserved {reserved} fall short of RAM"
    );
    Ok(())
}

fn log_level() -> Result<(), String> {
    ensure!(
        klog::level_from_bootargs("console=ttyAMA0 loglevel=debug")
            == Some(log::LevelFilter::Debug),
        "debug not parsed"
    );
    ensure!(
        klog::level_from_bootargs("loglevel=bogus").is_none(),
        "bogus level accepted"
    );
    ensure!(
        klog::level_from_bootargs("quiet").is_none(),
        "no level should give None"
    );
    Ok(())
}
