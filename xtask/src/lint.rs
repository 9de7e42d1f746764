//! `cargo xtask lint`: formatting and clippy, host crates and kernel separately.
//!
//! Clippy runs twice because host and target packages never share a cargo invocation (features
//! would unify). Warnings are errors (`-D warnings`), so a clean exit means a clean tree. All
//! three steps run even when one fails, and the summary says which failed.

use crate::cargo;
use crate::error::{Error, Result};
use crate::paths;

/// The lint steps as `(description, cargo arguments)`.
pub fn steps() -> Vec<(String, Vec<String>)> {
    let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let mut host = words("clippy");
    host.extend(cargo::host_workspace_args());
    host.extend(words("--all-targets -- -D warnings"));
    let mut steps = vec![
        ("rustfmt".to_string(), words("fmt --all --check")),
        ("clippy (host crates)".to_string(), host),
    ];
    for package in cargo::target_only_packages() {
        let mut args = words("clippy --package");
        args.push((*package).into());
        args.extend(["--target".into(), paths::KERNEL_TARGET.into()]);
        args.extend(words("-- -D warnings"));
        steps.push((
            format!("clippy ({package}, {})", paths::KERNEL_TARGET),
            args,
        ));
    }
    // The kernel's own tests are compiled only into the test image.
    let mut ktest = words("clippy --package nimbus-kernel --features ktest --target");
    ktest.push(paths::KERNEL_TARGET.into());
    ktest.extend(words("-- -D warnings"));
    steps.push((
        format!(
            "clippy (nimbus-kernel with ktest, {})",
            paths::KERNEL_TARGET
        ),
        ktest,
    ));
    steps
}

/// Runs every step; fails if any failed.
pub fn run() -> Result<()> {
    crate::deps::ensure_rust_target()?;
    let mut failed = Vec::new();
    for (what, args) in steps() {
        let mut cmd = cargo::command();
        cmd.args(&args);
        println!("==> {what}: {}", cargo::describe(&cmd));
        match cargo::run(cmd, &what) {
            Ok(()) => {}
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(_) => failed.push(what),
        }
    }
    if failed.is_empty() {
        println!("==> lint clean");
        Ok(())
    } else {
        Err(Error::Other(format!("lint failed: {}", failed.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_target_never_share_an_invocation() {
        let steps = steps();
        assert_eq!(steps[0].1.join(" "), "fmt --all --check");
        let host = steps[1].1.join(" ");
        assert!(
            host.starts_with("clippy --workspace --exclude nimbus-kernel"),
            "{host}"
        );
        assert!(host.ends_with("--all-targets -- -D warnings"), "{host}");
        for package in cargo::target_only_packages() {
            assert!(host.contains(&format!("--exclude {package}")), "{host}");
        }
        assert_eq!(
            steps[2].1.join(" "),
            "clippy --package nimbus-kernel --target aarch64-unknown-none -- -D warnings"
        );
        assert_eq!(steps.len(), 3 + cargo::target_only_packages().len());
        assert_eq!(
            steps.last().map(|s| s.1.join(" ")).unwrap_or_default(),
            "clippy --package nimbus-kernel --features ktest --target aarch64-unknown-none -- -D warnings"
        );
    }
}
