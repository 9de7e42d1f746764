//! CPUs, how to start them, and PSCI.
//!
//! Secondary cores come up either through PSCI `CPU_ON` (QEMU virt,
//! PinePhone) or by writing an entry point to a spin-table release address
//! (Raspberry Pi 3: 0xd8, 0xe0, 0xe8, 0xf0). The `/cpus`-level
//! `enable-method = "brcm,bcm2836-smp"` on the Pi is the 32-bit ARM method
//! and is only reported.

use crate::cells;
use crate::tree::Visit;

/// One enabled `/cpus/cpu@N` node (`device_type = "cpu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu<'a> {
    /// MPIDR affinity bits from `reg` (1 or 2 cells per `/cpus`
    /// `#address-cells`; the first entry if several threads are listed).
    pub mpidr: u64,
    /// First `compatible` string (`arm,cortex-a53`).
    pub compatible: &'a str,
    /// How to start it.
    pub enable_method: EnableMethod<'a>,
}

/// A CPU's `enable-method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableMethod<'a> {
    /// PSCI `CPU_ON` (see [`Psci`]).
    Psci,
    /// Write the entry point to `release_addr` and `sev`.
    SpinTable {
        /// `cpu-release-addr`.
        release_addr: u64,
    },
    /// No `enable-method` (typical for the boot CPU of a 1-CPU tree).
    None,
    /// Something else, verbatim (also `spin-table` without a usable
    /// `cpu-release-addr`).
    Other(&'a str),
}

/// The PSCI firmware interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Psci<'a> {
    /// Most specific `compatible` (`arm,psci-1.0`, `arm,psci-0.2`).
    pub compatible: &'a str,
    /// Which instruction calls it.
    pub conduit: Conduit,
}

/// The PSCI calling instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conduit {
    /// `hvc`: firmware at EL2 (QEMU virt without virtualization=on).
    Hvc,
    /// `smc`: firmware at EL3 (real boards, QEMU with virtualization=on).
    Smc,
}

impl Conduit {
    /// `"hvc"` or `"smc"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Conduit::Hvc => "hvc",
            Conduit::Smc => "smc",
        }
    }
}

/// A `/cpus` child, if it is an enabled CPU with a decodable `reg`.
pub(crate) fn cpu_from_visit<'a>(v: &Visit<'_, '_, 'a>) -> Option<Cpu<'a>> {
    if !v.props.device_type_is("cpu") || !v.props.enabled() {
        return None;
    }
    let address_cells = v.parent().map(|p| p.address_cells).unwrap_or(1);
    let len = cells::cells_len(address_cells).filter(|l| *l > 0)?;
    let mpidr = cells::decode_cells(v.props.reg?.get(..len)?)?;
    let enable_method = match v.prop_str("enable-method") {
        None => EnableMethod::None,
        Some("psci") => EnableMethod::Psci,
        Some("spin-table") => match v.prop("cpu-release-addr").and_then(cells::prop_u32_or_u64) {
            Some(release_addr) => EnableMethod::SpinTable { release_addr },
            None => EnableMethod::Other("spin-table"),
        },
        Some(other) => EnableMethod::Other(other),
    };
    Some(Cpu {
        mpidr,
        compatible: v.props.first_compatible(),
        enable_method,
    })
}

/// Outcome of looking at a PSCI node.
pub(crate) enum PsciNode<'a> {
    Found(Psci<'a>),
    /// A PSCI node whose `method` we cannot use.
    BadMethod(&'a str),
}

/// A PSCI node (`arm,psci*` compatible, enabled).
pub(crate) fn psci_from_visit<'a>(v: &Visit<'_, '_, 'a>) -> Option<PsciNode<'a>> {
    let compatible = cells::str_list(v.props.compatible).find(|c| c.starts_with("arm,psci"))?;
    if !v.props.enabled() {
        return None;
    }
    // The first string is the most specific one.
    let compatible = cells::first_str(v.props.compatible)
        .filter(|c| !c.is_empty())
        .unwrap_or(compatible);
    Some(match v.prop_str("method") {
        Some("hvc") => PsciNode::Found(Psci {
            compatible,
            conduit: Conduit::Hvc,
        }),
        Some("smc") => PsciNode::Found(Psci {
            compatible,
            conduit: Conduit::Smc,
        }),
        other => PsciNode::BadMethod(other.unwrap_or("")),
    })
}
