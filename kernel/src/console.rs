//! The kernel console: the UART named by the device tree's `stdout-path`.
//!
//! One lock serialises output from every CPU (lines never interleave). It is taken with IRQs
//! masked so an interrupt handler that prints cannot deadlock against the code it interrupted.
//! Fatal paths use [`emergency_print`], which breaks the lock if its holder never lets go.
//!
//! Once userland's console server takes the UART over ([`release`]), kernel output goes to a
//! ring buffer the server drains and prints, so two writers never share the line. Fatal
//! messages still go straight to the UART: they matter more than tidiness.

use crate::arch::aarch64::cpu::IrqGuard;
use crate::drivers::uart::Uart;
use crate::sync::Mutex;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

static CONSOLE: Mutex<Option<Uart>> = Mutex::new(None);
static READY: AtomicBool = AtomicBool::new(false);
static RELEASED: AtomicBool = AtomicBool::new(false);
/// Kernel output since the console was released, oldest first (the oldest is dropped when full).
static LOG: Mutex<heapless::Deque<u8, LOG_CAPACITY>> = Mutex::new(heapless::Deque::new());
const LOG_CAPACITY: usize = 16 * 1024;

struct LogWriter<'a>(&'a mut heapless::Deque<u8, LOG_CAPACITY>);

impl Write for LogWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if self.0.is_full() {
                self.0.pop_front();
            }
            let _ = self.0.push_back(byte);
        }
        Ok(())
    }
}

/// Hands the UART to userland: from now on kernel output is buffered for [`drain_log`].
pub fn release() {
    let _irqs = IrqGuard::new();
    let _console = CONSOLE.lock();
    RELEASED.store(true, Ordering::Release);
}

/// Moves buffered kernel output into `out`; returns how many bytes.
pub fn drain_log(out: &mut [u8]) -> usize {
    let _irqs = IrqGuard::new();
    let mut log = LOG.lock();
    let mut n = 0;
    while n < out.len() {
        match log.pop_front() {
            Some(byte) => {
                out[n] = byte;
                n += 1;
            }
            None => break,
        }
    }
    n
}

/// Writes raw bytes (from a user process's DebugWrite), replacing what is not printable text.
pub fn write_bytes(bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        let text: &str = chunk.valid();
        let clean = text
            .chars()
            .all(|c| c == '\n' || c == '\t' || !c.is_control());
        if clean {
            print(format_args!("{text}"));
        } else {
            for c in text.chars() {
                if c == '\n' || c == '\t' || !c.is_control() {
                    print(format_args!("{c}"));
                }
            }
        }
        if !chunk.invalid().is_empty() {
            print(format_args!("\u{fffd}"));
        }
    }
}

/// Makes `uart` the console.
pub fn install(uart: Uart) {
    *CONSOLE.lock() = Some(uart);
    READY.store(true, Ordering::Release);
}

/// Whether a console is installed.
pub fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Prints formatted text (the `kprint!` macros call this).
pub fn print(args: fmt::Arguments<'_>) {
    let _irqs = IrqGuard::new();
    if RELEASED.load(Ordering::Acquire) {
        let _ = LogWriter(&mut LOG.lock()).write_fmt(args);
        return;
    }
    if let Some(uart) = CONSOLE.lock().as_mut() {
        // Writing to a UART cannot fail.
        let _ = uart.write_fmt(args);
    }
}

/// Prints even if another CPU (or this one, interrupted) holds the console lock.
pub fn emergency_print(args: fmt::Arguments<'_>) {
    for _ in 0..1_000_000 {
        if let Some(mut console) = CONSOLE.try_lock() {
            if let Some(uart) = console.as_mut() {
                let _ = uart.write_fmt(args);
            }
            return;
        }
        core::hint::spin_loop();
    }
    // SAFETY: the holder has not released the lock in a long time: it is stuck or it is the
    // code this fatal path interrupted. Garbled output beats silence when the kernel is dying.
    unsafe { CONSOLE.force_unlock() };
    if let Some(uart) = CONSOLE.lock().as_mut() {
        let _ = uart.write_fmt(args);
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
