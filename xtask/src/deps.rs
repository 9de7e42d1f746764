//! Host tools the commands need, and installing the missing ones.
//!
//! A fresh Debian machine with rustup should be able to run every command. Missing Debian packages
//! are installed with apt-get when xtask runs as root; otherwise xtask prints the exact `sudo`
//! command and stops, rather than failing later with a confusing "No such file" from deep inside a
//! test. The rustup target is added the same way (rustup needs no root).

use crate::error::{Error, Result};
use crate::paths;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// U-Boot for QEMU virt (aarch64), from Debian's u-boot-qemu.
pub const UBOOT_FIRMWARE: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// A host tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `qemu-system-aarch64`.
    Qemu,
    /// U-Boot built for QEMU virt.
    UBoot,
    /// `mkimage` (compiles the U-Boot boot script).
    Mkimage,
    /// `mformat` and `mcopy` (the FAT partition of the U-Boot disk).
    Mtools,
}

impl Tool {
    /// The Debian package that provides it.
    pub fn package(self) -> &'static str {
        match self {
            Self::Qemu => "qemu-system-arm",
            Self::UBoot => "u-boot-qemu",
            Self::Mkimage => "u-boot-tools",
            Self::Mtools => "mtools",
        }
    }

    /// The program or file that must exist.
    pub fn program(self) -> &'static str {
        match self {
            Self::Qemu => "qemu-system-aarch64",
            Self::UBoot => UBOOT_FIRMWARE,
            Self::Mkimage => "mkimage",
            Self::Mtools => "mformat and mcopy",
        }
    }

    /// What it is for, for the install message.
    pub fn purpose(self) -> &'static str {
        match self {
            Self::Qemu => "qemu-system-aarch64 runs the kernel",
            Self::UBoot => "U-Boot firmware for the boot-through-U-Boot test",
            Self::Mkimage => "mkimage compiles the U-Boot boot script",
            Self::Mtools => "mformat/mcopy build the U-Boot disk's FAT partition",
        }
    }

    /// Whether it is installed.
    pub fn present(self) -> bool {
        match self {
            Self::Qemu => find_program("qemu-system-aarch64").is_some(),
            Self::UBoot => Path::new(UBOOT_FIRMWARE).is_file(),
            Self::Mkimage => find_program("mkimage").is_some(),
            Self::Mtools => find_program("mformat").is_some() && find_program("mcopy").is_some(),
        }
    }
}

/// The tools every QEMU boot path needs.
pub const ALL_QEMU_TOOLS: [Tool; 4] = [Tool::Qemu, Tool::UBoot, Tool::Mkimage, Tool::Mtools];

/// Finds an executable on `$PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Makes sure `tools` are installed, installing missing ones with apt-get when running as root.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let mut missing: Vec<Tool> = tools.iter().copied().filter(|t| !t.present()).collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|t| t.package()).collect();
    for tool in &missing {
        println!("==> missing {} ({})", tool.package(), tool.purpose());
    }
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if find_program("apt-get").is_none() {
        return Err(Error::MissingTool(format!(
            "missing host packages {} and there is no apt-get: install their equivalents",
            packages.join(", ")
        )));
    }
    if !is_root() {
        return Err(Error::MissingTool(format!(
            "missing host packages; install them with:\n    sudo {install}"
        )));
    }
    apt_update_once()?;
    println!("==> {install}");
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "--no-install-recommends"])
        .args(&packages);
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    run_checked(cmd, "apt-get install")?;
    match missing.iter().find(|t| !t.present()) {
        Some(t) => Err(Error::MissingTool(format!(
            "{} is still missing after installing {} (is it on $PATH?)",
            t.program(),
            t.package()
        ))),
        None => Ok(()),
    }
}

fn apt_update_once() -> Result<()> {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    println!("==> apt-get update (to install the missing packages)");
    let mut cmd = Command::new("apt-get");
    cmd.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
    run_checked(cmd, "apt-get update")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run_checked(mut cmd: Command, what: &str) -> Result<()> {
    let program = format!("{:?}", cmd.get_program());
    let status = cmd
        .status()
        .map_err(|source| Error::Spawn { program, source })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            what: what.into(),
            status: status.to_string(),
        })
    }
}

/// The toolchain channel pinned in `rust-toolchain.toml` (one source of truth for xtask, .ci/run
/// and rustup itself).
pub fn pinned_toolchain() -> Result<String> {
    let file = paths::root().join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    parse_channel(&text)
        .ok_or_else(|| Error::Other(format!("{}: no `channel = \"...\"` line", file.display())))
}

fn parse_channel(toml: &str) -> Option<String> {
    toml.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "channel" {
            return None;
        }
        Some(value.trim().trim_matches('"').to_string())
    })
}

/// Makes sure the pinned toolchain can build for the kernel's target, adding it with rustup.
pub fn ensure_rust_target() -> Result<()> {
    if find_program("rustup").is_none() {
        println!(
            "==> rustup not found: assuming the Rust toolchain has {}",
            paths::KERNEL_TARGET
        );
        return Ok(());
    }
    let toolchain = pinned_toolchain()?;
    let out = Command::new("rustup")
        .args(["target", "list", "--installed", "--toolchain", &toolchain])
        .output()
        .map_err(|source| Error::Spawn {
            program: "rustup".into(),
            source,
        })?;
    let installed = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && installed.lines().any(|l| l.trim() == paths::KERNEL_TARGET) {
        return Ok(());
    }
    println!(
        "==> rustup target add {} --toolchain {toolchain} (the kernel's target is not installed)",
        paths::KERNEL_TARGET
    );
    let mut cmd = Command::new("rustup");
    cmd.args([
        "target",
        "add",
        paths::KERNEL_TARGET,
        "--toolchain",
        &toolchain,
    ]);
    run_checked(cmd, "rustup target add")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pinned_channel() {
        assert_eq!(
            parse_channel("[toolchain]\nchannel = \"1.95.0\"\n").as_deref(),
            Some("1.95.0")
        );
        assert_eq!(parse_channel("[toolchain]\nprofile = \"minimal\"\n"), None);
        assert!(pinned_toolchain().is_ok());
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("surely-no-such-program-here").is_none());
    }
}
