//! Page tables for user address spaces: 39-bit VAs, 4 KiB pages, three levels.
//!
//! The kernel's own tables use the aarch64-paging crate. User tables are separate because every
//! table page a process causes to exist is charged to its quota, so allocating a table must be
//! able to fail cleanly (aarch64-paging's `Translation::allocate_table` cannot). The logic works
//! on physical addresses through [`TableMemory`], so it runs on the host in tests; TLB
//! maintenance is the caller's job.

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Page size.
pub const PAGE: u64 = 4096;
/// Exclusive end of the user address range.
pub const USER_END: u64 = 1 << 39;

const VALID: u64 = 1 << 0;
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_DEVICE: u64 = 0 << 2;
const ATTR_NORMAL: u64 = 1 << 2;
const AP_EL0: u64 = 1 << 6;
const AP_READ_ONLY: u64 = 1 << 7;
const SH_INNER: u64 = 3 << 8;
const AF: u64 = 1 << 10;
const NOT_GLOBAL: u64 = 1 << 11;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Where table pages come from and how to reach them.
pub trait TableMemory {
    /// A zeroed page for a table, or `None` if memory or quota is exhausted.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Gives back a table page.
    fn free_table(&mut self, pa: u64);
    /// The table at physical address `pa`.
    fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES];
}

/// How a user page may be accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFlags {
    /// EL0 may write.
    pub write: bool,
    /// EL0 may execute.
    pub execute: bool,
    /// Device memory (MMIO) rather than normal cacheable memory.
    pub device: bool,
}

impl PageFlags {
    /// Read-only data.
    pub const READ: Self = Self {
        write: false,
        execute: false,
        device: false,
    };
    /// Read-write data.
    pub const READ_WRITE: Self = Self {
        write: true,
        execute: false,
        device: false,
    };
    /// Code.
    pub const EXECUTE: Self = Self {
        write: false,
        execute: true,
        device: false,
    };

    fn descriptor(self, pa: u64) -> u64 {
        let mut d = (pa & ADDRESS_MASK) | VALID | TABLE_OR_PAGE | AP_EL0 | AF | NOT_GLOBAL | PXN;
        d |= if self.device {
            ATTR_DEVICE
        } else {
            ATTR_NORMAL | SH_INNER
        };
        if !self.write {
            d |= AP_READ_ONLY;
        }
        if !self.execute || self.device {
            d |= UXN;
        }
        d
    }

    fn from_descriptor(d: u64) -> Self {
        Self {
            write: d & AP_READ_ONLY == 0,
            execute: d & UXN == 0,
            device: d & (7 << 2) == ATTR_DEVICE,
        }
    }
}

/// Why a mapping was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// The address is not page aligned or not in the user range.
    BadAddress,
    /// Writable and executable at once (W^X).
    WriteAndExecute,
    /// Something is mapped there already.
    AlreadyMapped,
    /// No memory (or quota) for a table.
    OutOfMemory,
}

/// A user address space's tables.
#[derive(Debug)]
pub struct PageTable {
    root: u64,
    tables: usize,
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * (2 - level))) & 0x1ff) as usize
}

fn is_user_page(va: u64) -> bool {
    va.is_multiple_of(PAGE) && va < USER_END
}

impl PageTable {
    /// An empty address space.
    pub fn new(mem: &mut impl TableMemory) -> Option<Self> {
        Some(Self {
            root: mem.alloc_table()?,
            tables: 1,
        })
    }

    /// Physical address of the root table (for TTBR0).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Table pages in use (charged to the owner).
    pub fn table_count(&self) -> usize {
        self.tables
    }

    /// The level-3 table covering `va`, creating levels on the way if `create`.
    fn leaf_table(
        &mut self,
        mem: &mut impl TableMemory,
        va: u64,
        create: bool,
    ) -> Result<Option<u64>, MapError> {
        let mut table = self.root;
        for level in 0..2 {
            let slot = index(va, level);
            let entry = mem.table(table)[slot];
            table = if entry & VALID != 0 {
                entry & ADDRESS_MASK
            } else if create {
                let next = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                self.tables += 1;
                mem.table(table)[slot] = next | VALID | TABLE_OR_PAGE;
                next
            } else {
                return Ok(None);
            };
        }
        Ok(Some(table))
    }

    /// Maps the page at `va` to the frame at `pa`.
    pub fn map(
        &mut self,
        mem: &mut impl TableMemory,
        va: u64,
        pa: u64,
        flags: PageFlags,
    ) -> Result<(), MapError> {
        if !is_user_page(va) || !pa.is_multiple_of(PAGE) || pa & !ADDRESS_MASK != 0 {
            return Err(MapError::BadAddress);
        }
        if flags.write && flags.execute {
            return Err(MapError::WriteAndExecute);
        }
        let leaf = self
            .leaf_table(mem, va, true)?
            .ok_or(MapError::OutOfMemory)?;
        let slot = &mut mem.table(leaf)[index(va, 2)];
        if *slot & VALID != 0 {
            return Err(MapError::AlreadyMapped);
        }
        *slot = flags.descriptor(pa);
        Ok(())
    }

    /// Whether the page at `va` is mapped.
    pub fn is_mapped(&self, mem: &mut impl TableMemory, va: u64) -> bool {
        self.translate(mem, va).is_some()
    }

    /// Removes the mapping of the page at `va`; returns the frame it mapped.
    pub fn unmap(&mut self, mem: &mut impl TableMemory, va: u64) -> Option<u64> {
        if !is_user_page(va) {
            return None;
        }
        let leaf = self.leaf_table(mem, va, false).ok()??;
        let slot = &mut mem.table(leaf)[index(va, 2)];
        if *slot & VALID == 0 {
            return None;
        }
        let pa = *slot & ADDRESS_MASK;
        *slot = 0;
        Some(pa)
    }

    /// The frame and permissions behind the user address `va` (any byte of the page).
    pub fn translate(&self, mem: &mut impl TableMemory, va: u64) -> Option<(u64, PageFlags)> {
        if va >= USER_END {
            return None;
        }
        let mut table = self.root;
        for level in 0..2 {
            let entry = mem.table(table)[index(va, level)];
            if entry & VALID == 0 {
                return None;
            }
            table = entry & ADDRESS_MASK;
        }
        let entry = mem.table(table)[index(va, 2)];
        if entry & VALID == 0 {
            return None;
        }
        Some((
            (entry & ADDRESS_MASK) | (va % PAGE),
            PageFlags::from_descriptor(entry),
        ))
    }

    /// Frees every table. Mapped frames are not touched: they belong to memory objects.
    pub fn destroy(self, mem: &mut impl TableMemory) {
        let root = self.root;
        for l1 in 0..ENTRIES {
            let e1 = mem.table(root)[l1];
            if e1 & VALID == 0 {
                continue;
            }
            let l2_table = e1 & ADDRESS_MASK;
            for l2 in 0..ENTRIES {
                let e2 = mem.table(l2_table)[l2];
                if e2 & VALID != 0 {
                    mem.free_table(e2 & ADDRESS_MASK);
                }
            }
            mem.free_table(l2_table);
        }
        mem.free_table(root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct FakeMemory {
        tables: HashMap<u64, Box<[u64; ENTRIES]>>,
        next: u64,
        limit: usize,
        freed: usize,
    }

    impl TableMemory for FakeMemory {
        fn alloc_table(&mut self) -> Option<u64> {
            if self.tables.len() >= self.limit {
                return None;
            }
            self.next += PAGE;
            self.tables.insert(self.next, Box::new([0; ENTRIES]));
            Some(self.next)
        }
        fn free_table(&mut self, pa: u64) {
            assert!(
                self.tables.remove(&pa).is_some(),
                "double free of table {pa:#x}"
            );
            self.freed += 1;
        }
        fn table(&mut self, pa: u64) -> &mut [u64; ENTRIES] {
            self.tables.get_mut(&pa).expect("not a table")
        }
    }

    fn memory(limit: usize) -> FakeMemory {
        FakeMemory {
            limit,
            next: 0x1000_0000,
            ..Default::default()
        }
    }

    #[test]
    fn maps_translates_and_unmaps() {
        let mut mem = memory(16);
        let mut pt = PageTable::new(&mut mem).unwrap();
        pt.map(&mut mem, 0x40_0000, 0x8000_0000, PageFlags::EXECUTE)
            .unwrap();
        pt.map(&mut mem, 0x7f_ffff_f000, 0x8000_1000, PageFlags::READ_WRITE)
            .unwrap();
        assert_eq!(
            pt.translate(&mut mem, 0x40_0123),
            Some((0x8000_0123, PageFlags::EXECUTE))
        );
        assert_eq!(
            pt.translate(&mut mem, 0x7f_ffff_fff8).unwrap().1,
            PageFlags::READ_WRITE
        );
        assert_eq!(pt.translate(&mut mem, 0x40_1000), None);
        assert_eq!(
            pt.map(&mut mem, 0x40_0000, 0x9000_0000, PageFlags::READ),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(pt.unmap(&mut mem, 0x40_0000), Some(0x8000_0000));
        assert_eq!(pt.unmap(&mut mem, 0x40_0000), None);
        assert_eq!(pt.table_count(), 5);
        pt.destroy(&mut mem);
        assert!(mem.tables.is_empty(), "tables leaked");
        assert_eq!(mem.freed, 5);
    }

    #[test]
    fn refuses_bad_requests() {
        let mut mem = memory(16);
        let mut pt = PageTable::new(&mut mem).unwrap();
        let rwx = PageFlags {
            write: true,
            execute: true,
            device: false,
        };
        assert_eq!(
            pt.map(&mut mem, 0x1000, 0x2000, rwx),
            Err(MapError::WriteAndExecute)
        );
        assert_eq!(
            pt.map(&mut mem, 0x1001, 0x2000, PageFlags::READ),
            Err(MapError::BadAddress)
        );
        assert_eq!(
            pt.map(&mut mem, USER_END, 0x2000, PageFlags::READ),
            Err(MapError::BadAddress)
        );
        assert_eq!(
            pt.map(&mut mem, 0x1000, 0x2001, PageFlags::READ),
            Err(MapError::BadAddress)
        );
        assert_eq!(
            pt.map(&mut mem, 0x1000, 1 << 50, PageFlags::READ),
            Err(MapError::BadAddress)
        );
        assert_eq!(pt.translate(&mut mem, u64::MAX), None);
        assert_eq!(pt.unmap(&mut mem, 0x1234), None);
        pt.destroy(&mut mem);
    }

    #[test]
    fn table_exhaustion_is_an_error_not_a_panic() {
        let mut mem = memory(2);
        let mut pt = PageTable::new(&mut mem).unwrap();
        assert_eq!(
            pt.map(&mut mem, 0x1000, 0x2000, PageFlags::READ),
            Err(MapError::OutOfMemory)
        );
        pt.destroy(&mut mem);
        assert!(mem.tables.is_empty());
    }

    #[test]
    fn descriptors_encode_permissions() {
        let code = PageFlags::EXECUTE.descriptor(0x1000);
        assert_eq!(code & UXN, 0);
        assert_ne!(code & PXN, 0, "user pages are never kernel-executable");
        assert_ne!(code & AP_READ_ONLY, 0);
        let data = PageFlags::READ_WRITE.descriptor(0x1000);
        assert_ne!(data & UXN, 0);
        assert_eq!(data & AP_READ_ONLY, 0);
        let mmio = PageFlags {
            write: true,
            execute: true,
            device: true,
        }
        .descriptor(0x1000);
        assert_ne!(mmio & UXN, 0, "device memory is never executable");
        for flags in [PageFlags::READ, PageFlags::READ_WRITE, PageFlags::EXECUTE] {
            assert_eq!(PageFlags::from_descriptor(flags.descriptor(0)), flags);
        }
    }
}
