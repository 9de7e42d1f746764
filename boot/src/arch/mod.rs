//! Architecture-specific entry code.

pub mod aarch64;
