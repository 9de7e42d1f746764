//! `cargo xtask build`: the kernel through nested cargo, then the bootable Image.
//!
//! Steps: make sure the rustup target exists, `cargo build --release -p nimbus-kernel --target
//! aarch64-unknown-none` (plus `--features ktest` for the test image), flatten the ELF
//! ([`elf`]), append the boot archive ([`archive`]), and write `Image` and a copy of the ELF (for
//! symbols and sizes) under `target/nimbus/` or `target/nimbus/test/`.

pub mod archive;
pub mod elf;
pub mod manifest;
pub mod userland;

use crate::cargo;
use crate::error::{Error, Result};
use crate::paths::{self, ImageKind};
use archive::{BuildInfo, ImageLayout};
use std::path::PathBuf;
use std::process::Command;

/// The cargo profile the kernel is built with.
pub const PROFILE: &str = "release";
/// The kernel feature that makes the test image.
pub const TEST_FEATURE: &str = "ktest";

/// A finished build.
#[derive(Debug, Clone)]
pub struct Built {
    /// Production, test or bench.
    pub kind: ImageKind,
    /// The copy of the kernel ELF.
    pub elf: PathBuf,
    /// The bootable Image.
    pub image: PathBuf,
    /// Where the kernel and archive sit in it.
    pub layout: ImageLayout,
    /// The archive's files as `(name, size)`.
    pub files: Vec<(String, usize)>,
}

/// Builds the Image of `kind`.
pub fn build(kind: ImageKind) -> Result<Built> {
    crate::deps::ensure_rust_target()?;
    let target_dir = cargo_target_dir(kind);
    let mut cmd = cargo::command();
    cmd.args([
        "build",
        "--profile",
        PROFILE,
        "--package",
        cargo::KERNEL_PACKAGE,
        "--target",
        paths::KERNEL_TARGET,
    ]);
    cmd.arg("--target-dir").arg(&target_dir);
    let features = match kind {
        ImageKind::Production | ImageKind::Bench => String::new(),
        ImageKind::Test => {
            cmd.args(["--features", TEST_FEATURE]);
            format!(", features {TEST_FEATURE}")
        }
    };
    println!(
        "==> building kernel ({PROFILE}, {}{features})",
        paths::KERNEL_TARGET
    );
    cargo::run(cmd, "cargo build of the kernel")?;

    let built_elf = target_dir
        .join(paths::KERNEL_TARGET)
        .join(PROFILE)
        .join(cargo::KERNEL_PACKAGE);
    let elf_bytes = paths::read(&built_elf)?;
    let flat = elf::flatten(&elf_bytes).map_err(Error::Elf)?;
    let info = BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        commit: git_commit(),
        profile: PROFILE.into(),
        image: kind,
    };
    let mut entries = archive::entries(&info);
    let programs = userland::build(kind, &target_dir)?;
    let paths_built: Vec<String> = programs.iter().map(|e| e.name.clone()).collect();
    entries.extend(programs);
    if kind == ImageKind::Production {
        entries.push(manifest::entry(&paths_built)?);
    }
    let archive_bytes = archive::pack(&entries);
    let files = archive::list(&archive_bytes).map_err(Error::Other)?;
    let (image_bytes, layout) = archive::assemble(flat, &archive_bytes)?;

    let built = Built {
        kind,
        elf: paths::elf(kind),
        image: paths::image(kind),
        layout,
        files,
    };
    paths::write(&built.elf, &elf_bytes)?;
    paths::write(&built.image, &image_bytes)?;
    println!(
        "==> wrote {} ({}, image_size {:#x}: kernel {:#x} + archive {} B at {:#x})",
        paths::display(&built.image),
        paths::human_size(layout.file_len),
        layout.image_size,
        layout.footprint,
        layout.archive_len,
        layout.archive_offset
    );
    Ok(built)
}

/// cargo's target directory for `kind`. The test image gets its own (`target/ktest`): the
/// `ktest` feature changes shared dependencies, and one directory for both kinds would rebuild
/// them on every switch (`cargo xtask test` builds both). The benchmark image shares the
/// production kernel's, since it is the same kernel.
pub fn cargo_target_dir(kind: ImageKind) -> PathBuf {
    match kind {
        ImageKind::Production | ImageKind::Bench => paths::root().join("target"),
        ImageKind::Test => paths::root().join("target").join("ktest"),
    }
}

/// The current commit (with `-dirty` when tracked files changed), or "unknown".
fn git_commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .current_dir(paths::root())
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) if !commit.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        _ => "unknown".into(),
    }
}
