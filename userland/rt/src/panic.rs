//! A panic in a user program is reported through the log and ends the process with
//! [`crate::PANIC_EXIT_CODE`]; its supervisor sees the exit.

use crate::sys;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if !PANICKING.swap(true, Ordering::Relaxed) {
        log::error!("panicked: {info}");
    }
    sys::process_exit(crate::PANIC_EXIT_CODE)
}
