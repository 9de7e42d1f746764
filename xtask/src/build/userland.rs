//! The user programs: which packages they come from, which image carries them where, and
//! building them for the target (profile `user`: release without debug info).

use crate::build::archive::Entry;
use crate::cargo;
use crate::error::Result;
use crate::paths::{self, ImageKind};
use std::path::PathBuf;

/// The cargo profile user programs are built with.
pub const PROFILE: &str = "user";

/// A user program.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// Cargo package.
    pub package: &'static str,
    /// Its binary (the `[[bin]]` name).
    pub binary: &'static str,
    /// Path in the production image's archive, if it ships there.
    pub production: Option<&'static str>,
    /// Path in the test image's archive, if it is part of the test run.
    pub test: Option<&'static str>,
    /// Path in the benchmark image's archive (`cargo xtask bench`), if it is part of it.
    pub bench: Option<&'static str>,
}

/// Every user program. The test image's root task is the userland test suite; the benchmark
/// image's is the benchmark program.
pub const PROGRAMS: &[Program] = &[
    Program {
        package: "nimbus-init",
        binary: "init",
        production: Some("bin/init"),
        test: None,
        bench: None,
    },
    Program {
        package: "nimbus-console",
        binary: "console",
        production: Some("bin/console"),
        test: None,
        bench: None,
    },
    Program {
        package: "nimbus-entropy",
        binary: "entropy",
        production: Some("bin/entropy"),
        test: None,
        bench: None,
    },
    Program {
        package: "nimbus-ktest",
        binary: "ktest",
        production: None,
        test: Some("bin/init"),
        bench: None,
    },
    Program {
        package: "nimbus-ktest-child",
        binary: "ktest-child",
        production: None,
        test: Some("bin/ktest-child"),
        bench: None,
    },
    Program {
        package: "nimbus-bench",
        binary: "bench",
        production: None,
        test: None,
        bench: Some("bin/init"),
    },
    Program {
        package: "nimbus-bench",
        binary: "bench-peer",
        production: None,
        test: None,
        bench: Some("bin/bench-peer"),
    },
    Program {
        package: "nimbus-bench",
        binary: "bench-exit",
        production: None,
        test: None,
        bench: Some("bin/bench-exit"),
    },
];

/// The programs `kind` carries, with their archive paths.
pub fn for_image(kind: ImageKind) -> impl Iterator<Item = (&'static Program, &'static str)> {
    PROGRAMS.iter().filter_map(move |p| {
        let path = match kind {
            ImageKind::Production => p.production,
            ImageKind::Test => p.test,
            ImageKind::Bench => p.bench,
        };
        path.map(|path| (p, path))
    })
}

/// Where cargo puts a built program.
fn output(program: &Program, target_dir: &std::path::Path) -> PathBuf {
    target_dir
        .join(paths::KERNEL_TARGET)
        .join(PROFILE)
        .join(program.binary)
}

/// Builds the programs of `kind` and returns them as archive entries.
pub fn build(kind: ImageKind, target_dir: &std::path::Path) -> Result<Vec<Entry>> {
    let programs: Vec<_> = for_image(kind).collect();
    if programs.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = cargo::command();
    cmd.args([
        "build",
        "--profile",
        PROFILE,
        "--target",
        paths::KERNEL_TARGET,
    ]);
    cmd.arg("--target-dir").arg(target_dir);
    for (program, _) in &programs {
        cmd.args(["--package", program.package]);
    }
    let names: Vec<_> = programs.iter().map(|(p, _)| p.binary).collect();
    println!(
        "==> building user programs ({PROFILE}): {}",
        names.join(", ")
    );
    cargo::run(cmd, "cargo build of the user programs")?;
    programs
        .iter()
        .map(|(program, path)| {
            Ok(Entry {
                name: (*path).into(),
                perm: 0o755,
                data: paths::read(&output(program, target_dir))?,
            })
        })
        .collect()
}
