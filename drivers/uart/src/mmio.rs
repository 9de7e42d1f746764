//! Volatile access to a block of memory-mapped registers.

/// A register block at a kernel virtual address mapped as device memory.
#[derive(Debug, Clone, Copy)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// # Safety
    ///
    /// `base` must be the kernel mapping (Device memory) of a register block that stays mapped
    /// for as long as this value is used, large enough for every offset passed in.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: the register exists and is mapped as device memory.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    /// Writes the 32-bit register at `offset`.
    pub fn write32(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: the register exists and is mapped as device memory.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Reads the 8-bit register at `offset`.
    pub fn read8(&self, offset: usize) -> u8 {
        // SAFETY: `new`'s contract: the register exists and is mapped as device memory.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u8) }
    }

    /// Writes the 8-bit register at `offset`.
    pub fn write8(&self, offset: usize, value: u8) {
        // SAFETY: `new`'s contract: the register exists and is mapped as device memory.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u8, value) }
    }
}
