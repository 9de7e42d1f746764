//! The ABI the Nimbus kernel and userland share, in one place.
//!
//! A system call is `svc #0` with the call number in x8 and up to eight arguments in x0..x7.
//! On return x0 holds 0 or an [`Error`] code and x1..x7 hold results. IPC messages travel in
//! registers (a [`MessageInfo`] label and four words) with optional bytes and handles in the
//! calling thread's IPC buffer.
//!
//! Authority is nothing but handles: every call that touches an object names it by a
//! [`Handle`] whose [`Rights`] the kernel checks. Rights only shrink when a handle is duplicated,
//! minted or sent.

#![cfg_attr(not(test), no_std)]

pub mod error;
pub mod fault;
pub mod info;
pub mod ipc;
pub mod layout;
pub mod object;
pub mod quota;
pub mod rights;
pub mod start;
pub mod syscall;

pub use error::Error;
pub use ipc::{IpcBuffer, MessageInfo};
pub use object::{Handle, ObjectType};
pub use quota::Quota;
pub use rights::Rights;
pub use syscall::Syscall;
