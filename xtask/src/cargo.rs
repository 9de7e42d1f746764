//! Nested cargo invocations, and which packages are built for the target rather than the host.
//!
//! Host and target packages never share one cargo invocation: features would unify across them
//! (see the workspace notes). Every host-wide command therefore excludes the target-only packages
//! listed here, and they are built or linted with an explicit `--target`.

use crate::error::{Error, Result};
use crate::paths;
use std::process::Command;

/// The kernel's package (built for [`paths::KERNEL_TARGET`] only).
pub const KERNEL_PACKAGE: &str = "nimbus-kernel";

/// Packages that only build for the target: `cargo ... --workspace` must exclude each one, and
/// `lint` runs clippy on each with `--target`: the kernel and every user program.
pub fn target_only_packages() -> Vec<&'static str> {
    let mut packages = vec![KERNEL_PACKAGE];
    for program in crate::build::userland::PROGRAMS {
        if !packages.contains(&program.package) {
            packages.push(program.package);
        }
    }
    packages
}

/// A `cargo` command (the same cargo that runs xtask) in the workspace root.
pub fn command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(paths::root());
    cmd
}

/// `--workspace --exclude <each target-only package>`.
pub fn host_workspace_args() -> Vec<String> {
    let mut args = vec!["--workspace".to_string()];
    for package in target_only_packages() {
        args.push("--exclude".into());
        args.push((*package).into());
    }
    args
}

/// Runs a cargo command with inherited output and fails if it fails.
pub fn run(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd.status().map_err(|source| Error::Spawn {
        program: "cargo".into(),
        source,
    })?;
    crate::interrupt::check()?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            what: what.into(),
            status: status.to_string(),
        })
    }
}

/// The command line of `cmd` for progress lines.
pub fn describe(cmd: &Command) -> String {
    let mut words = vec!["cargo".to_string()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}
