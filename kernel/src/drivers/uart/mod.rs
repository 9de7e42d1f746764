//! Console UARTs: the kinds device trees name as `stdout-path` on our boards.
//!
//! The boot loader has already set the line up (baud rate, framing), so these drivers only move
//! bytes; they never reprogram the clock.

mod bcm2835_aux;
mod ns16550;
mod pl011;

use nimbus_board::UartKind;

/// A UART the kernel can drive.
pub enum Uart {
    /// Arm PrimeCell PL011 (QEMU virt, Raspberry Pi serial0).
    Pl011(pl011::Pl011),
    /// 16550-compatible, including Synopsys DesignWare APB (Allwinner phones).
    Ns16550(ns16550::Ns16550),
    /// The Raspberry Pi's mini-UART.
    Bcm2835Aux(bcm2835_aux::Bcm2835Aux),
}

impl Uart {
    /// The driver for a UART of `kind` whose registers are mapped at `base`, if we have one.
    ///
    /// # Safety
    ///
    /// `base` must map the UART's registers as device memory for the life of the kernel, and
    /// nothing else may drive them.
    pub unsafe fn new(kind: &UartKind, base: usize) -> Option<Self> {
        // SAFETY: forwarded from our caller.
        unsafe {
            match *kind {
                UartKind::Pl011 => Some(Self::Pl011(pl011::Pl011::new(base))),
                UartKind::Ns16550 {
                    reg_shift,
                    reg_io_width,
                } => ns16550::Ns16550::new(base, reg_shift, reg_io_width).map(Self::Ns16550),
                UartKind::Bcm2835Aux => Some(Self::Bcm2835Aux(bcm2835_aux::Bcm2835Aux::new(base))),
                _ => None,
            }
        }
    }

    /// Sends one byte, waiting for room in the transmitter.
    pub fn write_byte(&mut self, byte: u8) {
        match self {
            Self::Pl011(u) => u.write_byte(byte),
            Self::Ns16550(u) => u.write_byte(byte),
            Self::Bcm2835Aux(u) => u.write_byte(byte),
        }
    }

    /// A received byte, if one is waiting.
    pub fn read_byte(&mut self) -> Option<u8> {
        match self {
            Self::Pl011(u) => u.read_byte(),
            Self::Ns16550(u) => u.read_byte(),
            Self::Bcm2835Aux(u) => u.read_byte(),
        }
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}
