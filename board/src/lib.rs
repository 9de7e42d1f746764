//! Nimbus platform discovery from a flattened device tree (FDT/DTB).
//!
//! Three users share this crate: the kernel at boot (before it has a heap),
//! the userland init task (finding devices by `compatible`), and
//! `cargo xtask dt-info` (printing what a DTB describes).
//!
//! # Design rules, and why
//!
//! * **`no_std`, no `alloc`.** The kernel calls [`discover`] before its heap
//!   exists, so every list is a fixed-capacity [`heapless::Vec`] (the `MAX_*`
//!   constants) and every string is a `&str` borrowed from the blob.
//!   Overflowing a list drops entries and says so in
//!   [`Platform::unsupported`]; it is never an error or a panic.
//! * **Never panic, never loop forever, on any input.** A boot loader bug or
//!   a corrupted copy must produce a message, not a dead board. The blob is
//!   therefore checked in layers: [`header::check`] looks only at the 40-byte
//!   header (the kernel calls it before trusting `totalsize`), then our own
//!   walker validates the whole structure block (tokens, lengths, string
//!   offsets, UTF-8, nesting, token order) with checked arithmetic. Our code
//!   uses no `unwrap`, `expect`, slice indexing or unchecked arithmetic on
//!   blob data (enforced by clippy lints in this crate), and every loop is
//!   bounded by the blob size or a fixed hop count.
//! * **Built on `fdt` 0.1.5, but only where it is safe.** `fdt` finds nodes
//!   and iterates children and properties. It is handed a blob only after
//!   validation has proved its internal `expect`s and `assert`s cannot fire.
//!   Property values (`reg`, `ranges`, `interrupts`, cells, strings) are
//!   decoded by our own checked code, because `fdt`'s helpers panic on bad
//!   cells and do not understand GIC interrupt specifiers.
//! * **Report, do not guess.** Things the kernel cannot use (a non-GIC
//!   interrupt controller, a UART without a driver, a disabled memory node)
//!   are listed as [`Unsupported`] notes in plain words.
//! * **Errors are enums with meaning.** [`DtError`] variants say what is
//!   wrong and where; `Display` gives a one-line message a person can act on.
//!
//! The optional `writer` feature adds an FDT builder/editor (uses `alloc`)
//! for tests and host tools.
//!
//! # Use at boot
//!
//! ```
//! # let blob: &[u8] = include_bytes!("../dtbs/virt-a53-smp2-512m.dtb");
//! // 1. Look at the 40-byte header only (x0 may not even point at a DTB).
//! let h = nimbus_board::header::check(&blob[..40])?;
//! // 2. Only now build a slice of `totalsize` bytes (the kernel does this from
//! //    the raw pointer) and read the platform into caller-owned storage.
//! let dtb = &blob[..h.totalsize as usize];
//! let mut platform = nimbus_board::Platform::new(); // a `static` in the kernel
//! nimbus_board::discover_into(dtb, &mut platform)?;
//! assert_eq!(platform.console.unwrap().regs.start, 0x0900_0000);
//! # Ok::<(), nimbus_board::DtError>(())
//! ```
//!
//! `Platform` is about 9 KiB; `discover_into` itself needs roughly 32 KiB of
//! stack in an unoptimised build and well under 16 KiB optimised.
//!
//! # About `fdt` 0.1.5
//!
//! Facts that shaped this crate (see `validate.rs` and `tree.rs`):
//! `Fdt::chosen()`, `cpus()`, `memory()` and `root()` `expect()` their node;
//! `cell_sizes()` and `Compatible::first()` panic on short or non-UTF-8
//! values; `skip_current_node` `assert!`s token order, so an `FDT_NOP`
//! between properties panics; `all_nodes()` panics past 63 levels;
//! `Fdt::find_node` falls back to `/aliases` recursively, so an alias that
//! names itself overflows the stack; `FDT_END` is defined as 5 instead of 9;
//! `interrupts()` only decodes 1 or 2 cells from the direct parent (so it
//! returns `None` for GIC devices); `chosen().stdout()` does not strip
//! `:options`. We call none of those helpers and validate before `Fdt::new`.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(feature = "writer")]
extern crate alloc;

mod cells;
mod chosen;
mod cpus;
pub mod devices;
mod error;
pub mod header;
mod interrupts;
pub mod json;
mod memory;
mod notes;
mod platform;
pub mod profiles;
mod summary;
mod tree;
mod validate;
#[cfg(feature = "writer")]
pub mod writer;

pub use cells::{PhysRange, Size};
pub use chosen::{Chosen, Uart, UartKind};
pub use cpus::{Conduit, Cpu, EnableMethod, Psci};
pub use error::DtError;
pub use header::HeaderInfo;
pub use interrupts::{InterruptController, Irq, Timer};
pub use memory::{MEMRESERVE, Reservation};
pub use notes::Unsupported;
pub use platform::{
    MAX_CPUS, MAX_FRAMEBUFFERS, MAX_MEMORY_RANGES, MAX_NOTES, MAX_RESERVATIONS, MAX_UARTS,
    MAX_VIRTIO, Platform, SimpleFramebuffer, VirtioMmio, discover, discover_into,
};
pub use validate::MAX_DEPTH;

/// Check a whole blob (header, reservation map, structure block) without
/// extracting anything. [`discover`] and [`devices::find_compatible`] do the
/// same check first; this is for tools that only want a verdict.
pub fn validate(dtb: &[u8]) -> Result<HeaderInfo, DtError> {
    validate::validate(dtb).map(|(h, _, _)| h)
}
