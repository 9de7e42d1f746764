//! Device trees as test inputs: QEMU's own tree, and broken copies of it.
//!
//! The broken trees are made at test time from the tree QEMU generates (`dumpdtb`), never checked
//! in, so they follow QEMU's version. Node and property edits go through
//! `nimbus_board::writer::rewrite`; the damage that no editor would produce (garbage, a corrupt
//! structure block, a truncated blob) is byte surgery here. Every broken tree is checked with the
//! board crate after it is made, so a test cannot pass because the edit silently missed.

use crate::error::{Error, Result};
use crate::paths;
use crate::qemu::{self, Machine};
use nimbus_board::writer::{Edit, rewrite};
use nimbus_boot::status::ExitStatus;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Dumps QEMU's tree for `machine` (what the kernel gets without `-kernel`'s /chosen edits) to
/// `target/nimbus/dtb/qemu-<machine>.dtb`.
pub fn dump(machine: &Machine) -> Result<PathBuf> {
    let name = format!(
        "qemu-{}-smp{}-{}m-gicv{}-el{}.dtb",
        machine.cpu,
        machine.smp,
        machine.memory_mib,
        if machine.gic == qemu::Gic::V3 { 3 } else { 2 },
        if machine.el2 { 2 } else { 1 }
    );
    let path = paths::dtb_dir().join(name);
    paths::create_dir(&paths::dtb_dir())?;
    // Concurrent boots (threads, other xtask runs) may dump the same machine: write aside, then
    // rename.
    static DUMPS: AtomicUsize = AtomicUsize::new(0);
    let n = DUMPS.fetch_add(1, Ordering::Relaxed);
    let aside = path.with_extension(format!("{}-{n}.partial", std::process::id()));
    let mut cmd = Command::new(qemu::PROGRAM);
    cmd.args(machine.args(&format!(",dumpdtb={}", aside.display())));
    cmd.args(["-nic", "none", "-display", "none"]);
    let out = cmd.output().map_err(|source| Error::Spawn {
        program: qemu::PROGRAM.into(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Failed {
            what: format!("{} dumpdtb", qemu::PROGRAM),
            status: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    std::fs::rename(&aside, &path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// The ways a tree can be broken, each with the exit status the kernel must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// x0 = 0.
    Missing,
    /// Random bytes at x0.
    Garbage,
    /// Valid header, a property length in the middle of the structure block points far away.
    CorruptStructure,
    /// Valid header, the second half of the blob zeroed.
    Truncated,
    /// The memory node without `device_type = "memory"`.
    MemoryWithoutDeviceType,
    /// The memory node with `status = "disabled"`.
    MemoryDisabled,
    /// No `stdout-path` and no PL011.
    NoConsole,
    /// The root interrupt controller's compatible is one no kernel knows.
    UnsupportedInterruptController,
}

impl Broken {
    /// All of them, in test order.
    pub const ALL: [Self; 8] = [
        Self::Missing,
        Self::Garbage,
        Self::CorruptStructure,
        Self::Truncated,
        Self::MemoryWithoutDeviceType,
        Self::MemoryDisabled,
        Self::NoConsole,
        Self::UnsupportedInterruptController,
    ];

    /// Test and file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Missing => "no-dtb",
            Self::Garbage => "garbage-dtb",
            Self::CorruptStructure => "corrupt-structure",
            Self::Truncated => "truncated-dtb",
            Self::MemoryWithoutDeviceType => "memory-without-device-type",
            Self::MemoryDisabled => "memory-disabled",
            Self::NoConsole => "no-console",
            Self::UnsupportedInterruptController => "unsupported-interrupt-controller",
        }
    }

    /// The exit status the kernel must end with.
    pub fn expected(self) -> ExitStatus {
        match self {
            Self::Missing | Self::Garbage => ExitStatus::NoDeviceTree,
            Self::CorruptStructure | Self::Truncated => ExitStatus::BadDeviceTree,
            Self::MemoryWithoutDeviceType | Self::MemoryDisabled => ExitStatus::NoMemory,
            Self::NoConsole => ExitStatus::NoConsole,
            Self::UnsupportedInterruptController => ExitStatus::UnsupportedInterruptController,
        }
    }

    /// What the `nimbus: fatal:` line must mention, when the kernel has a console to print it.
    pub fn fatal_mentions(self) -> Option<&'static str> {
        match self {
            Self::MemoryWithoutDeviceType | Self::MemoryDisabled => Some("memory"),
            Self::UnsupportedInterruptController => Some("interrupt controller"),
            _ => None,
        }
    }

    /// The broken blob made from QEMU's `tree`, or `None` for no tree at all.
    pub fn make(self, tree: &[u8]) -> Result<Option<Vec<u8>>> {
        let edited =
            |edit: Edit| rewrite(tree, &edit).map_err(|e| Error::DeviceTree(e.to_string()));
        let blob = match self {
            Self::Missing => return Ok(None),
            Self::Garbage => garbage(4096),
            Self::CorruptStructure => corrupt_structure(tree)?,
            Self::Truncated => truncate(tree),
            Self::MemoryWithoutDeviceType => {
                edited(Edit::new().drop_property("/memory", "device_type"))?
            }
            Self::MemoryDisabled => {
                edited(Edit::new().set_property_str("/memory", "status", "disabled"))?
            }
            Self::NoConsole => {
                let mut edit = Edit::new()
                    .drop_property("/chosen", "stdout-path")
                    .drop_property("/chosen", "linux,stdout-path")
                    .drop_compatible("arm,pl011");
                // Aliases pointing at the dropped node would dangle.
                for alias in ["serial0", "serial1"] {
                    edit = edit.drop_property("/aliases", alias);
                }
                edited(edit)?
            }
            Self::UnsupportedInterruptController => {
                let node = root_interrupt_controller_node(tree)?;
                edited(Edit::new().set_property_str(&node, "compatible", "nimbus,imaginary-intc"))?
            }
        };
        self.verify(&blob)?;
        Ok(Some(blob))
    }

    /// Checks that `blob` is broken the way `self` says, as the board crate sees it.
    fn verify(self, blob: &[u8]) -> Result<()> {
        let ok = match self {
            Self::Missing => true,
            Self::Garbage => nimbus_board::header::check(blob).is_err(),
            Self::CorruptStructure | Self::Truncated => {
                nimbus_board::header::check(blob).is_ok() && nimbus_board::validate(blob).is_err()
            }
            Self::MemoryWithoutDeviceType | Self::MemoryDisabled => {
                nimbus_board::discover(blob).is_ok_and(|p| p.memory.is_empty())
            }
            Self::NoConsole => nimbus_board::discover(blob).is_ok_and(|p| p.console.is_none() && p.uarts.is_empty()),
            Self::UnsupportedInterruptController => nimbus_board::discover(blob).is_ok_and(|p| {
                matches!(p.interrupt_controller,
                    Some(nimbus_board::InterruptController::Unsupported { compatible }) if compatible == "nimbus,imaginary-intc")
            }),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::DeviceTree(format!(
                "device tree: the {} tree did not come out broken as intended",
                self.name()
            )))
        }
    }
}

/// Path of the node that is the root's interrupt controller (a GIC on `virt`, a child of /).
fn root_interrupt_controller_node(tree: &[u8]) -> Result<String> {
    let platform = nimbus_board::discover(tree).map_err(|e| Error::DeviceTree(e.to_string()))?;
    let compatible = match platform.interrupt_controller {
        Some(nimbus_board::InterruptController::GicV2 { compatible, .. }) => compatible,
        Some(nimbus_board::InterruptController::GicV3 { .. }) => "arm,gic-v3",
        _ => {
            return Err(Error::DeviceTree(
                "device tree: QEMU's tree has no GIC as its root interrupt controller".into(),
            ));
        }
    };
    let mut found = nimbus_board::devices::find_compatible(tree, compatible)
        .map_err(|e| Error::DeviceTree(e.to_string()))?;
    match found.next() {
        Some(device) => Ok(format!("/{}", device.name)),
        None => Err(Error::DeviceTree(format!(
            "device tree: no node with compatible {compatible:?}"
        ))),
    }
}

/// Deterministic random bytes whose first word is not the FDT magic.
pub fn garbage(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    if out.get(..4) == Some(&[0xd0, 0x0d, 0xfe, 0xed]) {
        out[0] = 0;
    }
    out
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Offsets of the `FDT_PROP` tokens of a structure block (a minimal walk of a well-formed tree).
pub fn property_tokens(tree: &[u8]) -> Result<Vec<usize>> {
    let bad =
        |what: &str| Error::DeviceTree(format!("device tree: cannot walk QEMU's tree: {what}"));
    let start = be32(tree, 8).ok_or_else(|| bad("short header"))? as usize;
    let size = be32(tree, 36).ok_or_else(|| bad("short header"))? as usize;
    let end = start
        .checked_add(size)
        .filter(|&e| e <= tree.len())
        .ok_or_else(|| bad("structure block"))?;
    let align = |n: usize| n.div_ceil(4) * 4;
    let mut at = start;
    let mut props = Vec::new();
    while at < end {
        match be32(tree, at).ok_or_else(|| bad("token"))? {
            1 => {
                let name_len = tree
                    .get(at + 4..end)
                    .and_then(|r| r.iter().position(|&b| b == 0))
                    .ok_or_else(|| bad("node name"))?;
                at = align(at + 4 + name_len + 1);
            }
            3 => {
                props.push(at);
                let len = be32(tree, at + 4).ok_or_else(|| bad("property"))? as usize;
                at = align(at + 12 + len);
            }
            2 | 4 => at += 4,
            9 => break,
            t => return Err(bad(&format!("token {t:#x} at {at:#x}"))),
        }
    }
    Ok(props)
}

/// The tree with the length of the property nearest the middle of its structure block set to
/// point far past the end.
pub fn corrupt_structure(tree: &[u8]) -> Result<Vec<u8>> {
    let props = property_tokens(tree)?;
    let Some(&middle) = props.get(props.len() / 2) else {
        return Err(Error::DeviceTree(
            "device tree: QEMU's tree has no properties".into(),
        ));
    };
    let mut out = tree.to_vec();
    out[middle + 4..middle + 8].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    Ok(out)
}

/// The tree with its header intact and everything from the middle of the used part on zeroed.
pub fn truncate(tree: &[u8]) -> Vec<u8> {
    // totalsize may include padding; cut the part that holds data, so the cut hurts.
    let used = be32(tree, 12)
        .zip(be32(tree, 32))
        .map_or(tree.len(), |(off, len)| (off + len) as usize);
    let mut out = tree.to_vec();
    let cut = used.min(out.len()) / 2;
    out[cut..].fill(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qemu_tree() -> Vec<u8> {
        // A dump from QEMU 7.2 (`-M virt -cpu cortex-a53 -smp 2 -m 512M`), kept by the board crate.
        paths::read(&paths::root().join("board/dtbs/virt-a53-smp2-512m.dtb")).unwrap()
    }

    #[test]
    fn every_broken_tree_is_broken_as_intended() {
        let tree = qemu_tree();
        for b in Broken::ALL {
            let made = b
                .make(&tree)
                .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
            assert_eq!(made.is_none(), b == Broken::Missing, "{}", b.name());
        }
    }

    #[test]
    fn expectations_follow_the_exit_statuses() {
        assert_eq!(Broken::Missing.expected() as i32, 3);
        assert_eq!(Broken::Garbage.expected() as i32, 3);
        assert_eq!(Broken::CorruptStructure.expected() as i32, 4);
        assert_eq!(Broken::Truncated.expected() as i32, 4);
        assert_eq!(Broken::MemoryDisabled.expected() as i32, 6);
        assert_eq!(Broken::NoConsole.expected() as i32, 5);
        assert_eq!(Broken::UnsupportedInterruptController.expected() as i32, 7);
        assert_eq!(Broken::NoConsole.fatal_mentions(), None);
        let names: std::collections::HashSet<_> = Broken::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names.len(), Broken::ALL.len());
    }

    #[test]
    fn byte_surgery_keeps_the_header() {
        let tree = qemu_tree();
        assert!(property_tokens(&tree).unwrap().len() > 50);
        let corrupt = corrupt_structure(&tree).unwrap();
        assert_eq!(corrupt[..40], tree[..40]);
        assert_eq!(corrupt.len(), tree.len());
        let cut = truncate(&tree);
        assert_eq!(cut[..40], tree[..40]);
        assert!(cut[cut.len() / 2..].iter().all(|&b| b == 0));
        let g = garbage(4096);
        assert_eq!(g, garbage(4096), "deterministic");
        assert!(nimbus_board::header::check(&g).is_err());
    }

    #[test]
    fn the_walk_refuses_garbage() {
        assert!(property_tokens(&garbage(64)).is_err());
        assert!(property_tokens(&[]).is_err());
    }
}
