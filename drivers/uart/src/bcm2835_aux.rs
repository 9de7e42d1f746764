//! The BCM2835 auxiliary mini-UART (Raspberry Pi `serial1`). The device tree's `reg` points at
//! the AUX_MU_IO register; the line status register follows 0x14 bytes later.

use crate::mmio::Mmio;

const IO: usize = 0x00;
/// AUX_MU_IER: receive interrupt enable is bit 0.
const IER: usize = 0x04;
const LSR: usize = 0x14;
const LSR_DATA_READY: u32 = 1 << 0;
const LSR_TX_EMPTY: u32 = 1 << 5;

pub struct Bcm2835Aux {
    regs: Mmio,
}

impl Bcm2835Aux {
    /// # Safety
    ///
    /// See [`super::Uart::new`].
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: our caller guarantees `base` maps the mini-UART's registers.
        let regs = unsafe { Mmio::new(base) };
        Self { regs }
    }

    pub fn write_byte(&mut self, byte: u8) {
        while self.regs.read32(LSR) & LSR_TX_EMPTY == 0 {
            core::hint::spin_loop();
        }
        self.regs.write32(IO, byte.into());
    }

    pub fn enable_rx_interrupt(&mut self) {
        self.regs.write32(IER, 1);
    }

    pub fn read_byte(&mut self) -> Option<u8> {
        (self.regs.read32(LSR) & LSR_DATA_READY != 0).then(|| self.regs.read32(IO) as u8)
    }
}
