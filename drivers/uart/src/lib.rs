//! Console UARTs: the kinds device trees name as `stdout-path` on our boards.
//!
//! The boot loader has already set the line up (baud rate, framing), so these drivers only move
//! bytes; they never reprogram the clock. The kernel uses them for its early console, and the
//! console server, which takes the UART over once userland runs, uses the same code through its
//! own mapping of the registers.

#![no_std]

mod bcm2835_aux;
pub mod mmio;
mod ns16550;
mod pl011;

/// Which register layout a UART has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartKind {
    /// Arm PL011.
    Pl011,
    /// 16550-compatible with registers `1 << reg_shift` apart, accessed `reg_io_width` bytes wide.
    Ns16550 {
        /// log2 of the register stride.
        reg_shift: u8,
        /// Access width (1 or 4).
        reg_io_width: u8,
    },
    /// BCM2835 auxiliary mini-UART.
    Bcm2835Aux,
}

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

    /// Turns the receive interrupt on (the line stays asserted while received bytes wait).
    pub fn enable_rx_interrupt(&mut self) {
        match self {
            Self::Pl011(u) => u.enable_rx_interrupt(),
            Self::Ns16550(u) => u.enable_rx_interrupt(),
            Self::Bcm2835Aux(u) => u.enable_rx_interrupt(),
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
