//! From "this machine, this loader, this Image" to a QEMU command, preparing what the loader needs
//! (the U-Boot disk, the trampoline, a device tree). Shared by `run` and `test`.

use crate::devicetree;
use crate::error::Result;
use crate::loader;
use crate::paths;
use crate::profiles::Loader;
use crate::qemu::{Boot, Console, Machine, Qemu};
use crate::uboot;
use std::path::{Path, PathBuf};

/// The device tree a direct boot hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dtb {
    /// QEMU's own tree for this machine (dumped with `dumpdtb`).
    Qemu,
    /// These exact bytes.
    File(PathBuf),
    /// None: x0 = 0.
    Absent,
}

/// What to boot, and how.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The machine.
    pub machine: &'a Machine,
    /// The loader.
    pub loader: Loader,
    /// The Image.
    pub image: &'a Path,
    /// Name of the run, for its scratch files: each run gets its own U-Boot disk, because
    /// QEMU locks a disk image and parallel boots must not share one.
    pub name: &'a str,
    /// The tree a direct boot hands over (ignored by the other loaders).
    pub dtb: Dtb,
    /// Serial port handling.
    pub console: Console,
    /// Open a display window.
    pub window: bool,
    /// Extra QEMU arguments.
    pub extra: Vec<String>,
}

/// Prepares the loader's files and returns the QEMU command.
pub fn prepare(r: Request) -> Result<Qemu> {
    crate::deps::ensure(&[crate::deps::Tool::Qemu])?;
    let boot = match r.loader {
        Loader::Kernel => Boot::Kernel(r.image.to_path_buf()),
        Loader::UBoot => {
            let dir = paths::boot_dir().join(format!("uboot-{}", r.name.replace("::", "-")));
            Boot::UBootDisk {
                firmware: uboot::firmware(),
                disk: uboot::prepare_disk(r.image, &dir)?,
            }
        }
        Loader::Direct(addr) => {
            let tree = match &r.dtb {
                Dtb::Qemu => Some(devicetree::dump(r.machine)?),
                Dtb::File(f) => Some(f.clone()),
                Dtb::Absent => None,
            };
            Boot::Direct(loader::prepare(
                r.image,
                addr,
                tree.as_deref(),
                r.machine,
                &paths::boot_dir(),
            )?)
        }
    };
    Ok(Qemu {
        machine: r.machine.clone(),
        boot,
        console: r.console,
        window: r.window,
        extra: r.extra,
    })
}
