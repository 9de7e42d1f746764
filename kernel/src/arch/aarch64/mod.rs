//! Everything architectural about AArch64: exception entry, the MMU registers, the generic timer,
//! the GIC, PSCI and semihosting.

pub mod cpu;
pub mod exceptions;
pub mod gic;
pub mod mmu;
pub mod probe;
pub mod psci;
pub mod semihosting;
pub mod timer;
pub mod user;
