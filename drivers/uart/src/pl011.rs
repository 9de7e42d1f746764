//! Arm PL011, through the `arm-pl011-uart` crate.

use arm_pl011_uart::{Interrupts, PL011Registers, UniqueMmioPointer};
use core::ptr::NonNull;

pub struct Pl011 {
    uart: arm_pl011_uart::Uart<'static>,
}

impl Pl011 {
    /// # Safety
    ///
    /// See [`super::Uart::new`].
    pub unsafe fn new(base: usize) -> Self {
        let regs = NonNull::new(base as *mut PL011Registers).unwrap_or(NonNull::dangling());
        // SAFETY: our caller guarantees `base` maps the PL011's registers exclusively.
        let regs = unsafe { UniqueMmioPointer::new(regs) };
        Self {
            uart: arm_pl011_uart::Uart::new(regs),
        }
    }

    pub fn write_byte(&mut self, byte: u8) {
        while self.uart.is_tx_fifo_full() {
            core::hint::spin_loop();
        }
        self.uart.write_word(byte);
    }

    pub fn read_byte(&mut self) -> Option<u8> {
        self.uart.read_word().ok().flatten()
    }

    pub fn enable_rx_interrupt(&mut self) {
        // Receive and receive-timeout: a single typed character raises the line too.
        self.uart
            .set_interrupt_masks(Interrupts::RXI | Interrupts::RTI);
    }
}
