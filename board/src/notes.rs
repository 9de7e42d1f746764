//! Plain statements of what the tree has that we do not support.
//!
//! These are findings, not errors: discovery still succeeds, and `dt-info`
//! prints them in its `unsupported:` section so a person sees at a glance
//! why a board will not fully work.

use core::fmt;

/// One thing found in the tree that Nimbus does not support (or ignores on
/// purpose). `Display` gives a one-line sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported<'a> {
    /// The root interrupt controller is not a GIC; the kernel cannot take
    /// interrupts through it.
    InterruptController {
        /// Its first `compatible` string.
        compatible: &'a str,
    },
    /// The root `interrupt-parent` is a controller stacked in front of the
    /// GIC (i.MX GPC, Tegra ICTLR); we report the GIC and leave this one
    /// unprogrammed.
    StackedInterruptController {
        /// Its first `compatible` string.
        compatible: &'a str,
    },
    /// A UART for which there is no driver.
    UartKind {
        /// Its first `compatible` string.
        compatible: &'a str,
    },
    /// `stdout-path` does not lead to a node with a usable `reg`.
    ConsoleNotFound {
        /// The raw `stdout-path`.
        stdout_path: &'a str,
    },
    /// A per-CPU `enable-method` other than `psci` and `spin-table`.
    CpuEnableMethod {
        /// The method string.
        method: &'a str,
    },
    /// A `/cpus`-level `enable-method` (32-bit ARM SMP operations).
    CpusEnableMethod {
        /// The method string.
        method: &'a str,
    },
    /// CPUs use `enable-method = "psci"` but there is no usable PSCI node
    /// (firmware such as TF-A must provide PSCI).
    PsciMissing,
    /// A PSCI node whose `method` is neither `hvc` nor `smc`.
    PsciMethod {
        /// The `method` string (empty if absent).
        method: &'a str,
    },
    /// A `device_type = "memory"` node with `status` not okay (QEMU
    /// `secure=on` secure RAM); it is not used.
    DisabledMemory {
        /// Node name.
        node: &'a str,
    },
    /// A `reg` that cannot be decoded (cell counts above 4, 64-bit
    /// overflow, or not translatable through `ranges`).
    UndecodableReg {
        /// Node name.
        node: &'a str,
    },
    /// A list hit its fixed capacity; further entries were dropped.
    TooMany {
        /// Which list.
        what: &'static str,
        /// Its capacity.
        limit: usize,
    },
}

impl Unsupported<'_> {
    /// A short machine-friendly tag (used as `"kind"` in JSON).
    pub fn kind(&self) -> &'static str {
        match self {
            Unsupported::InterruptController { .. } => "interrupt-controller",
            Unsupported::StackedInterruptController { .. } => "stacked-interrupt-controller",
            Unsupported::UartKind { .. } => "uart",
            Unsupported::ConsoleNotFound { .. } => "console",
            Unsupported::CpuEnableMethod { .. } => "cpu-enable-method",
            Unsupported::CpusEnableMethod { .. } => "cpus-enable-method",
            Unsupported::PsciMissing => "psci-missing",
            Unsupported::PsciMethod { .. } => "psci-method",
            Unsupported::DisabledMemory { .. } => "disabled-memory",
            Unsupported::UndecodableReg { .. } => "undecodable-reg",
            Unsupported::TooMany { .. } => "truncated",
        }
    }
}

impl fmt::Display for Unsupported<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::InterruptController { compatible } => write!(
                f,
                "interrupt controller \"{compatible}\" is not supported: the kernel drives only GICv2/GICv3"
            ),
            Unsupported::StackedInterruptController { compatible } => write!(
                f,
                "interrupt controller \"{compatible}\" sits in front of the GIC and is not programmed; interrupts are taken at the GIC"
            ),
            Unsupported::UartKind { compatible } => {
                write!(f, "UART \"{compatible}\" has no driver")
            }
            Unsupported::ConsoleNotFound { stdout_path } => write!(
                f,
                "stdout-path \"{stdout_path}\" does not lead to a UART with usable registers"
            ),
            Unsupported::CpuEnableMethod { method } => {
                write!(f, "CPU enable-method \"{method}\" is not supported (only psci and spin-table)")
            }
            Unsupported::CpusEnableMethod { method } => write!(
                f,
                "/cpus enable-method \"{method}\" (32-bit ARM SMP) is ignored; the per-CPU methods are used"
            ),
            Unsupported::PsciMissing => f.write_str(
                "CPUs use enable-method \"psci\" but the tree has no PSCI node: firmware (e.g. TF-A) must provide PSCI, secondary CPUs cannot be started",
            ),
            Unsupported::PsciMethod { method } => {
                write!(f, "PSCI method \"{method}\" is neither hvc nor smc; PSCI is not used")
            }
            Unsupported::DisabledMemory { node } => {
                write!(f, "memory node {node} is disabled (status not okay) and is ignored")
            }
            Unsupported::UndecodableReg { node } => {
                write!(f, "reg of {node} cannot be decoded or translated and is ignored")
            }
            Unsupported::TooMany { what, limit } => {
                write!(f, "more than {limit} {what}: the rest were dropped")
            }
        }
    }
}
