//! The Nimbus user runtime.
//!
//! Every user program links it: it provides the entry point, typed system calls, a heap that
//! grows by mapping memory objects, threads with their IPC buffers, logging through the `log`
//! crate, and a panic handler that reports and exits. A program declares its entry with
//! [`entry!`]: `nimbus_rt::entry!(main);` where `fn main(start: &Start) -> i32`.

#![no_std]

extern crate alloc;

pub mod heap;
pub mod ipc;
pub mod lock;
pub mod logger;
#[cfg(target_os = "none")]
mod panic;
pub mod process;
pub mod start;
pub mod sys;
pub mod thread;

pub use nimbus_abi as abi;
pub use nimbus_abi::{Error, Handle, Rights};
pub use start::{RootStart, Start};

/// Exit code of a process whose Rust code panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// Declares the program's entry point.
///
/// `entry!(main)` for programs started by init (`fn main(&Start) -> i32`);
/// `entry!(root: main)` for the root task (`fn main(&RootStart) -> i32`).
#[macro_export]
macro_rules! entry {
    (root: $main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn _start(
            x0: u64,
            x1: u64,
            x2: u64,
            x3: u64,
            x4: u64,
            x5: u64,
            x6: u64,
            x7: u64,
        ) -> ! {
            $crate::start::run_root([x0, x1, x2, x3, x4, x5, x6, x7], $main)
        }
    };
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn _start() -> ! {
            $crate::start::run_program($main)
        }
    };
}
