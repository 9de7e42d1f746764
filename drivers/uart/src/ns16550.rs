//! 16550-compatible UARTs, including the Synopsys DesignWare APB UART of Allwinner SoCs, whose
//! registers sit `1 << reg-shift` bytes apart and may need 32-bit access (`reg-io-width`).

use crate::mmio::Mmio;

const RBR_THR: usize = 0;
const IER: usize = 1;
const LSR: usize = 5;
const IER_RX_AVAILABLE: u8 = 1 << 0;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

pub struct Ns16550 {
    regs: Mmio,
    shift: u8,
    wide: bool,
}

impl Ns16550 {
    /// # Safety
    ///
    /// See [`super::Uart::new`].
    pub unsafe fn new(base: usize, reg_shift: u8, reg_io_width: u8) -> Option<Self> {
        if reg_shift > 4 || !matches!(reg_io_width, 1 | 4) {
            return None;
        }
        // SAFETY: our caller guarantees `base` maps the UART's registers.
        let regs = unsafe { Mmio::new(base) };
        Some(Self {
            regs,
            shift: reg_shift,
            wide: reg_io_width == 4,
        })
    }

    fn read(&self, reg: usize) -> u8 {
        let offset = reg << self.shift;
        if self.wide {
            self.regs.read32(offset) as u8
        } else {
            self.regs.read8(offset)
        }
    }

    fn write(&self, reg: usize, value: u8) {
        let offset = reg << self.shift;
        if self.wide {
            self.regs.write32(offset, value.into())
        } else {
            self.regs.write8(offset, value)
        }
    }

    pub fn write_byte(&mut self, byte: u8) {
        while self.read(LSR) & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        self.write(RBR_THR, byte);
    }

    pub fn enable_rx_interrupt(&mut self) {
        self.write(IER, IER_RX_AVAILABLE);
    }

    pub fn read_byte(&mut self) -> Option<u8> {
        (self.read(LSR) & LSR_DATA_READY != 0).then(|| self.read(RBR_THR))
    }
}
