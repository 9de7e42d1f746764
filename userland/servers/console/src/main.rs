//! The console server: owner of the serial console.
//!
//! It takes the UART over from the kernel (which from then on keeps its log in a buffer this
//! server drains and prints), prints every server's log lines, and runs a small shell on the
//! serial line, like `adb shell` on a phone: processes, kernel memory, log levels, stopping and
//! restarting servers, and commands other servers register.
//!
//! Two threads share the terminal behind one lock:
//! - the main thread runs the shell: it waits on the UART's interrupt (or a short timeout, to
//!   relay kernel output promptly), feeds received bytes to the line editor and runs commands;
//! - the service thread serves the `console` endpoint: raw log lines from the runtime's logger
//!   and the [`nimbus_protocols::console::Console`] protocol.
//!
//! The order at start matters: the kernel is asked to let go of the UART before this server
//! writes a byte, so the two never interleave on the line.

#![no_std]
#![no_main]

extern crate alloc;

mod service;
mod shell;
mod terminal;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::AtomicBool;
use nimbus_abi::Handle;
use nimbus_abi::info::CONTROL_RELEASE_CONSOLE;
use nimbus_abi::syscall::TIMEOUT_FOREVER;
use nimbus_console_core::registry::Registry;
use nimbus_rt::lock::Lock;
use nimbus_rt::{Start, sys};
use terminal::Terminal;

nimbus_rt::entry!(main);

/// Priority of the service thread: the console's own (its `priority` in system.toml, which is
/// also the most its threads may have), so neither thread can starve the other. Keep the two
/// equal.
const SERVICE_PRIORITY: u8 = 24;

/// What both threads share.
pub struct Console {
    /// The serial terminal.
    pub term: Lock<Terminal>,
    /// The system object (LOG, INFO and CONTROL).
    pub system: Handle,
    /// This server's name (the manifest's).
    pub name: String,
    /// Commands servers registered.
    pub commands: Lock<Registry<Handle>>,
    /// Server names by badge (server index + 1), learned from init.
    pub names: Lock<Vec<(u64, String)>>,
    /// A caller's name was not known: the shell thread should ask init again.
    pub names_wanted: AtomicBool,
}

impl Console {
    /// The name of the server whose handles carry `badge`, if known.
    pub fn name_of(&self, badge: u64) -> Option<String> {
        self.names
            .lock()
            .iter()
            .find(|(b, _)| *b == badge)
            .map(|(_, n)| n.clone())
    }
}

fn main(start: &Start) -> i32 {
    let Some(system) = start.handle("system") else {
        log::error!("no `system` handle: cannot take the console over");
        return 1;
    };
    let uart = match terminal::map_uart(start) {
        Ok(uart) => uart,
        Err(e) => {
            log::error!("{e}");
            return 1;
        }
    };
    // From here on the kernel buffers its output instead of printing it, and we print it.
    if let Err(e) = sys::system_control(system, CONTROL_RELEASE_CONSOLE, 0) {
        log::error!("the kernel did not hand the console over: {e}");
        return 1;
    }
    let console: &'static Console = Box::leak(Box::new(Console {
        term: Lock::new(Terminal::new(uart)),
        system,
        name: start.name().into(),
        commands: Lock::new(Registry::new()),
        names: Lock::new(Vec::new()),
        names_wanted: AtomicBool::new(true),
    }));
    console.term.lock().relay_kernel_log(system);

    match start.handle("serve.console") {
        Some(endpoint) => {
            if let Err(e) = nimbus_rt::thread::spawn(SERVICE_PRIORITY, None, move || {
                service::run(console, endpoint)
            }) {
                log::error!("cannot start the log service: {e}; only the shell runs");
            }
        }
        None => log::warn!("no `serve.console` endpoint: servers' log lines will not arrive"),
    }

    let input = match input_interrupt(start, console) {
        Ok(notification) => Some(notification),
        Err(e) => {
            log::warn!("no UART interrupt ({e}): polling for input");
            None
        }
    };
    shell::Shell::new(console, start.handle("init"), input).run()
}

/// Binds the UART's interrupt to a new notification and enables receive interrupts; returns
/// the notification and the interrupt.
fn input_interrupt(start: &Start, console: &Console) -> Result<(Handle, Handle), InputError> {
    let irq = start.handle("uart.0.irq").ok_or(InputError::NoIrq)?;
    let notification = sys::notification_create().map_err(InputError::Kernel)?;
    sys::irq_bind(irq, notification, shell::INPUT_BIT).map_err(InputError::Kernel)?;
    console.term.lock().enable_rx_interrupt();
    Ok((notification, irq))
}

/// Why input is polled rather than interrupt-driven.
#[derive(Debug, Clone, Copy)]
enum InputError {
    /// The start block has no `uart.0.irq`.
    NoIrq,
    /// The kernel refused the notification or the binding.
    Kernel(nimbus_abi::Error),
}

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoIrq => f.write_str("the start block has no uart.0.irq"),
            Self::Kernel(e) => write!(f, "{e}"),
        }
    }
}

/// Sleeps forever (a thread with nothing left to do, that must not end the process).
pub fn park() -> ! {
    loop {
        sys::sleep(TIMEOUT_FOREVER);
    }
}
