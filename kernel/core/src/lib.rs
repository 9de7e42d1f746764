//! The parts of the Nimbus kernel that need no hardware.
//!
//! The kernel binary (`kernel/`) owns everything that touches registers, page tables in use and
//! exception levels. What is pure bookkeeping — address-range arithmetic, the physical frame
//! allocator, decoding exception syndromes — lives here so it is unit-tested on the host, the way
//! aarch64-paging tests its table logic with the hardware compiled out.

#![cfg_attr(not(test), no_std)]

pub mod esr;
pub mod frames;
pub mod handles;
pub mod list;
pub mod pagetable;
pub mod quota;
pub mod ranges;
pub mod slab;
