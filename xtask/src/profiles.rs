//! Named QEMU machine profiles, from `qemu/profiles.txt`.
//!
//! The kernel test matrix is data: a table a person can read and extend without reading Rust,
//! and the same names work with `cargo xtask run --profile NAME`. The file is compiled into
//! xtask (so a typo fails `cargo test`, not a test run half-way through) and its format is
//! documented in its header.

use crate::cli::parse_memory;
use crate::qemu::{Gic, Machine};

/// The profiles file, as built into xtask.
pub const PROFILES: &str = include_str!("../../qemu/profiles.txt");

/// How a profile loads the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// QEMU `-kernel`.
    Kernel,
    /// U-Boot `booti` from a virtio disk.
    UBoot,
    /// The direct loader, Image at this address.
    Direct(u64),
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Unique name.
    pub name: String,
    /// The machine.
    pub machine: Machine,
    /// The loader.
    pub loader: Loader,
}

/// Parses the profiles text; errors name the line.
pub fn parse(text: &str) -> Result<Vec<Profile>, String> {
    let mut out: Vec<Profile> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |msg: String| format!("qemu/profiles.txt line {}: {msg}", index + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, smp, memory, gic, el, cpu, boot] = fields[..] else {
            return Err(at(format!("expected 7 columns, found {}", fields.len())));
        };
        let smp = smp
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=512).contains(n))
            .ok_or_else(|| at(format!("bad smp {smp:?}")))?;
        let memory_mib = parse_memory(memory).map_err(|e| at(e.to_string()))?;
        let gic = match gic {
            "2" => Gic::V2,
            "3" => Gic::V3,
            _ => return Err(at(format!("gic must be 2 or 3, not {gic:?}"))),
        };
        let el2 = match el {
            "1" => false,
            "2" => true,
            _ => return Err(at(format!("el must be 1 or 2, not {el:?}"))),
        };
        let loader = match boot {
            "kernel" => Loader::Kernel,
            "uboot" => Loader::UBoot,
            _ => match boot.strip_prefix("direct@") {
                Some(addr) => Loader::Direct(
                    crate::cli::parse_u64("direct@", addr).map_err(|e| at(e.to_string()))?,
                ),
                None => {
                    return Err(at(format!(
                        "boot must be kernel, uboot or direct@ADDR, not {boot:?}"
                    )));
                }
            },
        };
        if matches!(loader, Loader::Direct(_)) && smp != 1 {
            return Err(at("the direct loader starts one CPU: smp must be 1".into()));
        }
        if out.iter().any(|p| p.name == name) {
            return Err(at(format!("duplicate name {name:?}")));
        }
        let machine = Machine {
            smp,
            memory_mib,
            gic,
            el2,
            cpu: cpu.into(),
        };
        out.push(Profile {
            name: name.into(),
            machine,
            loader,
        });
    }
    Ok(out)
}

/// The built-in profiles.
pub fn all() -> Result<Vec<Profile>, String> {
    parse(PROFILES)
}

/// The profile called `name`.
pub fn find(name: &str) -> Result<Profile, String> {
    let all = all()?;
    let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
    let known = names.join(", ");
    all.iter()
        .find(|p| p.name == name)
        .cloned()
        .ok_or_else(|| format!("no profile {name:?} in qemu/profiles.txt (known: {known})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_covers_every_value() {
        let all = all().unwrap();
        let has = |f: &dyn Fn(&Profile) -> bool| all.iter().any(f);
        for smp in [1, 2, 4] {
            assert!(has(&|p| p.machine.smp == smp), "smp {smp}");
        }
        for mib in [128, 2048, 5120] {
            assert!(has(&|p| p.machine.memory_mib == mib), "{mib} MiB");
        }
        assert!(has(&|p| p.machine.gic == Gic::V2) && has(&|p| p.machine.gic == Gic::V3));
        assert!(has(&|p| p.machine.el2) && has(&|p| !p.machine.el2));
        assert!(has(&|p| p.loader == Loader::UBoot));
        assert!(has(
            &|p| matches!(p.loader, Loader::Direct(a) if a % (2 << 20) == 0)
        ));
        assert!(has(
            &|p| matches!(p.loader, Loader::Direct(a) if a % (2 << 20) != 0 && a % 4096 == 0)
        ));
    }

    #[test]
    fn finds_by_name() {
        assert_eq!(find("uboot-smp2-512m").unwrap().loader, Loader::UBoot);
        assert!(find("nope").unwrap_err().contains("known:"));
    }

    #[test]
    fn reports_bad_lines() {
        assert!(
            parse("a 1 128M 2 1 cortex-a53")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse("a 1 128M 4 1 cortex-a53 kernel").is_err());
        assert!(parse("a 1 128M 2 3 cortex-a53 kernel").is_err());
        assert!(parse("a 2 512M 2 1 cortex-a53 direct@0x41600000").is_err());
        assert!(parse("a 1 512M 2 1 cortex-a53 floppy").is_err());
        assert!(
            parse("a 1 512M 2 1 x kernel\na 1 512M 2 1 x kernel")
                .unwrap_err()
                .contains("duplicate")
        );
        assert_eq!(parse("# only a comment\n\n").unwrap(), []);
    }
}
