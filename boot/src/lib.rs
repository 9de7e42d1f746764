//! Bootloader to kernel hand-over for Nimbus.
//!
//! Everything about how a loader (QEMU `-kernel`, U-Boot `booti`, an Android boot image) starts
//! the kernel lives here: the arm64 `Image` header and entry code (assembly, aarch64 only), the
//! virtual memory layout the entry code sets up, and the boot archive that carries userland.
//! The layout, header and archive logic build on the host and are unit-tested there.

#![cfg_attr(not(test), no_std)]

pub mod archive;
pub mod header;
pub mod layout;
pub mod status;

#[cfg(all(feature = "entry", target_arch = "aarch64", target_os = "none"))]
pub mod arch;
