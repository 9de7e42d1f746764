//! Logging: the `log` facade, printed as `<program>: LEVEL message`.
//!
//! A process that holds the system object's LOG right writes to the kernel console directly
//! (init, and early servers); the rest send their lines to the log endpoint they were given.

use crate::sys;
use core::fmt::Write;
use log::{LevelFilter, Log, Metadata, Record};
use nimbus_abi::ipc::MessageInfo;
use nimbus_abi::{Handle, ipc::IPC_DATA_SIZE};
use spin::Once;

/// Label of a log line sent to a log endpoint (data: the UTF-8 line).
pub const LOG_LINE_LABEL: u32 = 0x0000_4c4f;

/// Where lines go.
#[derive(Clone, Copy)]
pub enum Sink {
    /// The kernel console (needs LOG on the system object).
    Kernel(Handle),
    /// A log server's endpoint.
    Endpoint(Handle),
}

struct Logger {
    name: heapless::String<32>,
    sink: Sink,
}

static LOGGER: Once<Logger> = Once::new();

struct Line(heapless::String<256>);

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = Line(heapless::String::new());
        let _ = writeln!(
            line,
            "{}: {:<5} {}",
            self.name,
            record.level(),
            record.args()
        );
        write_line(self.sink, line.0.as_bytes());
    }

    fn flush(&self) {}
}

/// Sends one line to `sink`.
pub fn write_line(sink: Sink, bytes: &[u8]) {
    match sink {
        Sink::Kernel(system) => {
            let _ = sys::debug_write(system, bytes);
        }
        Sink::Endpoint(endpoint) => {
            let n = bytes.len().min(IPC_DATA_SIZE);
            let sent = crate::thread::with_ipc_buffer(|buffer| {
                buffer.data[..n].copy_from_slice(&bytes[..n]);
                sys::ipc_send(
                    endpoint,
                    MessageInfo::new(LOG_LINE_LABEL, n, 0),
                    [0; 4],
                    100_000_000,
                )
            });
            let _ = sent;
        }
    }
}

/// Installs the logger for program `name`.
pub fn init(name: &str, sink: Sink, level: LevelFilter) {
    let logger = LOGGER.call_once(|| {
        let mut short = heapless::String::new();
        for c in name.chars() {
            if short.push(c).is_err() {
                break;
            }
        }
        Logger { name: short, sink }
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// The sink the logger writes to, once initialised.
pub fn sink() -> Option<Sink> {
    LOGGER.get().map(|l| l.sink)
}
