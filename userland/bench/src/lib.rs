//! What the benchmark image's root task (`bench`) and the programs it starts (`bench-peer`,
//! `bench-exit`) share: the clock they time with, the system-call loops they time, and the
//! contract between the root task and a peer (start-block names, modes, the shared page).
//!
//! Everything is timed with the virtual counter, read from user mode (no system call in the
//! way). Under QEMU `-icount shift=0` one guest instruction is one virtual nanosecond, so a
//! counter tick (16 ns at QEMU virt's 62.5 MHz) is 16 instructions and the figures are counts of
//! instructions, identical from run to run. `cargo xtask bench` boots the image that way.

#![no_std]

pub mod counter;
pub mod peer;
pub mod raw;
