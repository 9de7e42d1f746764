//! The serial port: mapping its registers from the start block, and the terminal on it that the
//! shell thread, the log service and the kernel-log relay share.
//!
//! Every write to the UART happens with the [`Terminal`] locked, so bytes of two lines never mix,
//! and kernel output is relayed before any other line is printed, so the log stays in order.

use nimbus_abi::Handle;
use nimbus_abi::info::INFO_KERNEL_LOG;
use nimbus_abi::layout::MAP_AREA;
use nimbus_abi::rights::{MAP_READ, MAP_WRITE};
use nimbus_console_core::Sink;
use nimbus_console_core::editor::Event;
use nimbus_console_core::screen::Screen;
use nimbus_console_core::text::Lines;
use nimbus_rt::{Start, sys};
use nimbus_uart::{Uart, UartKind};

/// Where the UART's registers are mapped.
const UART_VA: u64 = MAP_AREA;
/// Bytes one `INFO_KERNEL_LOG` call returns at most.
const KERNEL_LOG_CHUNK: usize = 512;
/// Empty polls after which an unfinished kernel line is printed anyway.
const PARTIAL_PATIENCE: u8 = 3;

/// Why the UART could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// The start block has no `uart.0.mmio` (or `uart.0.type`).
    NotGiven,
    /// `uart.0.type` names a UART this driver does not know, or bad register spacing.
    Unsupported(u32),
    /// The registers could not be mapped.
    Map(nimbus_abi::Error),
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotGiven => f.write_str("no UART in the start block (uart.0.mmio, uart.0.type)"),
            Self::Unsupported(kind) => write!(f, "unsupported UART (type {kind})"),
            Self::Map(e) => write!(f, "cannot map the UART's registers: {e}"),
        }
    }
}

/// Maps the UART the start block names and returns its driver.
pub fn map_uart(start: &Start) -> Result<Uart, UartError> {
    let mmio = start.handle("uart.0.mmio").ok_or(UartError::NotGiven)?;
    let code = start.value("uart.0.type").ok_or(UartError::NotGiven)?;
    let offset = u64::from(start.value("uart.0.offset").unwrap_or(0));
    let shift = start.value("uart.0.shift").unwrap_or(0);
    let width = start.value("uart.0.width").unwrap_or(4);
    let (kind, span) = match code {
        0 => (UartKind::Pl011, 0x1000),
        1 => {
            let reg_shift = u8::try_from(shift).map_err(|_| UartError::Unsupported(code))?;
            let reg_io_width = u8::try_from(width).map_err(|_| UartError::Unsupported(code))?;
            let kind = UartKind::Ns16550 {
                reg_shift,
                reg_io_width,
            };
            (kind, 8u64.checked_shl(shift).unwrap_or(0x1000))
        }
        2 => (UartKind::Bcm2835Aux, 0x44),
        other => return Err(UartError::Unsupported(other)),
    };
    let len = offset.saturating_add(span).div_ceil(4096).max(1) * 4096;
    sys::mem_map(Handle::NONE, mmio, UART_VA, 0, len, MAP_READ | MAP_WRITE)
        .map_err(UartError::Map)?;
    // SAFETY: the registers were just mapped at UART_VA (device memory: the kernel maps MMIO
    // objects that way) for as long as this process lives, and this process alone drives them
    // once the kernel has let go of the console, which the caller asks for before writing.
    unsafe { Uart::new(&kind, (UART_VA + offset) as usize) }.ok_or(UartError::Unsupported(code))
}

/// The UART as a byte sink.
struct Port(Uart);

impl Sink for Port {
    fn put(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0.write_byte(byte);
        }
    }
}

/// The serial terminal.
pub struct Terminal {
    port: Port,
    screen: Screen,
    kernel_lines: Lines,
    /// Polls that found no kernel output while part of a line waited.
    idle_polls: u8,
}

impl Terminal {
    /// A terminal on `uart`.
    pub fn new(uart: Uart) -> Self {
        Self {
            port: Port(uart),
            screen: Screen::new(),
            kernel_lines: Lines::new(),
            idle_polls: 0,
        }
    }

    /// Prints whatever the kernel logged since the last call.
    pub fn relay_kernel_log(&mut self, system: Handle) {
        let mut chunk = [0u8; KERNEL_LOG_CHUNK];
        let mut got_any = false;
        loop {
            let n = sys::system_info(system, INFO_KERNEL_LOG, &mut chunk).unwrap_or(0);
            let Some(bytes) = chunk.get(..n).filter(|b| !b.is_empty()) else {
                break;
            };
            got_any = true;
            let (screen, port) = (&mut self.screen, &mut self.port);
            self.kernel_lines
                .push(bytes, |line| screen.log_line(line, port));
        }
        // A line without its end (a program's text without a line break) is not held forever.
        if got_any || !self.kernel_lines.has_partial() {
            self.idle_polls = 0;
        } else {
            self.idle_polls = self.idle_polls.saturating_add(1);
            if self.idle_polls >= PARTIAL_PATIENCE {
                let (screen, port) = (&mut self.screen, &mut self.port);
                self.kernel_lines.flush(|line| screen.log_line(line, port));
                self.idle_polls = 0;
            }
        }
    }

    /// Prints one log line (kernel output first, to keep the order).
    pub fn log_line(&mut self, system: Handle, line: &[u8]) {
        self.relay_kernel_log(system);
        self.screen.log_line(line, &mut self.port);
    }

    /// Prints a command's output.
    pub fn output(&mut self, text: &str) {
        self.screen.output(text, &mut self.port);
    }

    /// Shows the prompt (if it is not shown).
    pub fn show_prompt(&mut self) {
        self.screen.show_prompt(&mut self.port);
    }

    /// Takes up to `max` received bytes from the UART.
    pub fn receive(&mut self, into: &mut alloc::vec::Vec<u8>, max: usize) {
        while into.len() < max {
            match self.port.0.read_byte() {
                Some(byte) => into.push(byte),
                None => break,
            }
        }
    }

    /// Feeds one received byte to the line editor.
    pub fn input(&mut self, byte: u8) -> Option<Event> {
        self.screen.input(byte, &mut self.port)
    }

    /// Turns the UART's receive interrupt on.
    pub fn enable_rx_interrupt(&mut self) {
        self.port.0.enable_rx_interrupt();
    }
}
