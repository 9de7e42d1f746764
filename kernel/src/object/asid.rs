//! Address space identifiers: each live user address space has its own, so switching between
//! processes needs no TLB flush. ASID 0 tags the empty table CPUs use when idle.

use alloc::vec::Vec;

/// Hands out ASIDs.
pub struct AsidAllocator {
    used: Vec<u64>,
    limit: u32,
    next: u32,
}

impl AsidAllocator {
    /// An allocator with nothing handed out yet (sized by [`Self::configure`]).
    pub const fn new() -> Self {
        Self {
            used: Vec::new(),
            limit: 0,
            next: 1,
        }
    }

    /// Sizes the allocator for 8- or 16-bit ASIDs.
    pub fn configure(&mut self, sixteen_bits: bool) -> Result<(), ()> {
        self.limit = if sixteen_bits { 1 << 16 } else { 1 << 8 };
        let words = (self.limit / 64) as usize;
        self.used.try_reserve_exact(words).map_err(|_| ())?;
        self.used.resize(words, 0);
        if let Some(first) = self.used.first_mut() {
            *first |= 1; // ASID 0 is reserved
        }
        Ok(())
    }

    /// A free ASID, or `None` when all are in use.
    pub fn alloc(&mut self) -> Option<u16> {
        for step in 0..self.limit {
            let asid = (self.next + step) % self.limit;
            let (word, bit) = ((asid / 64) as usize, asid % 64);
            let slot = self.used.get_mut(word)?;
            if *slot & (1 << bit) == 0 {
                *slot |= 1 << bit;
                self.next = asid + 1;
                return u16::try_from(asid).ok();
            }
        }
        None
    }

    /// Returns an ASID (the caller has flushed its TLB entries).
    pub fn free(&mut self, asid: u16) {
        if asid == 0 {
            return;
        }
        let (word, bit) = (usize::from(asid / 64), asid % 64);
        if let Some(slot) = self.used.get_mut(word) {
            *slot &= !(1 << bit);
        }
    }
}
