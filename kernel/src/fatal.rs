//! Stopping the kernel when it cannot go on: a clear message on the console when there is one,
//! then an exit status for the host (semihosting, under QEMU) and a halt.
//!
//! Tools key on the `nimbus: fatal:` prefix and on the [`ExitStatus`] code.

use crate::arch::aarch64::{cpu, semihosting};
use crate::console;
use core::fmt;
use nimbus_boot::status::ExitStatus;

/// Prints `nimbus: fatal: <message>` if there is a console.
pub fn report(message: fmt::Arguments<'_>) {
    if console::is_ready() {
        console::emergency_print(format_args!("nimbus: fatal: {message}\n"));
    }
}

/// Prints a further line of a fatal report.
pub fn report_detail(message: fmt::Arguments<'_>) {
    if console::is_ready() {
        console::emergency_print(format_args!("{message}\n"));
    }
}

/// Ends the run with `status` (under QEMU) or halts this CPU (on hardware).
pub fn stop(status: ExitStatus) -> ! {
    semihosting::exit(status as u32);
    if console::is_ready() {
        console::emergency_print(format_args!("nimbus: halted ({})\n", status.describe()));
    }
    cpu::halt()
}

/// Reports `message` and stops with `status`.
pub fn fatal(status: ExitStatus, message: fmt::Arguments<'_>) -> ! {
    report(message);
    stop(status)
}

/// Stops with `status` and a message: `fatal!(ExitStatus::NoMemory, "no memory in {}", x)`.
#[macro_export]
macro_rules! fatal {
    ($status:expr, $($arg:tt)*) => { $crate::fatal::fatal($status, format_args!($($arg)*)) };
}
