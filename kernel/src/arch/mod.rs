//! Architecture support. Only aarch64 exists; the rest of the kernel reaches the hardware
//! through the small interfaces re-exported here.

pub mod aarch64;
