//! The few device drivers the kernel itself needs: the console UART. Every other device is
//! driven from userland.

pub mod mmio;
pub mod uart;
