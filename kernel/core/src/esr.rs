//! Decoding the exception syndrome register (ESR_ELx) into words a person can read.
//!
//! Used for the kernel's report of an unexpected exception and for the fault messages user
//! processes' supervisors receive. Encodings are from the Arm ARM, D24.2 (ESR_EL1).

use core::fmt;

/// Exception classes (ESR bits 31:26) the kernel tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionClass {
    /// Unknown reason: usually an undefined or unallocated instruction.
    Unknown,
    /// A trapped WFI or WFE.
    WfiWfe,
    /// FP/SIMD access trapped by CPACR.
    FpAccess,
    /// Illegal execution state (a bad exception return).
    IllegalState,
    /// SVC from AArch64: a system call.
    Svc,
    /// A trapped MSR, MRS or system instruction (privileged register access from EL0).
    SystemRegister,
    /// Instruction abort from a lower exception level.
    InstructionAbortLower,
    /// Instruction abort from the same exception level.
    InstructionAbortSame,
    /// Misaligned program counter.
    PcAlignment,
    /// Data abort from a lower exception level.
    DataAbortLower,
    /// Data abort from the same exception level.
    DataAbortSame,
    /// Misaligned stack pointer.
    SpAlignment,
    /// A trapped floating-point exception.
    FpException,
    /// SError interrupt.
    SError,
    /// Breakpoint, software step or watchpoint (debug).
    Debug,
    /// BRK instruction.
    Brk,
    /// Any other class, by number.
    Other(u8),
}

impl ExceptionClass {
    /// Classifies an EC value.
    pub fn from_ec(ec: u8) -> Self {
        match ec {
            0x00 => Self::Unknown,
            0x01 => Self::WfiWfe,
            0x07 => Self::FpAccess,
            0x0e => Self::IllegalState,
            0x15 => Self::Svc,
            0x18 => Self::SystemRegister,
            0x20 => Self::InstructionAbortLower,
            0x21 => Self::InstructionAbortSame,
            0x22 => Self::PcAlignment,
            0x24 => Self::DataAbortLower,
            0x25 => Self::DataAbortSame,
            0x26 => Self::SpAlignment,
            0x28 | 0x2c => Self::FpException,
            0x2f => Self::SError,
            0x30..=0x35 => Self::Debug,
            0x3c => Self::Brk,
            other => Self::Other(other),
        }
    }

    /// What the class means, in a few words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unknown => "undefined instruction",
            Self::WfiWfe => "trapped WFI/WFE",
            Self::FpAccess => "FP/SIMD access trapped",
            Self::IllegalState => "illegal execution state",
            Self::Svc => "system call",
            Self::SystemRegister => "privileged system register access",
            Self::InstructionAbortLower | Self::InstructionAbortSame => "instruction abort",
            Self::PcAlignment => "misaligned PC",
            Self::DataAbortLower | Self::DataAbortSame => "data abort",
            Self::SpAlignment => "misaligned stack pointer",
            Self::FpException => "floating-point exception",
            Self::SError => "SError",
            Self::Debug => "debug exception",
            Self::Brk => "BRK instruction",
            Self::Other(_) => "unexpected exception class",
        }
    }
}

/// The kind of an instruction or data abort (the fault status code, ISS bits 5:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Address size fault.
    AddressSize,
    /// Translation fault: nothing is mapped there.
    Translation,
    /// Access flag fault.
    AccessFlag,
    /// Permission fault: mapped, but not for this kind of access.
    Permission,
    /// Synchronous external abort.
    External,
    /// Synchronous external abort on a translation table walk.
    ExternalOnWalk,
    /// Alignment fault.
    Alignment,
    /// TLB conflict abort.
    TlbConflict,
    /// Anything else, by status code.
    Other(u8),
}

impl FaultKind {
    fn describe(self) -> &'static str {
        match self {
            Self::AddressSize => "address size fault",
            Self::Translation => "translation fault (unmapped)",
            Self::AccessFlag => "access flag fault",
            Self::Permission => "permission fault",
            Self::External => "external abort",
            Self::ExternalOnWalk => "external abort on table walk",
            Self::Alignment => "alignment fault",
            Self::TlbConflict => "TLB conflict",
            Self::Other(_) => "fault",
        }
    }
}

/// Details of an instruction or data abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort {
    /// What kind of fault.
    pub kind: FaultKind,
    /// Translation level the fault was found at, where the code says.
    pub level: Option<u8>,
    /// The access was a write (data aborts only).
    pub write: bool,
    /// FAR holds the faulting address.
    pub far_valid: bool,
}

/// An ESR_ELx value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syndrome(pub u64);

impl Syndrome {
    /// The exception class.
    pub fn class(self) -> ExceptionClass {
        ExceptionClass::from_ec(((self.0 >> 26) & 0x3f) as u8)
    }

    /// Whether this is an SVC from AArch64: the system call test on the hot path, without
    /// classifying.
    pub const fn is_svc(self) -> bool {
        (self.0 >> 26) & 0x3f == 0x15
    }

    /// The instruction-specific syndrome (bits 24:0).
    pub fn iss(self) -> u32 {
        (self.0 & 0x1ff_ffff) as u32
    }

    /// The immediate of an SVC or BRK.
    pub fn immediate(self) -> Option<u16> {
        matches!(self.class(), ExceptionClass::Svc | ExceptionClass::Brk)
            .then_some(self.iss() as u16)
    }

    /// Decoded details when this is an instruction or data abort.
    pub fn abort(self) -> Option<Abort> {
        let data = match self.class() {
            ExceptionClass::DataAbortLower | ExceptionClass::DataAbortSame => true,
            ExceptionClass::InstructionAbortLower | ExceptionClass::InstructionAbortSame => false,
            _ => return None,
        };
        let iss = self.iss();
        let code = (iss & 0x3f) as u8;
        let level = code & 0b11;
        let (kind, level) = match code >> 2 {
            0b0000 => (FaultKind::AddressSize, Some(level)),
            0b0001 => (FaultKind::Translation, Some(level)),
            0b0010 => (FaultKind::AccessFlag, Some(level)),
            0b0011 => (FaultKind::Permission, Some(level)),
            0b0101 => (FaultKind::ExternalOnWalk, Some(level)),
            _ => match code {
                0b01_0000 => (FaultKind::External, None),
                0b10_0001 => (FaultKind::Alignment, None),
                0b11_0000 => (FaultKind::TlbConflict, None),
                other => (FaultKind::Other(other), None),
            },
        };
        Some(Abort {
            kind,
            level,
            write: data && iss & (1 << 6) != 0,
            far_valid: iss & (1 << 10) == 0,
        })
    }
}

impl fmt::Display for Syndrome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class();
        write!(f, "{}", class.describe())?;
        if let ExceptionClass::Other(ec) = class {
            write!(f, " {ec:#x}")?;
        }
        if let Some(abort) = self.abort() {
            write!(f, ": {}", abort.kind.describe())?;
            if let FaultKind::Other(code) = abort.kind {
                write!(f, " {code:#x}")?;
            }
            if let Some(level) = abort.level {
                write!(f, " at level {level}")?;
            }
            if matches!(
                class,
                ExceptionClass::DataAbortLower | ExceptionClass::DataAbortSame
            ) {
                f.write_str(if abort.write {
                    ", on write"
                } else {
                    ", on read"
                })?;
            }
        } else if let Some(imm) = self.immediate() {
            write!(f, " #{imm}")?;
        }
        write!(f, " (ESR {:#010x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_write_permission_fault() {
        // EC 0x25 (data abort, same EL), IL, WnR, DFSC permission level 3.
        let esr = Syndrome((0x25 << 26) | (1 << 25) | (1 << 6) | 0b00_1111);
        assert_eq!(esr.class(), ExceptionClass::DataAbortSame);
        let abort = esr.abort().unwrap();
        assert_eq!(abort.kind, FaultKind::Permission);
        assert_eq!(abort.level, Some(3));
        assert!(abort.write);
        assert!(abort.far_valid);
        let text = std::format!("{esr}");
        assert!(
            text.starts_with("data abort: permission fault at level 3, on write"),
            "{text}"
        );
    }

    #[test]
    fn decodes_instruction_aborts_and_svc() {
        let fetch = Syndrome((0x20 << 26) | 0b00_0101);
        assert_eq!(fetch.abort().unwrap().kind, FaultKind::Translation);
        assert!(!fetch.abort().unwrap().write);
        let svc = Syndrome((0x15 << 26) | 7);
        assert_eq!(svc.immediate(), Some(7));
        assert_eq!(svc.abort(), None);
        assert!(std::format!("{svc}").starts_with("system call #7"));
        assert_eq!(Syndrome(0x3f << 26).class(), ExceptionClass::Other(0x3f));
        assert_eq!(
            Syndrome((0x25 << 26) | 0b10_0001).abort().unwrap().kind,
            FaultKind::Alignment
        );
    }

    #[test]
    fn every_value_formats() {
        for ec in 0..64u64 {
            for iss in [0u64, 0x3f, 0x40, 0x400, 0x1ff_ffff] {
                let _ = std::format!("{}", Syndrome((ec << 26) | iss));
            }
        }
    }
}
